"""``create_timm_encoder``: the encoder factory behind every timm name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from seg_core.errors import ConfigError, IncompatibleEncoderError, SegError
from seg_encoders_timm._names import parse_name
from seg_encoders_timm._probe import KIND_FEATURES, KIND_UNSUPPORTED, KIND_VIT
from seg_encoders_timm._weights import (
    check_tag,
    fetch_error,
    load_local_weights,
    local_file_error,
    offline_unless_reachable,
    resolve_weights,
)
from seg_encoders_timm.catalog import get_probe

__all__ = ["ADAPTERS", "create_timm_encoder"]

#: Accepted values of ``adapter``.
ADAPTERS = ("auto", "features", "vit")

_LOADS_WEIGHTS = (
    "it makes timm load or download weights itself; pass a local file as "
    "encoder_weights='/path/to/file.safetensors' (seg reads it with its weights_only loader and hands timm "
    "the tensors), or a pretrained tag as encoder_weights='<tag>'"
)

#: ``timm.create_model``/``build_model_with_cfg`` options the user may not pass (``encoder_params`` or
#: ``create_timm_encoder(**timm_kwargs)``): the ones seg sets itself, and every option that makes timm
#: read, download or cache a weights file (only seg reads weight files). Option -> what to use instead.
_RESERVED = {
    "features_only": "it is always set by the adapter",
    "in_chans": "use in_channels=",
    "out_indices": "use indices= (encoder_indices)",
    "output_stride": "use output_stride= (encoder_output_stride)",
    "num_classes": "encoders have no classifier",
    "pretrained": "use weights= (encoder_weights=True, a tag, or '/path/to/file.safetensors')",
    "pretrained_cfg": _LOADS_WEIGHTS,
    "pretrained_cfg_overlay": _LOADS_WEIGHTS,
    "checkpoint_path": _LOADS_WEIGHTS,
    "cache_dir": _LOADS_WEIGHTS + "; timm's download cache follows HF_HOME/TORCH_HOME",
    "pretrained_strict": 'to load a local file partially use encoder_params={"weights_strict": False}',
    "pretrained_filter_fn": _LOADS_WEIGHTS,
    "weights_only": "seg always reads weight files as safetensors or with torch.load(weights_only=True)",
}


def _check_int(arg: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f">= {low}"
        raise ConfigError(f"{arg} must be an int {span}, got {value!r}")


def create_timm_encoder(
    name: str,
    *,
    in_channels: int = 3,
    depth: int = 5,
    weights: Any = None,
    output_stride: int | None = None,
    indices: str | Sequence[int] | None = None,
    channels: Sequence[int] | None = None,
    adapter: str = "auto",
    scale_factors: Sequence[float] | None = None,
    norm: bool = True,
    weights_strict: bool = True,
    **timm_kwargs: Any,
) -> nn.Module:
    """Build a seg encoder from any timm model.

    Args:
        name: timm model name, bare or ``tu-`` prefixed, with or without a pretrained tag
            (``"convnext_tiny.fb_in22k"``).
        in_channels: Input channels (any count; pretrained stems are adapted RGBRGB...).
        depth: Pyramid depth, 1..5 (adjusted to the deepest selected map, logged at INFO).
        weights: None (random), True/``"imagenet"`` (timm's default or the name's tag),
            a timm tag, or a local ``.safetensors``/``.pth``/``.bin`` file (loaded offline).
        output_stride: 8 or 16 to dilate (models that support it), None/32 otherwise.
        indices: ``"first"``, ``"last"`` or explicit positions (feature maps, or ViT blocks).
        channels: Output channels per selected map, or per pyramid level with 0 at zero-channel
            levels (1x1 projections where they differ; both adapters).
        adapter: ``"auto"``, ``"features"`` (features_only pyramid) or ``"vit"`` (ViT taps).
        scale_factors: ViT adapter only: resize factor per tap (default from the patch size).
        norm: ViT adapter only: apply the final norm to tapped blocks.
        weights_strict: With a local weights file: True (default) refuses a file whose tensor names
            are not the timm model's (another architecture, a partial file); False loads the tensors
            that match, warns, and leaves the others randomly initialised. Shapes must always match.
        **timm_kwargs: Passed to ``timm.create_model`` (``act_layer``, ``img_size``,
            ``drop_path_rate``, ``dynamic_img_size``...). Options that make timm load weights
            (``checkpoint_path``, ``pretrained_cfg``, ``pretrained_cfg_overlay``, ``cache_dir``...)
            are refused: pass the weights as ``weights`` (``encoder_weights``).

    Returns:
        A :class:`~seg_encoders_timm.TimmUniversalEncoder` or :class:`~seg_encoders_timm.TimmViTEncoder`.

    Raises:
        ConfigError: Invalid arguments, named (a timm weights-loading option names the seg argument to use).
        IncompatibleEncoderError: The timm model offers no usable feature maps.
        CheckpointError: Weights cannot be fetched, or the local file is missing, unsafe to read,
            or does not fit the model (the file and the keys are named).

    Example:
        >>> from seg_encoders_timm import create_timm_encoder
        >>> enc = create_timm_encoder("tu-resnet18", depth=4)  # doctest: +SKIP
        >>> enc.out_channels  # doctest: +SKIP
        [3, 64, 64, 128, 256]
    """
    _check_int("in_channels", in_channels, 1)
    _check_int("encoder_depth", depth, 1, 5)
    if output_stride is not None and output_stride not in (8, 16, 32):
        raise ConfigError(f"encoder_output_stride must be None, 8, 16 or 32, got {output_stride!r}")
    if adapter not in ADAPTERS:
        raise ConfigError(f"adapter must be one of {ADAPTERS}, got {adapter!r}")
    if not isinstance(weights_strict, bool):
        raise ConfigError(f"weights_strict must be True or False, got {weights_strict!r}")
    for key in timm_kwargs:
        if key in _RESERVED:
            raise ConfigError(f"timm argument {key!r} cannot be passed through encoder_params: {_RESERVED[key]}")
    if ":" in name or "/" in name or "\\" in name:
        raise ConfigError(
            f"encoder_name={name!r}: timm model sources and paths (hf-hub:, local-dir:) are not supported, since "
            "timm would read their weights itself; use the timm model name and pass the weights file as "
            "encoder_weights='/path/to/file.safetensors'"
        )
    parsed = parse_name(name)
    plan = resolve_weights(parsed, weights)
    if plan.pretrained and plan.file is None:
        check_tag(plan)
    probe = get_probe(parsed.base, **timm_kwargs)
    kind = probe.kind
    if adapter == "features":
        if kind == KIND_VIT and probe.features is not None:
            probe, kind = probe.features, KIND_FEATURES
        elif kind != KIND_FEATURES:
            raise IncompatibleEncoderError(f"timm model {parsed.base!r} cannot be built with features_only=True")
    elif adapter == "vit" and kind != KIND_VIT:
        raise IncompatibleEncoderError(
            f"timm model {parsed.base!r} is not a plain transformer (no patch_embed/blocks with intermediates); "
            "use adapter='auto'"
        )
    if kind == KIND_UNSUPPORTED and timm_kwargs:
        raise ConfigError(
            f"timm model {parsed.base!r} cannot be built with the timm arguments {sorted(timm_kwargs)}: {probe.reason}"
        )
    if kind == KIND_UNSUPPORTED:
        raise IncompatibleEncoderError(
            f"timm model {parsed.base!r} cannot be used as a seg encoder: {probe.reason}. "
            "Pick another one with seg_encoders_timm.list_encoders()"
        )
    if kind != KIND_VIT and (scale_factors is not None or norm is not True):
        raise ConfigError(
            f"scale_factors/norm apply to plain transformers only; {parsed.base!r} has a CNN-like pyramid"
        )
    common: dict[str, Any] = {
        "in_channels": in_channels,
        "depth": depth,
        "indices": indices,
        "channels": channels,
        "output_stride": output_stride,
        "create_kwargs": {**plan.kwargs, **timm_kwargs},
    }
    try:
        if plan.file is not None:  # read and checked by seg before timm sees anything
            common["create_kwargs"].update(
                load_local_weights(plan, timm_kwargs, in_channels=in_channels, strict=weights_strict)
            )
        with offline_unless_reachable(plan):
            if kind == KIND_VIT:
                from seg_encoders_timm.vit import TimmViTEncoder

                return TimmViTEncoder(plan.model_name, info=probe, scale_factors=scale_factors, norm=norm, **common)
            from seg_encoders_timm.universal import TimmUniversalEncoder

            return TimmUniversalEncoder(plan.model_name, probe=probe, **common)
    except (SegError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if plan.file is not None:
            raise local_file_error(plan, exc) from exc
        if isinstance(exc, TypeError):
            raise
        if plan.pretrained:
            raise fetch_error(plan.model_name, exc) from exc
        raise
