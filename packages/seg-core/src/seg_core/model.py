"""The base class of every segmentation model: `SegmentationModel`."""

from __future__ import annotations

import functools
import inspect
import math
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from seg_core.callsite import INTERNAL_PACKAGES
from seg_core.errors import InputShapeError, faq_link

if TYPE_CHECKING:
    from seg_core.checkpoint import LoadReport
    from seg_core.encoder import EncoderMixin
    from seg_core.spec import ArchitectureSpec

__all__ = ["SegmentationModel", "is_tracing"]

_AXES = {1: ("length",), 2: ("height", "width"), 3: ("depth", "height", "width")}


def is_tracing() -> bool:
    """True under ``torch.jit`` tracing/scripting, ``torch.compile``/``torch.export`` or ONNX export."""
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling") and compiler.is_compiling():
        return True
    if torch.jit.is_scripting() or torch.jit.is_tracing():
        return True
    onnx = getattr(torch, "onnx", None)
    return bool(onnx is not None and hasattr(onnx, "is_in_onnx_export") and onnx.is_in_onnx_export())


def _is_ndarray(x: Any) -> bool:
    return type(x).__module__ == "numpy" and type(x).__name__ == "ndarray"


def _weights_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's first floating-point parameter (None without any)."""
    for param in model.parameters():
        if param.is_floating_point():
            return param.dtype
    return None


def _autocast_enabled(device_type: str) -> bool:
    try:
        return bool(torch.is_autocast_enabled(device_type))
    except (RuntimeError, ValueError, TypeError):  # a device type autocast does not know
        return False


def _layout_hint(shape: tuple[int, ...], dims: int, in_channels: int) -> str:
    """A hint for the usual layout mistakes: a missing batch axis, channels last."""
    if len(shape) == dims + 1:
        if shape[-1] == in_channels and shape[0] != in_channels:
            order = ", ".join(str(i) for i in (dims, *range(dims)))
            return f" (one channels-last image? use x.permute({order}).unsqueeze(0); numpy: x.transpose({order})[None])"
        return " (one image without the batch axis? use x.unsqueeze(0); numpy: x[None])"
    if len(shape) == dims + 2 and shape[-1] == in_channels and shape[1] != in_channels:
        order = ", ".join(str(i) for i in (0, dims + 1, *range(1, dims + 1)))
        return f" (channels-last? use x.permute({order}); numpy: x.transpose({order}))"
    return ""


def _caller_stacklevel(model: nn.Module) -> int | None:
    """The ``stacklevel`` that points a warning at the line that constructs ``model``.

    Counted from the function that calls ``warnings.warn``: skips the frames of ``model``'s
    constructors (the architecture, its bases, seg's wrapper) and of seg's own packages
    (``create_model``...).

    Returns:
        The level, or None when a loader builds the model (``from_pretrained``, ``from_smp``):
        its arguments come from a file, not from the caller's code.
    """
    frame: Any = sys._getframe(1)  # the function that calls warnings.warn (level 1)
    level = 1
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if module in _LOADERS or (module, frame.f_code.co_name) in _LOADERS:
            return None
        if frame.f_locals.get("self") is not model and not _in_seg_package(frame):
            return level
        frame = frame.f_back
        level += 1
    return 2


#: Modules and (module, function)s that rebuild saved or imported models: construction warnings
#: are not repeated for them.
_LOADERS: frozenset[Any] = frozenset(
    {"seg_core.checkpoint", "seg_decoders.smp_import", ("seg_core.architectures", "from_pretrained")}
)


def _in_seg_package(frame: Any) -> bool:
    top = str(frame.f_globals.get("__name__", "")).split(".")[0]
    if top not in INTERNAL_PACKAGES:
        return False
    root = os.path.dirname(str(getattr(sys.modules.get(top), "__file__", "") or ""))
    return bool(root) and str(frame.f_code.co_filename).startswith(root + os.sep)


def _record_init(init: Any) -> Any:
    @functools.wraps(init)
    def wrapper(self: SegmentationModel, *args: Any, **kwargs: Any) -> None:
        depth = self.__dict__.get("_seg_init_depth", 0)
        spec = type(self).spec
        if depth == 0 and spec is not None and spec.deprecated_arguments:
            from seg_core.building import rename_deprecated

            kwargs = rename_deprecated(kwargs, spec.deprecated_arguments, owner=type(self).__name__)
        object.__setattr__(self, "_seg_init_depth", depth + 1)
        try:
            init(self, *args, **kwargs)
        finally:
            object.__setattr__(self, "_seg_init_depth", depth)
        if depth == 0:
            bound = inspect.signature(init).bind(self, *args, **kwargs)
            bound.apply_defaults()
            config: dict[str, Any] = {}
            for name, value in list(bound.arguments.items())[1:]:
                param = inspect.signature(init).parameters[name]
                if param.kind is inspect.Parameter.VAR_KEYWORD:
                    config.update(value)
                elif param.kind is not inspect.Parameter.VAR_POSITIONAL:
                    config[name] = value
            config.update(self.__dict__.get("_model_args", {}))  # the shared arguments, defaults included
            object.__setattr__(self, "_init_config", config)

    return wrapper


class SegmentationModel(nn.Module):
    """Encoder, decoder, segmentation head and optional classification head.

    Subclasses build ``self.encoder`` (an `EncoderMixin`),
    ``self.decoder`` (called with the encoder's list of maps),
    ``self.segmentation_head`` and ``self.classification_head`` (or None), then
    call `initialize`. The constructor arguments are recorded
    automatically for `save_pretrained`.

    ``forward`` returns the masks, or ``(masks, labels)`` when an aux
    classification head exists (smp's convention).

    Class attributes:
        spec: The architecture's declaration (`seg_core.spec.ArchitectureSpec`, set by the
            `seg_core.spec.architecture` decorator): name, requirements, defaults...
        architecture_name: ``spec.name`` (derived by the decorator; None without a declaration).
        requires_divisible_input_shape: Whether inputs must divide by the output stride.

    Attributes:
        load_report: What `seg_core.from_pretrained` loaded (None for a fresh model).
    """

    spec: ClassVar[ArchitectureSpec | None] = None
    architecture_name: ClassVar[str | None] = None
    requires_divisible_input_shape: ClassVar[bool] = True
    load_report: LoadReport | None = None

    encoder: nn.Module
    decoder: nn.Module
    segmentation_head: nn.Module
    classification_head: nn.Module | None
    _init_config: dict[str, Any]
    _model_args: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _record_init(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(self) -> None:
        super().__init__()
        self.classification_head = None
        self.input_padding = False
        #: Return the extra outputs (deep supervision) in eval mode too (they always come in training mode).
        self.return_aux = False
        self.deep_supervision_heads: nn.ModuleList | None = None
        self._encoder_frozen = False
        self._pad_value = 0.0

    # -- construction helpers -------------------------------------------------
    def build_encoder(self, encoder_name: str, kwargs: Mapping[str, Any]) -> EncoderMixin:
        """Validate the shared arguments, build ``self.encoder`` and check it fits the declared requirements.

        Architectures call this first, with the ``**kwargs: Unpack[ModelArgs]`` they received.
        The completed arguments (defaults included) are recorded in `config`.

        Args:
            encoder_name: The registered encoder.
            kwargs: The `seg_core.building.ModelArgs` the architecture received (a typo is
                reported with close matches among these and the architecture's own arguments).

        Returns:
            The encoder.

        Raises:
            ConfigError: An unknown or invalid argument.
            IncompatibleEncoderError: The encoder cannot feed this architecture (from ``spec.requires``).

        Example:
            >>> encoder = self.build_encoder(encoder_name, kwargs)  # doctest: +SKIP
        """
        from seg_core.building import build_encoder, resolve_model_args
        from seg_core.errors import ConfigError
        from seg_core.spec import check_compatible

        spec = type(self).spec
        owner = type(self).__name__
        args = resolve_model_args(
            kwargs,
            owner=owner,
            defaults=spec.encoder_defaults if spec is not None else None,
            own_arguments=[n for n in inspect.signature(type(self).__init__).parameters if n not in ("self", "kwargs")],
        )
        allowed = spec.requires.output_strides if spec is not None else None
        if allowed is not None and args["encoder_output_stride"] not in allowed:
            raise ConfigError(
                f"{owner} supports encoder_output_stride {list(allowed)}, got {args['encoder_output_stride']!r}"
            )
        self._model_args = args
        encoder = build_encoder(
            encoder_name,
            in_channels=args["in_channels"],
            depth=args["encoder_depth"],
            weights=args["encoder_weights"],
            output_stride=args["encoder_output_stride"],
            indices=args["encoder_indices"],
            channels=args["encoder_channels"],
            strides=args["encoder_strides"],
            params=args["encoder_params"],
        )
        if spec is not None:
            check_compatible(spec, encoder.capabilities)
        if not isinstance(encoder, nn.Module):
            raise ConfigError(f"encoder {encoder_name!r} built a {type(encoder).__name__}, not a torch.nn.Module")
        self.encoder = encoder
        self.input_padding = args["input_padding"]
        return encoder

    def build_heads(
        self,
        decoder_channels: int,
        *,
        kernel_size: int,
        output_level: int,
        upsampling: int | Sequence[int] | None = None,
    ) -> None:
        """Build the segmentation head (and the aux head) for a decoder output at ``output_level``.

        Reads ``classes``, ``activation``, ``aux_params`` and ``head_upsampling`` from the
        arguments `build_encoder` recorded. With ``head_upsampling`` and ``upsampling`` both
        None, the head upsamples by the encoder's per-axis reduction at ``output_level``, so
        the output has the input size.

        Args:
            decoder_channels: Channels of the decoder output.
            kernel_size: The head convolution's kernel size.
            output_level: The pyramid level the decoder output is at.
            upsampling: smp's name for ``head_upsampling``, for architectures that keep it.

        Raises:
            ConfigError: Both ``head_upsampling`` and ``upsampling``, or an invalid factor.
        """
        from seg_core.building import head_upsampling_factor
        from seg_core.errors import ConfigError
        from seg_core.heads import ClassificationHead, SegmentationHead

        args = self._model_args
        encoder: Any = self.encoder
        dims = int(encoder.spatial_dims)
        if args["head_upsampling"] is not None and upsampling is not None:
            raise ConfigError("pass either head_upsampling or upsampling (its smp name), not both")
        requested = args["head_upsampling"] if upsampling is None else upsampling
        automatic = tuple(int(v) for v in encoder.axis_reductions[output_level])
        factor = head_upsampling_factor(requested, automatic, dims)
        if requested is not None and factor != automatic:
            name = "head_upsampling" if upsampling is None else "upsampling"
            ratio = [f / a for f, a in zip(factor, automatic)]
            scale = f"{ratio[0]:g}x" if len(set(ratio)) == 1 else "(" + ", ".join(f"{r:g}x" for r in ratio) + ")"
            level = _caller_stacklevel(self)
            if level is not None:
                warnings.warn(
                    f"{type(self).__name__}: {name}={requested!r} makes the output {scale} the input size (the "
                    f"decoder output is at reduction {automatic if len(set(automatic)) > 1 else automatic[0]}). "
                    f"seg already upsamples to the input size: remove {name} (None = automatic) unless you want "
                    "another output size",
                    UserWarning,
                    stacklevel=level,
                )
        self.segmentation_head = SegmentationHead(
            decoder_channels,
            args["classes"],
            kernel_size=kernel_size,
            activation=args["activation"],
            upsampling=factor,
            spatial_dims=dims,
        )
        if args["deep_supervision"]:
            self._build_deep_supervision_heads(args["classes"], dims)
        if args["checkpointing"]:
            self.set_checkpointing(True)
        aux = args["aux_params"]
        self.classification_head = (
            None
            if aux is None
            else ClassificationHead.from_aux_params(encoder.out_channels[-1], aux, spatial_dims=dims)
        )

    def set_checkpointing(self, enabled: bool = True) -> list[str]:
        """Turn activation checkpointing on or off for the encoder and decoder, where they support it
        (a ``checkpointing`` attribute: seg-3d's encoders, the Unet and MAnet decoders).

        Returns:
            The parts that support it (``"encoder"``, ``"decoder"``).

        Raises:
            ConfigError: Turning it on where neither part supports it.
        """
        from seg_core.errors import ConfigError

        parts = [n for n in ("encoder", "decoder") if hasattr(getattr(self, n, None), "checkpointing")]
        if enabled and not parts:
            raise ConfigError(
                f"{type(self).__name__} with encoder {getattr(self.encoder, 'registry_name', '?')!r} has no stage that "
                "supports checkpointing (seg-3d's encoders and the unet / manet decoders do)"
            )
        for name in parts:
            getattr(self, name).checkpointing = bool(enabled)
        return parts

    def _build_deep_supervision_heads(self, classes: int, dims: int) -> None:
        """A 1x1 convolution to ``classes`` on each decoder stage output but the last."""
        from seg_core.errors import ConfigError

        decoder = getattr(self, "decoder", None)
        channels = getattr(decoder, "deep_supervision_channels", None)
        if channels is None or not callable(getattr(decoder, "forward_stages", None)):
            raise ConfigError(
                f"{type(self).__name__} has no decoder stage outputs for deep_supervision=True; use an architecture "
                "whose decoder has them (e.g. unet), or deep_supervision=False"
            )
        conv = nn.Conv3d if dims == 3 else nn.Conv2d if dims == 2 else nn.Conv1d
        self.deep_supervision_heads = nn.ModuleList(conv(int(c), classes, 1) for c in channels)

    def initialize(self) -> None:
        """Initialise decoder and heads (the same scheme for every architecture)."""
        from seg_core.init import initialize_decoder, initialize_head

        initialize_decoder(self.decoder)
        initialize_head(self.segmentation_head)
        if self.classification_head is not None:
            initialize_head(self.classification_head)

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments this model was built with."""
        return dict(getattr(self, "_init_config", {}))

    @property
    def spatial_dims(self) -> int:
        """2 for images, 3 for volumes (from the encoder)."""
        return int(getattr(self.encoder, "spatial_dims", 2))

    @property
    def input_divisor(self) -> tuple[int, ...]:
        """Per-axis number that input sizes must be divisible by (the encoder's)."""
        declared = getattr(self.encoder, "input_divisor", None)
        if declared:
            return tuple(int(v) for v in declared)
        axis = getattr(self.encoder, "axis_reductions", None)
        if axis:
            return tuple(int(v) for v in axis[-1])
        stride = int(getattr(self.encoder, "output_stride", 32))
        return (stride,) * self.spatial_dims

    @property
    def min_input_size(self) -> tuple[int, ...]:
        """Smallest per-axis input size the model accepts (the encoder's; decoders may raise it)."""
        declared = getattr(self.encoder, "min_input_size", None)
        if declared:
            return tuple(int(v) for v in declared)
        return tuple(1 for _ in range(self.spatial_dims))

    # -- input checks ------------------------------------------------------------
    def check_input_shape(self, x: torch.Tensor) -> None:
        """Raise `InputShapeError` if ``x`` cannot be processed.

        Checks the type, the number of dimensions, the channels, the dtype (against the
        model's weights, unless autocast is on) and the spatial sizes (fixed input size,
        minimum size, divisibility). The message names the nearest valid padded size.
        Skipped while tracing, compiling or exporting.
        """
        self._check_input_layout(x)
        self._check_input_sizes(x)

    def _check_input_layout(self, x: Any) -> None:
        """Type, number of dimensions, channels and dtype: what padding cannot fix."""
        if not isinstance(x, torch.Tensor):
            hint = " (convert it with torch.from_numpy, or call model.predict(array))" if _is_ndarray(x) else ""
            raise InputShapeError(f"expected a torch.Tensor input, got {type(x).__name__}{hint}")
        dims = self.spatial_dims
        shape = tuple(x.shape)
        in_channels = int(getattr(self.encoder, "in_channels", shape[1] if x.dim() > 1 else 0))
        if x.dim() != dims + 2:
            layout = "(N, C, " + ", ".join(a[0].upper() for a in _AXES[dims]) + ")"
            raise InputShapeError(
                f"expected a {dims + 2}D input {layout}, got shape {shape}{_layout_hint(shape, dims, in_channels)}"
            )
        if shape[1] != in_channels:
            raise InputShapeError(
                f"input has {shape[1]} channels but the model was built with in_channels={in_channels} "
                f"(input shape {shape}){_layout_hint(shape, dims, in_channels)}; "
                f"see {faq_link('more-than-3-input-channels')}"
            )
        self._check_input_dtype(x)

    def _check_input_dtype(self, x: torch.Tensor) -> None:
        model_dtype = _weights_dtype(self)
        if not x.is_floating_point():
            conversion = "x.float() / 255" if x.dtype == torch.uint8 else "x.float()"
            raise InputShapeError(
                f"input has dtype {x.dtype} but the model computes in {model_dtype or 'floating point'}: "
                f"images must be floating point; convert them ({conversion}, then normalise as in training). "
                f"See {faq_link('input-errors')}"
            )
        if model_dtype is None or x.dtype == model_dtype or _autocast_enabled(x.device.type):
            return
        fixes = [f"convert the input (x.to({model_dtype}))"]
        if x.dtype in (torch.float16, torch.bfloat16):
            fixes.append(f"run the model under torch.autocast({x.device.type!r}, dtype={x.dtype}) for mixed precision")
        fixes.append(f"convert the model (model.to({x.dtype}))")
        raise InputShapeError(
            f"input has dtype {x.dtype} but the model's weights are {model_dtype}: "
            + ", ".join(fixes[:-1])
            + f" or {fixes[-1]}. See {faq_link('input-errors')}"
        )

    def _check_input_sizes(self, x: torch.Tensor) -> None:
        """Fixed input size, minimum size and divisibility (the last two are fixed by padding)."""
        dims = self.spatial_dims
        sizes = [int(s) for s in x.shape[2:]]
        names = _AXES[dims]
        got = ", ".join(f"{n}={s}" for n, s in zip(names, sizes))
        fixed = self._fixed_input_size()
        if fixed is not None and (
            any(s > f for s, f in zip(sizes, fixed)) if self.input_padding else tuple(sizes) != fixed
        ):
            hint = getattr(self.encoder, "_fixed_input_size_hint", None)
            padding = " or smaller (it is padded)" if self.input_padding else ""
            raise InputShapeError(
                f"Wrong input shape {got}: this model's encoder has a fixed input size and takes only {fixed}"
                f"{padding}. "
                + (hint or "Resize the input, or use an encoder without a fixed input size.")
                + f" See {faq_link('input-errors')}"
            )
        if self.input_padding:
            return
        small = [(n, s, m) for n, s, m in zip(names, sizes, self.min_input_size) if s < m]
        if small:
            need = ", ".join(f"{n} >= {m}" for n, _, m in small)
            raise InputShapeError(f"input is too small for this model: needs {need}, got {tuple(sizes)}")
        divisor = self.input_divisor if self.requires_divisible_input_shape else self._encoder_own_divisor()
        if all(s % d == 0 for s, d in zip(sizes, divisor)):
            return
        padded = tuple(math.ceil(s / d) * d for s, d in zip(sizes, divisor))
        div = divisor[0] if len(set(divisor)) == 1 else divisor
        raise InputShapeError(
            f"Wrong input shape {got}: each spatial size must be divisible by {div} "
            f"(the encoder's output stride, and patch size where it has one). Pad the input to {padded}, or call "
            f"model.predict(x, pad=True) / build the model with input_padding=True to pad "
            f"and crop automatically. See {faq_link('input-size-not-divisible-by-32')}"
        )

    def _fixed_input_size(self) -> tuple[int, ...] | None:
        fixed = getattr(self.encoder, "_fixed_input_size", None)
        return tuple(int(v) for v in fixed) if fixed else None

    def _encoder_own_divisor(self) -> tuple[int, ...]:
        """What the encoder itself needs (a ViT's patch size) when the decoder accepts any size."""
        own = getattr(self.encoder, "_input_divisor", None)
        if own is None:
            return (1,) * self.spatial_dims
        return (int(own),) * self.spatial_dims if isinstance(own, int) else tuple(int(v) for v in own)

    def _pad(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        sizes = tuple(int(s) for s in x.shape[2:])
        fixed = self._fixed_input_size()
        if fixed is not None:
            targets = [max(s, f) for s, f in zip(sizes, fixed)]
        else:
            targets = [max(math.ceil(s / d) * d, m) for s, d, m in zip(sizes, self.input_divisor, self.min_input_size)]
        if list(sizes) == targets:
            return x, sizes
        pad: list[int] = []
        for s, t in zip(reversed(sizes), reversed(targets)):
            pad += [0, t - s]
        return F.pad(x, pad, value=self._pad_value), sizes

    # -- forward -----------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> Any:
        """Run encoder, decoder and heads.

        Returns:
            Masks ``(N, classes, *spatial)``, or ``(masks, labels)`` with an aux head. With
            ``deep_supervision=True``, in training mode or with ``return_aux``: a dict ``{"out":
            masks, "deep_supervision": [logits per decoder stage, finest first]}`` (and ``"labels"``
            with an aux head).
        """
        crop: tuple[int, ...] | None = None
        if not is_tracing():
            self.check_input_shape(x)  # before padding: errors show the caller's shape
        if self.input_padding:
            x, crop = self._pad(x)
        features = self.encoder(x)
        extras: list[torch.Tensor] | None = None
        if self.deep_supervision_heads is not None and (self.training or self.return_aux):
            forward_stages: Any = self.decoder.forward_stages  # checked when the heads were built
            stages = forward_stages(features)
            decoder_output = stages[-1]
            extras = [head(s) for head, s in zip(self.deep_supervision_heads, stages[:-1])][::-1]
        else:
            decoder_output = self.decoder(features)
        masks = self.segmentation_head(decoder_output)
        if crop is not None and tuple(masks.shape[2:]) != crop:
            index = (Ellipsis, *[slice(0, s) for s in crop])
            masks = masks[index]
        labels = self.classification_head(features[-1]) if self.classification_head is not None else None
        if extras is not None:
            out = {"out": masks, "deep_supervision": extras}
            if labels is not None:
                out["labels"] = labels
            return out
        if labels is not None:
            return masks, labels
        return masks

    @torch.no_grad()
    def predict(self, x: torch.Tensor | Any, pad: bool = False) -> Any:
        """Inference: eval mode and ``torch.inference_mode``, then the previous mode is restored.

        Args:
            x: Input batch ``(N, C, *spatial)``: a tensor, or a numpy array (converted with
                ``torch.from_numpy``; floating arrays take the model's dtype and device).
            pad: Pad to a valid size internally and crop the output back, so any size works.

        Returns:
            What ``forward`` returns.

        Raises:
            InputShapeError: ``x`` has the wrong type, layout, channels, dtype or size
                (checked before padding, so the message shows ``x``'s own shape).
        """
        x = self._as_input_tensor(x)
        was_training = self.training
        previous_padding = self.input_padding
        self.eval()
        try:
            self.input_padding = previous_padding or pad
            with torch.inference_mode():
                return self(x)
        finally:
            self.input_padding = previous_padding
            self.train(was_training)

    def _as_input_tensor(self, x: Any) -> torch.Tensor:
        """``x`` itself, or a numpy array as a tensor (floating arrays in the model's dtype, on its device)."""
        if isinstance(x, torch.Tensor) or not _is_ndarray(x):
            return x  # forward's checks name anything else
        import numpy as np

        try:
            tensor = torch.from_numpy(np.ascontiguousarray(x))
        except TypeError as exc:
            raise InputShapeError(
                f"cannot convert a numpy array of dtype {x.dtype} to a tensor ({exc}); pass float32 images"
            ) from exc
        reference = next((p for p in self.parameters() if p.is_floating_point()), None)
        if reference is None:
            return tensor
        if tensor.is_floating_point():
            return tensor.to(device=reference.device, dtype=reference.dtype)
        return tensor.to(device=reference.device)  # non-float arrays are rejected with a clear message

    # -- freezing ------------------------------------------------------------------
    def freeze_encoder(self) -> None:
        """Stop training the encoder: no gradients, and norm statistics frozen (survives ``train()``)."""
        for param in self.encoder.parameters():
            param.requires_grad_(False)
        self._encoder_frozen = True
        self._freeze_encoder_norms()

    def unfreeze_encoder(self) -> None:
        """Undo `freeze_encoder`."""
        for param in self.encoder.parameters():
            param.requires_grad_(True)
        self._encoder_frozen = False
        self.encoder.train(self.training)

    @property
    def encoder_frozen(self) -> bool:
        """Whether `freeze_encoder` is in effect."""
        return bool(self._encoder_frozen)

    def _freeze_encoder_norms(self) -> None:
        for module in self.encoder.modules():
            if isinstance(module, (nn.modules.batchnorm._NormBase,)):
                module.eval()

    def train(self, mode: bool = True) -> SegmentationModel:
        """Set training mode; a frozen encoder keeps its norm layers in eval mode."""
        super().train(mode)
        if self._encoder_frozen:
            self._freeze_encoder_norms()
        return self

    # -- persistence ---------------------------------------------------------------
    def save_pretrained(self, directory: Any) -> None:
        """Write ``config.json`` and ``model.safetensors`` to ``directory`` (atomically).

        See `seg_core.save_pretrained`.
        """
        from seg_core.checkpoint import save_pretrained

        save_pretrained(self, directory)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload this model (config, safetensors weights, model card) to the Hugging Face Hub.

        Needs the optional ``hub`` extra. See `seg_core.hub.push_to_hub` for the arguments
        (``run_dir``, ``dataset``, ``metrics``, ``private``, ``token``, ``revision``...).

        Returns:
            The URL of the commit.
        """
        from seg_core.hub import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

    def extra_repr(self) -> str:
        return f"architecture={self.architecture_name!r}" if self.architecture_name else ""
