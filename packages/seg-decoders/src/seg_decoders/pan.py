"""Pyramid Attention Network (Li et al., 2018) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER, check_positive
from seg_core.layers import adaptive_avg_pool, conv, max_pool
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._blocks import SafeBatchNorm, resize, resolve_mode

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["PAN", "PANDecoder"]

#: The FPA block max-pools the deepest map three times: it needs at least 8 pixels per axis there.
FPA_MIN_SIZE = 8


class ConvBnRelu(nn.Module):
    """Conv, BatchNorm (safe on single values), optional ReLU (smp's keys ``conv``, ``bn``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        spatial_dims: int,
        padding: int = 0,
        add_relu: bool = True,
    ) -> None:
        super().__init__()
        self.conv = conv(spatial_dims)(in_channels, out_channels, kernel_size, padding=padding)
        self.bn = SafeBatchNorm(out_channels)
        self.add_relu = add_relu
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.activation(x) if self.add_relu else x


class FPABlock(nn.Module):
    """Feature pyramid attention on the deepest map: global branch, mid 1x1 branch, 7/5/3 pyramid."""

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int, interpolation: str = "bilinear") -> None:
        super().__init__()
        d = spatial_dims
        pool = max_pool(d)
        self.mode = resolve_mode(interpolation, d)
        self.branch1 = nn.Sequential(adaptive_avg_pool(d)(1), ConvBnRelu(in_channels, out_channels, 1, d))
        self.mid = nn.Sequential(ConvBnRelu(in_channels, out_channels, 1, d))
        self.down1 = nn.Sequential(pool(kernel_size=2, stride=2), ConvBnRelu(in_channels, 1, 7, d, padding=3))
        self.down2 = nn.Sequential(pool(kernel_size=2, stride=2), ConvBnRelu(1, 1, 5, d, padding=2))
        self.down3 = nn.Sequential(
            pool(kernel_size=2, stride=2), ConvBnRelu(1, 1, 3, d, padding=1), ConvBnRelu(1, 1, 3, d, padding=1)
        )
        self.conv2 = ConvBnRelu(1, 1, 5, d, padding=2)
        self.conv1 = ConvBnRelu(1, 1, 7, d, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        glob = resize(self.branch1(x), size, self.mode)
        mid = self.mid(x)
        x1 = self.down1(x)
        x2 = self.down2(x1)
        x3 = resize(self.down3(x2), x2.shape[2:], self.mode)
        y = resize(self.conv2(x2) + x3, x1.shape[2:], self.mode)
        y = resize(y + self.conv1(x1), size, self.mode)
        return y * mid + glob


class GAUBlock(nn.Module):
    """Global attention upsample: the coarse map, upsampled, plus the lateral gated by the coarse map's global context."""

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int, interpolation: str) -> None:
        super().__init__()
        self.mode = interpolation
        self.conv1 = nn.Sequential(
            adaptive_avg_pool(spatial_dims)(1),
            ConvBnRelu(out_channels, out_channels, 1, spatial_dims, add_relu=False),
            nn.Sigmoid(),
        )
        self.conv2 = ConvBnRelu(in_channels, out_channels, 3, spatial_dims, padding=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y_up = resize(y, x.shape[2:], self.mode)
        return y_up + self.conv2(x) * self.conv1(y)


class PANDecoder(nn.Module):
    """FPA on the deepest map, then GAU blocks up to level 2 (``gau3`` at level 4, ``gau2`` at 3, ``gau1`` at 2)."""

    def __init__(
        self,
        encoder_channels: Sequence[int],
        decoder_channels: int,
        *,
        spatial_dims: int = 2,
        interpolation: str = "bilinear",
    ) -> None:
        super().__init__()
        depth = len(encoder_channels) - 1
        self.depth = depth
        self.fpa = FPABlock(encoder_channels[-1], decoder_channels, spatial_dims)
        for level in range(depth - 1, 1, -1):
            block = GAUBlock(encoder_channels[level], decoder_channels, spatial_dims, interpolation)
            self.add_module(f"gau{level - 1}", block)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        out = self.fpa(features[-1])
        for level in range(self.depth - 1, 1, -1):
            out = getattr(self, f"gau{level - 1}")(features[level], out)
        return out


@architecture(
    ArchitectureSpec(
        "pan",
        "Pyramid Attention Network",
        paper="arXiv:1805.10180",
        requires=Requirements(min_depth=3, nonzero_from=2, output_strides=(16, 32)),
        encoder_defaults={"encoder_output_stride": 16},
        smp_class="PAN",
        deprecated_arguments={"upscale_mode": "decoder_interpolation"},
        smp_defaults={"upsampling": 4},
    )
)
class PAN(SegmentationModel):
    """PAN: feature pyramid attention on the deepest map and global attention upsampling, 3x3 head.

    The FPA block pools the deepest map three times, so each input axis must be at
    least ``8 x`` the encoder's output stride (128 px at depth 5 with stride 16);
    :attr:`min_input_size` says so and ``predict(x, pad=True)`` pads small inputs.

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_channels: Width of the decoder.
        decoder_interpolation: Upsampling mode of the GAU blocks.
        upsampling: smp's name for the head upsampling; None = automatic (smp: 4).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import PAN
        >>> model = PAN("basic_cnn", encoder_depth=3, decoder_channels=16)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_channels: int = 32,
        decoder_interpolation: str = "bilinear",
        upsampling: int | None = None,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        check_positive("decoder_channels", decoder_channels)
        encoder = self.build_encoder(encoder_name, kwargs)
        dims = encoder.spatial_dims
        self.decoder = PANDecoder(
            encoder.out_channels,
            decoder_channels,
            spatial_dims=dims,
            interpolation=resolve_mode(decoder_interpolation, dims),
        )
        self.build_heads(decoder_channels, kernel_size=3, output_level=2, upsampling=upsampling)
        self.initialize()

    @property
    def min_input_size(self) -> tuple[int, ...]:
        """Each axis must give the deepest map at least 8 pixels (three 2x max-poolings)."""
        encoder: Any = self.encoder
        own = super().min_input_size
        return tuple(max(FPA_MIN_SIZE * int(r), m) for r, m in zip(encoder.axis_reductions[-1], own))
