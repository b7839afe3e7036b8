"""Building a model from its arguments: the shared encoder and head arguments, declared once.

Every architecture (seg-decoders', seg-3d's, a third party's) takes the same
encoder and head arguments. They are declared here once, as the `TypedDict`
`ModelArgs` (= `EncoderArgs` + `HeadArgs`), with their defaults in
`MODEL_DEFAULTS` and their validation in `resolve_model_args`. An architecture's
``__init__`` then names only its own decoder arguments and takes the rest as
``**kwargs: Unpack[ModelArgs]`` (PEP 692): mypy and IDEs still check every keyword.

`SegmentationModel.build_encoder` and `SegmentationModel.build_heads` use the helpers
below, so every architecture maps its arguments to the encoder factory protocol and
sizes its head the same way.

Example:
    >>> from seg_core.building import resolve_model_args
    >>> args = resolve_model_args({"classes": 3}, owner="Demo")
    >>> args["encoder_depth"], args["classes"]
    (5, 3)
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from seg_core.errors import ConfigError
from seg_core.suggest import unexpected_arguments

if TYPE_CHECKING:
    from seg_core.activations import ActivationSpec
    from seg_core.encoder import EncoderMixin

__all__ = [
    "DEFAULT_ENCODER",
    "MODEL_DEFAULTS",
    "EncoderArgs",
    "HeadArgs",
    "ModelArgs",
    "build_encoder",
    "check_positive",
    "check_probability",
    "head_upsampling_factor",
    "rename_deprecated",
    "resolve_model_args",
]

#: Default encoder: seg-core's built-in CNN (timm is optional, so smp's resnet34 is not assumed).
DEFAULT_ENCODER = "basic_cnn"


class EncoderArgs(TypedDict, total=False):
    """The encoder arguments every architecture accepts (smp's keyword names).

    ``encoder_name`` (default ``"basic_cnn"``; smp: ``"resnet34"``, available with
    seg-encoders-timm) is every architecture's first, positional-or-keyword argument.

    Attributes:
        encoder_depth: Number of encoder levels used (default 5; some architectures differ).
        encoder_weights: Pretrained weights name or a local weights file (None: random).
        in_channels: Input channels (default 3).
        encoder_output_stride: Dilate the encoder to 8 or 16 (None: no dilation).
        encoder_indices: Which backbone maps to use (adapter encoders): ``"auto"`` or indices.
        encoder_channels: Project the encoder maps to these widths (adapter encoders).
        encoder_strides: One stride per encoder level, an int or one per spatial axis (e.g.
            ``((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))`` for thick-slice volumes);
            None: the encoder's own (2 on every axis). Encoders that accept ``strides``: seg-core's
            ``basic_cnn`` and every seg-3d encoder.
        encoder_params: The encoder's own keyword arguments (e.g. ``{"spatial_dims": 3}``);
            they must not repeat the options above.
    """

    encoder_depth: int
    encoder_weights: str | None
    in_channels: int
    encoder_output_stride: int | None
    encoder_indices: str | Sequence[int] | None
    encoder_channels: Sequence[int] | None
    encoder_strides: Sequence[int | Sequence[int]] | None
    encoder_params: dict[str, Any] | None


class HeadArgs(TypedDict, total=False):
    """The head arguments every architecture accepts.

    Attributes:
        classes: Output channels (default 1).
        activation: Output activation: a name (``"sigmoid"``, ``"softmax2d"``...), a module,
            a class or a function (default None: logits).
        aux_params: Classification head on the deepest encoder map (``{"classes": 4, ...}``).
        head_upsampling: Head upsampling factor, an int or one per axis; None (default) is
            automatic: the output has the input size. A value that makes the output size differ
            from the input size warns (``UserWarning``; code ported from TorchSeg sets
            ``head_upsampling=2`` for stride-4 encoders, which seg does not need).
        input_padding: Pad inputs to a valid size and crop the output back (default False).
        deep_supervision: Add a 1x1 segmentation head on every decoder stage but the last, or on
            the aux towers (architectures whose decoder has them: Unet, Unet++, DeepLab's and
            FCN's aux classifier, BiSeNet, SFNet, SFNet-Lite); in training mode, or with
            ``model.return_aux = True``, ``forward`` then returns ``{"out": masks,
            "deep_supervision": [finest, ..., coarsest]}`` (lower-resolution logits, as nnU-Net),
            which seg-train's ``deep_supervision`` loss takes. Default False.
        checkpointing: Activation checkpointing on the encoder levels and decoder blocks that
            support it (seg-3d's encoders; the Unet and MAnet decoders): their activations are
            recomputed in the backward pass instead of kept, trading compute for memory on large
            volumes. Outputs, gradients and batch-norm statistics are unchanged. Default False.
    """

    classes: int
    activation: ActivationSpec
    aux_params: dict[str, Any] | None
    head_upsampling: int | Sequence[int] | None
    input_padding: bool
    deep_supervision: bool
    checkpointing: bool


class ModelArgs(EncoderArgs, HeadArgs, total=False):
    """`EncoderArgs` and `HeadArgs`: what ``**kwargs: Unpack[ModelArgs]`` accepts."""


#: The defaults of `ModelArgs` (an architecture may override some in its `ArchitectureSpec`).
MODEL_DEFAULTS: dict[str, Any] = {
    "encoder_depth": 5,
    "encoder_weights": None,
    "in_channels": 3,
    "encoder_output_stride": None,
    "encoder_indices": None,
    "encoder_channels": None,
    "encoder_strides": None,
    "encoder_params": None,
    "classes": 1,
    "activation": None,
    "aux_params": None,
    "head_upsampling": None,
    "input_padding": False,
    "deep_supervision": False,
    "checkpointing": False,
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive(name: str, value: Any) -> None:
    """Require an int >= 1 for the argument ``name``.

    Raises:
        ConfigError: Naming the argument and the value.
    """
    if not _is_int(value) or value < 1:
        raise ConfigError(f"{name} must be an int >= 1, got {value!r}")


def check_probability(name: str, value: Any) -> None:
    """Require a float in [0, 1) for the argument ``name``.

    Raises:
        ConfigError: Naming the argument and the value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{name} must be a float in [0, 1), got {value!r}")


def rename_deprecated(kwargs: Mapping[str, Any], renamed: Mapping[str, str], *, owner: str) -> dict[str, Any]:
    """Replace deprecated argument names in ``kwargs`` by their new names (with a ``DeprecationWarning``).

    `SegmentationModel` applies an architecture's declared
    `ArchitectureSpec.deprecated_arguments <seg_core.spec.ArchitectureSpec>` this way
    before its ``__init__`` runs.

    Args:
        kwargs: The keyword arguments as the caller passed them.
        renamed: Old name -> new name.
        owner: The class name (for messages).

    Returns:
        The keyword arguments with new names only.

    Raises:
        ConfigError: Both the old and the new name were passed.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     rename_deprecated({"upscale_mode": "nearest"}, {"upscale_mode": "decoder_interpolation"}, owner="PAN")
        {'decoder_interpolation': 'nearest'}
    """
    out = dict(kwargs)
    for old, new in renamed.items():
        if old not in out:
            continue
        if new in out:
            raise ConfigError(f"{owner}: pass either {new} or the deprecated {old}, not both")
        warnings.warn(f"{owner}: {old} is deprecated, use {new}", DeprecationWarning, stacklevel=4)
        out[new] = out.pop(old)
    return out


def resolve_model_args(
    kwargs: Mapping[str, Any],
    *,
    owner: str,
    defaults: Mapping[str, Any] | None = None,
    own_arguments: Iterable[str] = (),
) -> dict[str, Any]:
    """Complete and validate the shared arguments an architecture received as ``**kwargs``.

    Args:
        kwargs: What the caller passed besides the architecture's own arguments.
        owner: The architecture's class name (for messages).
        defaults: The architecture's own defaults for some `ModelArgs` (``encoder_depth=3``).
        own_arguments: The architecture's own argument names (suggested for typos too).

    Returns:
        Every `ModelArgs` key with its value.

    Raises:
        ConfigError: An unknown argument (with close matches) or an invalid value.
    """
    accepted = [*own_arguments, *MODEL_DEFAULTS]
    unknown = [k for k in kwargs if k not in MODEL_DEFAULTS]
    if unknown:
        raise ConfigError(unexpected_arguments(owner, unknown, accepted))
    args = {**MODEL_DEFAULTS, **(defaults or {}), **kwargs}
    for name in ("in_channels", "encoder_depth", "classes"):
        check_positive(name, args[name])
    for flag in ("input_padding", "deep_supervision", "checkpointing"):
        if not isinstance(args[flag], bool):
            raise ConfigError(f"{flag} must be True or False, got {args[flag]!r}")
    if args["encoder_params"] is not None and not isinstance(args["encoder_params"], dict):
        raise ConfigError(f"encoder_params must be a dict, got {type(args['encoder_params']).__name__}")
    if args["aux_params"] is not None and not isinstance(args["aux_params"], dict):
        raise ConfigError(f"aux_params must be a dict or None, got {type(args['aux_params']).__name__}")
    return args


def build_encoder(
    encoder_name: str,
    *,
    in_channels: int = 3,
    depth: int = 5,
    weights: Any = None,
    output_stride: int | None = None,
    indices: str | Sequence[int] | None = None,
    channels: Sequence[int] | None = None,
    strides: Sequence[int | Sequence[int]] | None = None,
    params: dict[str, Any] | None = None,
) -> EncoderMixin:
    """Build the encoder of an architecture from its ``encoder_*`` arguments.

    Every architecture calls this (through `SegmentationModel.build_encoder`), so the
    mapping from model arguments to the encoder factory protocol is the same
    everywhere: ``encoder_depth`` -> ``depth``, ``encoder_weights`` -> ``weights``,
    ``encoder_output_stride`` -> ``output_stride``, ``encoder_indices`` -> ``indices``,
    ``encoder_channels`` -> ``channels``, ``encoder_strides`` -> ``strides``, ``encoder_params`` -> the encoder's own
    keyword arguments. Options left at None are not passed, so simple encoders need
    not accept them.

    Returns:
        The encoder (an `EncoderMixin` module).

    Raises:
        ConfigError: Invalid values (an ``encoder_name`` that is not a non-empty string...), or
            options the encoder does not support.

    Example:
        >>> from seg_core.building import build_encoder
        >>> build_encoder("basic_cnn", depth=3).out_channels  # doctest: +SKIP
        (3, 32, 64, 128)
    """
    from seg_core.components import check_encoder_name, create_encoder

    check_encoder_name(encoder_name)
    check_positive("in_channels", in_channels)
    check_positive("encoder_depth", depth)
    if params is not None and not isinstance(params, dict):
        raise ConfigError(f"encoder_params must be a dict, got {type(params).__name__}")
    kwargs: dict[str, Any] = {"in_channels": in_channels, "depth": depth, "weights": weights}
    for key, value in (
        ("output_stride", output_stride), ("indices", indices), ("channels", channels), ("strides", strides)
    ):  # fmt: skip
        if value is not None:
            kwargs[key] = value
    clash = set(kwargs) & set(params or {})
    if clash:
        raise ConfigError(f"encoder_params must not repeat {sorted(clash)}; use the model's encoder_* arguments")
    kwargs.update(params or {})
    return create_encoder(encoder_name, **kwargs)


def head_upsampling_factor(
    requested: int | Sequence[int] | None, automatic: Sequence[int], spatial_dims: int
) -> tuple[int, ...]:
    """Per-axis upsampling of a segmentation head.

    Args:
        requested: ``head_upsampling`` (None: automatic).
        automatic: The encoder's per-axis reduction at the decoder's output level.
        spatial_dims: 2 or 3.

    Returns:
        One factor per axis.

    Raises:
        ConfigError: Not None, an int, or ``spatial_dims`` ints >= 1.
    """
    if requested is None:
        factor = tuple(int(v) for v in automatic)
    elif _is_int(requested):
        factor = (int(requested),) * spatial_dims  # type: ignore[arg-type]
    elif isinstance(requested, Sequence) and len(requested) == spatial_dims and all(map(_is_int, requested)):
        factor = tuple(int(v) for v in requested)
    else:
        raise ConfigError(f"head_upsampling must be None (automatic), an int or {spatial_dims} ints, got {requested!r}")
    if any(f < 1 for f in factor):
        raise ConfigError(f"head_upsampling must be >= 1, got {requested!r}")
    return factor
