"""Building blocks shared by the decoders, written once for 2D and 3D."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seg_core.errors import ConfigError
from seg_core.layers import adaptive_avg_pool, conv, get_norm, interpolation_mode

__all__ = [
    "Attention",
    "ConvNormAct",
    "SafeBatchNorm",
    "SeparableConv",
    "build_norm",
    "resize",
    "scale_between",
]

NormSpec = Any


def build_norm(norm: NormSpec, channels: int, spatial_dims: int, argument: str = "decoder_use_norm") -> nn.Module:
    """Build a norm layer, naming ``argument`` in the error when ``norm`` is invalid."""
    try:
        return get_norm(norm, channels, spatial_dims)
    except ConfigError as exc:
        raise ConfigError(f"{argument}={norm!r}: {exc}") from None


class ConvNormAct(nn.Sequential):
    """``[conv, norm, ReLU]`` (smp's ``Conv2dReLU`` layout: keys ``0.weight``, ``1.weight``...).

    The convolution has a bias only when the norm is the identity.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        spatial_dims: int,
        norm: NormSpec = "batchnorm",
        padding: int = 0,
    ) -> None:
        norm_layer = build_norm(norm, out_channels, spatial_dims)
        bias = isinstance(norm_layer, nn.Identity)
        layer = conv(spatial_dims)(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        super().__init__(layer, norm_layer, nn.ReLU(inplace=True))


class _SCSE(nn.Module):
    """Concurrent spatial and channel squeeze-and-excitation (Roy et al., 2018)."""

    def __init__(self, channels: int, spatial_dims: int, reduction: int = 16) -> None:
        super().__init__()
        conv_cls = conv(spatial_dims)
        self.cSE = nn.Sequential(
            adaptive_avg_pool(spatial_dims)(1),
            conv_cls(channels, channels // reduction, 1),
            nn.ReLU(inplace=True),
            conv_cls(channels // reduction, channels, 1),
            nn.Sigmoid(),
        )
        self.sSE = nn.Sequential(conv_cls(channels, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cSE(x) + x * self.sSE(x)


ATTENTION_CHOICES = (None, "scse")


def check_attention(attention_type: str | None, channels: Sequence[int]) -> None:
    """Validate ``decoder_attention_type`` against the widths it would be applied to."""
    if attention_type not in ATTENTION_CHOICES:
        raise ConfigError(f"decoder_attention_type must be None or 'scse', got {attention_type!r}")
    if attention_type == "scse":
        small = sorted({c for c in channels if c < 16})
        if small:
            raise ConfigError(
                f"decoder_attention_type='scse' squeezes channels by 16, so every block needs >= 16 channels; "
                f"got blocks with {small} channels: raise decoder_channels or use decoder_attention_type=None"
            )


class Attention(nn.Module):
    """``None`` (identity) or ``"scse"``; smp's key layout (``attention.cSE.1.weight``)."""

    def __init__(self, name: str | None, channels: int, spatial_dims: int) -> None:
        super().__init__()
        check_attention(name, [channels])
        self.attention: nn.Module = nn.Identity() if name is None else _SCSE(channels, spatial_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x)


class SeparableConv(nn.Sequential):
    """Depthwise then pointwise convolution (``[depthwise, pointwise]``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        spatial_dims: int,
        padding: int = 0,
        dilation: int = 1,
        bias: bool = True,
    ) -> None:
        conv_cls = conv(spatial_dims)
        depthwise = conv_cls(
            in_channels, in_channels, kernel_size, padding=padding, dilation=dilation, groups=in_channels, bias=False
        )
        super().__init__(depthwise, conv_cls(in_channels, out_channels, 1, bias=bias))


class SafeBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm for maps that may hold one value per channel (after global pooling).

    It behaves exactly like ``BatchNorm2d``/``3d`` (same parameters, buffers and
    state-dict keys), except that when a training batch has a single value per
    channel (batch size 1 on a 1x1 map), where batch statistics do not exist, it
    normalises with the running statistics instead of raising. This is what makes
    DeepLab and PAN train at batch size 1.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected an input with at least 2 dimensions, got {input.dim()}")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if self.training and input.numel() // max(input.shape[1], 1) == 1:
            return F.batch_norm(
                input, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        return super().forward(input)


def align_corners(mode: str) -> bool | None:
    """``True`` for the linear modes (smp's upsampling convention), None otherwise."""
    return True if mode in {"linear", "bilinear", "trilinear", "bicubic"} else None


def resize(x: torch.Tensor, size: Sequence[int], mode: str) -> torch.Tensor:
    """Interpolate ``x`` to ``size`` (a no-op when it already has that size).

    Sizes are passed on as they are (no ``int()``), so symbolic sizes stay symbolic
    under ``torch.export`` with dynamic shapes and ``torch.compile``: the no-op shortcut
    is taken only when the sizes are equal for every input (``statically_known_true``), so
    that tracing never specialises on a size that happens to match (PPM's 2-bin pooling
    on a 2x2 map would pin the input size).
    """
    current = tuple(x.shape[2:])
    if all(type(s) is int for s in (*current, *size)):  # eager: plain ints
        if current == tuple(size):
            return x
    elif len(current) == len(size):  # traced (sympy is loaded by then)
        from torch.fx.experimental.symbolic_shapes import statically_known_true

        if all(statically_known_true(a == b) for a, b in zip(current, size)):
            return x
    corners = align_corners(mode)
    return F.interpolate(x, size=list(size), mode=mode, align_corners=corners)


def upsample(x: torch.Tensor, factor: Sequence[int], mode: str) -> torch.Tensor:
    """Upsample ``x`` by an integer ``factor`` per axis."""
    if all(f == 1 for f in factor):
        return x
    size = [s * int(f) for s, f in zip(x.shape[2:], factor)]
    return F.interpolate(x, size=size, mode=mode, align_corners=align_corners(mode))


def scale_between(axis_reductions: Sequence[Sequence[int]], low: int, high: int) -> tuple[int, ...]:
    """Per-axis factor from pyramid level ``high`` (deeper) to ``low`` (shallower)."""
    return tuple(int(h) // int(lo) for h, lo in zip(axis_reductions[high], axis_reductions[low]))


def resolve_mode(mode: str, spatial_dims: int, argument: str = "decoder_interpolation") -> str:
    """Resolve an interpolation name for ``spatial_dims``, naming ``argument`` on error."""
    try:
        return interpolation_mode(mode, spatial_dims)
    except ConfigError as exc:
        raise ConfigError(f"{argument}={mode!r}: {exc}") from None


def transpose_kernel(factor: Sequence[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Kernel and padding of a transposed convolution that upsamples exactly by ``factor``.

    ``kernel = f + 2 * ceil(f / 2)``, ``padding = ceil(f / 2)``: ``(4, 1)`` for a factor 2
    (smp's Linknet layer) and ``(3, 1)`` for an axis that is not upsampled.
    """
    pads = tuple(math.ceil(f / 2) for f in factor)
    return tuple(f + 2 * p for f, p in zip(factor, pads)), pads
