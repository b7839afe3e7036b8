"""The encoder contract every backbone implements: `EncoderMixin`."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seg_core.errors import ConfigError
from seg_core.layers import CONV_TYPES, POOL_TYPES

if TYPE_CHECKING:
    from seg_core.registry import Source

__all__ = ["EncoderCapabilities", "EncoderMixin", "patch_first_conv", "replace_strides_with_dilation"]


@dataclass(frozen=True)
class EncoderCapabilities:
    """What an encoder declares about itself; decoders decide compatibility from it.

    Attributes:
        spatial_dims: 2 for images, 3 for volumes.
        out_channels: Channels per pyramid level (index 0 is the input).
        reductions: Reduction per level (index 0 is 1).
        supports_dilation: ``make_dilated`` works (output stride 8/16).
        fixed_input_size: Spatial size the encoder requires, or None.
        has_prefix_tokens: The encoder exposes class/register tokens (ViTs).
        compilable: ``torch.compile(fullgraph=True)`` is expected to work.
        exportable: ``torch.export`` is expected to work.
        input_divisor: Per-axis number input sizes must be divisible by (the output
            stride, or more: a ViT's patch size).
        min_input_size: Per-axis smallest input size the encoder accepts.
    """

    spatial_dims: int
    out_channels: tuple[int, ...]
    reductions: tuple[int, ...]
    supports_dilation: bool
    fixed_input_size: tuple[int, ...] | None
    has_prefix_tokens: bool
    compilable: bool
    exportable: bool
    input_divisor: tuple[int, ...] = ()
    min_input_size: tuple[int, ...] = ()


class EncoderMixin:
    """Contract for encoders (the role smp's ``EncoderMixin`` plays).

    Mix into an ``nn.Module`` and set, in ``__init__``:

    * ``_out_channels``: channels of every level for the deepest supported
      depth, index 0 being the input (``[3, 64, 64, 128, 256, 512]``);
    * ``_depth``: the depth in use (number of levels after the input);
    * optionally ``_reductions`` (default ``2**i``), ``_axis_reductions`` for
      anisotropic encoders (a tuple per level, one entry per spatial axis),
      ``_spatial_dims`` (2), ``_first_conv`` (dotted path of the stem conv),
      ``_supports_dilation``, ``_fixed_input_size`` (with ``_fixed_input_size_hint``, the
      option that lifts it, for the error), ``_has_prefix_tokens``,
      ``_input_divisor`` (an extra divisibility requirement, e.g. a ViT's patch size;
      combined with the output stride) and ``_min_input_size``.

    ``forward(x)`` must return ``depth + 1`` maps: the input itself, then one
    map per level, level ``i`` being ``reductions[i]`` times smaller than the input.

    Example:
        >>> class Tiny(nn.Module, EncoderMixin):
        ...     def __init__(self, depth=2):
        ...         super().__init__()
        ...         self._out_channels, self._depth = [3, 8, 16], depth
        ...         self.s1 = nn.Conv2d(3, 8, 3, 2, 1)
        ...         self.s2 = nn.Conv2d(8, 16, 3, 2, 1)
        ...     def forward(self, x):
        ...         f1 = self.s1(x)
        ...         return [x, f1, self.s2(f1)]
        >>> Tiny().reductions
        [1, 2, 4]
    """

    _out_channels: Sequence[int]
    #: The registry name it was created under (set by `seg_core.create_encoder`).
    registry_name: str | None = None
    #: Who registered that name (set by `seg_core.create_encoder`).
    registry_source: Source | None = None
    _depth: int = 5
    _in_channels: int = 3
    _output_stride: int = 32
    _reductions: Sequence[int] | None = None
    _axis_reductions: Sequence[Sequence[int]] | None = None
    _spatial_dims: int = 2
    _first_conv: str | None = None
    _supports_dilation: bool = True
    _fixed_input_size: tuple[int, ...] | None = None
    #: How to lift ``_fixed_input_size`` (the option to pass), named when an input has another size.
    _fixed_input_size_hint: str | None = None
    _has_prefix_tokens: bool = False
    _input_divisor: int | Sequence[int] | None = None
    _min_input_size: int | Sequence[int] | None = None
    _is_compilable: bool = True
    _is_exportable: bool = True

    # -- declared properties -----------------------------------------------------
    @property
    def depth(self) -> int:
        """Number of pyramid levels after the input."""
        return int(self._depth)

    @property
    def spatial_dims(self) -> int:
        """2 for images, 3 for volumes."""
        return int(self._spatial_dims)

    @property
    def in_channels(self) -> int:
        """Number of input channels."""
        return int(self._in_channels)

    @property
    def out_channels(self) -> list[int]:
        """Channels of the ``depth + 1`` returned maps (index 0 is the input)."""
        channels = list(self._out_channels[: self.depth + 1])
        channels[0] = self.in_channels
        return channels

    @property
    def axis_reductions(self) -> list[tuple[int, ...]]:
        """Per-axis reduction of every level, dilation included."""
        if self._axis_reductions is not None:
            raw = [tuple(int(v) for v in r) for r in self._axis_reductions[: self.depth + 1]]
        else:
            full = self._reductions if self._reductions is not None else [2**i for i in range(self.depth + 1)]
            raw = [(int(r),) * self.spatial_dims for r in full[: self.depth + 1]]
        cap = int(self._output_stride)
        return [tuple(min(v, cap) for v in r) for r in raw]

    @property
    def reductions(self) -> list[int]:
        """Reduction of every level (``[1, 2, 4, 8, 16, 32]`` classically); the largest axis for anisotropic encoders."""
        return [max(r) for r in self.axis_reductions]

    @property
    def output_stride(self) -> int:
        """Reduction of the deepest returned map (``min(2**depth, dilation stride)``)."""
        return self.reductions[-1]

    def _per_axis(self, value: int | Sequence[int] | None, default: int) -> tuple[int, ...]:
        if value is None:
            return (default,) * self.spatial_dims
        if isinstance(value, int):
            return (value,) * self.spatial_dims
        return tuple(int(v) for v in value)

    @property
    def input_divisor(self) -> tuple[int, ...]:
        """Per-axis number input sizes must be divisible by: the output stride combined
        (least common multiple) with the encoder's own requirement (``_input_divisor``)."""
        own = self._per_axis(self._input_divisor, 1)
        return tuple(math.lcm(int(r), d) for r, d in zip(self.axis_reductions[-1], own))

    @property
    def min_input_size(self) -> tuple[int, ...]:
        """Per-axis smallest input size (``_min_input_size``, default 1)."""
        return self._per_axis(self._min_input_size, 1)

    @property
    def capabilities(self) -> EncoderCapabilities:
        """Everything a decoder needs to decide whether it can use this encoder."""
        return EncoderCapabilities(
            spatial_dims=self.spatial_dims,
            out_channels=tuple(self.out_channels),
            reductions=tuple(self.reductions),
            supports_dilation=bool(self._supports_dilation),
            fixed_input_size=self._fixed_input_size,
            has_prefix_tokens=bool(self._has_prefix_tokens),
            compilable=bool(self._is_compilable),
            exportable=bool(self._is_exportable),
            input_divisor=self.input_divisor,
            min_input_size=self.min_input_size,
        )

    def validate_encoder(self) -> None:
        """Check the declared attributes and raise a clear error if they do not fit.

        Raises:
            ConfigError: A missing or inconsistent attribute, named.
        """
        name = type(self).__name__
        if not hasattr(self, "_out_channels"):
            raise ConfigError(f"{name} must set `_out_channels` (channels per level, index 0 = input)")
        if not isinstance(self._depth, int) or self._depth < 1:
            raise ConfigError(f"{name}._depth must be a positive int, got {self._depth!r}")
        if len(self._out_channels) < self._depth + 1:
            raise ConfigError(
                f"{name}: depth {self._depth} needs {self._depth + 1} entries in `_out_channels`, "
                f"got {len(self._out_channels)}: {list(self._out_channels)}"
            )
        if any((not isinstance(c, int)) or c < 0 for c in self._out_channels):
            raise ConfigError(f"{name}._out_channels must be non-negative ints, got {list(self._out_channels)}")
        if self._spatial_dims not in (1, 2, 3):
            raise ConfigError(f"{name}._spatial_dims must be 1, 2 or 3, got {self._spatial_dims!r}")
        axis = self.axis_reductions
        if len(axis) != self._depth + 1:
            raise ConfigError(f"{name}: reductions must have depth + 1 = {self._depth + 1} entries, got {len(axis)}")
        if any(len(r) != self.spatial_dims for r in axis):
            raise ConfigError(f"{name}: every reduction needs one value per spatial axis ({self.spatial_dims})")
        if any(v != 1 for v in axis[0]):
            raise ConfigError(f"{name}: level 0 is the input itself, its reduction must be 1, got {axis[0]}")
        for prev, cur in itertools.pairwise(axis):
            if any(c < p or c % p for p, c in zip(prev, cur)):
                raise ConfigError(
                    f"{name}: each reduction must be a multiple of the previous one, got {self.reductions}"
                )

    def check_fixed_input_size(self, x: torch.Tensor) -> None:
        """Raise `InputShapeError` if the encoder has a fixed input size and ``x`` has another.

        Encoders with ``_fixed_input_size`` call it first in ``forward``, so a wrong size gets
        seg's error, with ``_fixed_input_size_hint``, not the backbone's.

        Raises:
            InputShapeError: Naming both sizes and the hint.
        """
        fixed = self._fixed_input_size
        if not fixed or tuple(int(s) for s in x.shape[2:]) == tuple(int(v) for v in fixed):
            return
        from seg_core.errors import InputShapeError

        raise InputShapeError(
            f"{type(self).__name__} has a fixed input size {tuple(fixed)}, got an input of size "
            f"{tuple(int(s) for s in x.shape[2:])}. "
            + (self._fixed_input_size_hint or "Resize the input, or use an encoder without a fixed input size.")
        )

    # -- input channels --------------------------------------------------------
    def _stem_conv(self) -> tuple[str, nn.Module]:
        module = self._as_module()
        if self._first_conv is not None:
            try:
                return self._first_conv, module.get_submodule(self._first_conv)
            except AttributeError as exc:
                raise ConfigError(f"{type(self).__name__}._first_conv={self._first_conv!r} is not a submodule") from exc
        for name, sub in module.named_modules():
            if isinstance(sub, CONV_TYPES) and sub.in_channels == self._in_channels:
                return name, sub
        raise ConfigError(
            f"{type(self).__name__}: no convolution with {self._in_channels} input channels found; "
            "set `_first_conv` to the stem convolution's path"
        )

    def set_in_channels(self, in_channels: int, pretrained: bool = True) -> None:
        """Change the number of input channels by patching the stem convolution.

        With ``pretrained``: 1 channel gets the sum of the RGB kernels; other counts
        get the RGB kernels repeated (RGBRGB...) and scaled by ``3 / in_channels``.
        Without weights the stem is re-initialised.

        Args:
            in_channels: New channel count (>= 1).
            pretrained: Whether the current stem weights are pretrained and worth adapting.

        Raises:
            ConfigError: ``in_channels`` is not a positive int, or there is no stem to patch.
        """
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ConfigError(f"in_channels must be an int >= 1, got {in_channels!r}")
        if in_channels == self._in_channels:
            return
        _, conv = self._stem_conv()
        patch_first_conv(conv, in_channels, pretrained=pretrained)
        self._in_channels = in_channels
        channels = list(self._out_channels)
        channels[0] = in_channels
        self._out_channels = channels

    # -- dilation ----------------------------------------------------------------
    def get_stages(self) -> Mapping[int, Sequence[nn.Module]]:
        """Return the modules of each downsampling stage: ``{stride: [modules]}``.

        Needed by `make_dilated`, e.g. ``{16: [self.layer3], 32: [self.layer4]}``.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement get_stages(), so it cannot be dilated "
            "(output_stride 8/16); implement get_stages() or set _supports_dilation = False"
        )

    def make_dilated(self, output_stride: int) -> None:
        """Replace strides by dilation so that the deepest map has ``output_stride``.

        Args:
            output_stride: 8 or 16 (32 leaves the encoder unchanged).

        Raises:
            ConfigError: Unsupported value, or the encoder cannot be dilated.
        """
        if output_stride not in (8, 16, 32):
            raise ConfigError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if output_stride >= self.reductions[-1]:
            return
        if not self._supports_dilation:
            raise ConfigError(
                f"{type(self).__name__} does not support dilation (output_stride={output_stride}); "
                "use output_stride=None/32 or another encoder"
            )
        for stage_stride, modules in self.get_stages().items():
            if stage_stride <= output_stride:
                continue
            for module in modules:
                replace_strides_with_dilation(module, stage_stride // output_stride)
        self._output_stride = output_stride

    def _as_module(self) -> nn.Module:
        if not isinstance(self, nn.Module):
            raise TypeError(f"{type(self).__name__} must also subclass torch.nn.Module")
        return self


def patch_first_conv(conv: nn.Module, in_channels: int, pretrained: bool = True) -> None:
    """Adapt ``conv`` (an ``nn.ConvNd``) in place to ``in_channels`` inputs.

    Args:
        conv: The stem convolution.
        in_channels: New number of input channels.
        pretrained: Keep and adapt the weights (sum for 1, RGBRGB... x 3/n otherwise);
            otherwise re-initialise.

    Raises:
        ConfigError: ``conv`` is not a convolution or is grouped.
    """
    if not isinstance(conv, CONV_TYPES):
        raise ConfigError(f"cannot patch {type(conv).__name__}: expected a convolution")
    if conv.groups != 1:
        raise ConfigError(f"cannot change input channels of a grouped stem convolution (groups={conv.groups})")
    old = conv.weight.detach()
    old_in = old.shape[1]
    conv.in_channels = in_channels
    if not pretrained:
        conv.weight = nn.Parameter(old.new_empty((old.shape[0], in_channels, *old.shape[2:])))
        conv.reset_parameters()
        return
    if in_channels == 1:
        new = old.sum(dim=1, keepdim=True)
    else:
        index = torch.arange(in_channels, device=old.device) % old_in
        new = old[:, index] * (old_in / in_channels)
    conv.weight = nn.Parameter(new.contiguous())


def replace_strides_with_dilation(module: nn.Module, dilation_rate: int) -> None:
    """Turn the strided convolutions of ``module`` into dilated ones (in place).

    Raises:
        ConfigError: The stage downsamples by pooling, which dilation cannot replace.
    """
    for name, sub in module.named_modules():
        if isinstance(sub, CONV_TYPES):
            dims = len(sub.kernel_size)
            sub.stride = (1,) * dims
            sub.dilation = (dilation_rate,) * dims
            sub.padding = tuple((k // 2) * dilation_rate for k in sub.kernel_size)
            if hasattr(sub, "static_padding"):
                sub.static_padding = nn.Identity()
        elif isinstance(sub, POOL_TYPES):
            stride: Any = sub.stride
            if (stride if isinstance(stride, int) else max(stride)) > 1:
                raise ConfigError(
                    f"stage module {name or type(module).__name__} downsamples with "
                    f"{type(sub).__name__}; this encoder cannot be dilated"
                )
