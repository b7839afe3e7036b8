"""Feature Pyramid Network decoder (Kirillov et al., 2019, panoptic FPN) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER, check_positive, check_probability
from seg_core.errors import ConfigError
from seg_core.layers import conv, dropout
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._blocks import resize, resolve_mode

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["FPN", "FPNDecoder"]

MERGE_POLICIES = ("add", "cat")


class Conv3x3GNReLU(nn.Module):
    """3x3 conv, GroupNorm(32), ReLU, then optional linear upsampling to a given size."""

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int, upsample: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.block = nn.Sequential(
            conv(spatial_dims)(in_channels, out_channels, 3, padding=1, bias=False),
            nn.GroupNorm(32, out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor, size: Sequence[int] | None = None) -> torch.Tensor:
        x = self.block(x)
        if self.upsample and size is not None:
            x = resize(x, size, self.mode)
        return x


class SegmentationBlock(nn.Module):
    """``n_upsamples`` conv-GN-ReLU steps, each moving one pyramid level up (at least one conv)."""

    def __init__(self, in_channels: int, out_channels: int, n_upsamples: int, spatial_dims: int) -> None:
        super().__init__()
        blocks = [Conv3x3GNReLU(in_channels, out_channels, spatial_dims, upsample=bool(n_upsamples))]
        blocks += [
            Conv3x3GNReLU(out_channels, out_channels, spatial_dims, upsample=True) for _ in range(1, n_upsamples)
        ]
        self.block = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor, sizes: Sequence[Sequence[int]]) -> torch.Tensor:
        for i, layer in enumerate(self.block):
            x = layer(x, sizes[i] if i < len(sizes) else None)
        return x


class FPNBlock(nn.Module):
    """Upsample the coarser map to the lateral's size and add the 1x1-projected lateral.

    A zero-channel lateral (stride-4 stems) gets no projection: the map is only upsampled.
    """

    def __init__(self, pyramid_channels: int, skip_channels: int, spatial_dims: int, interpolation: str) -> None:
        super().__init__()
        self.mode = interpolation
        self.skip_conv: nn.Module | None = (
            conv(spatial_dims)(skip_channels, pyramid_channels, kernel_size=1) if skip_channels > 0 else None
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = resize(x, skip.shape[2:], self.mode)
        if self.skip_conv is not None:
            x = x + self.skip_conv(skip)
        return x


class FPNDecoder(nn.Module):
    """Top-down pathway over the four deepest levels, per-level segmentation branches, merge, dropout.

    The four levels are ``depth - 3 .. depth`` (smp's choice; at depth 3 the
    shallowest "level" is the input itself). All branches are brought to the size
    of the shallowest of them, whose reduction the head then undoes.
    """

    def __init__(
        self,
        encoder_channels: Sequence[int],
        *,
        spatial_dims: int = 2,
        pyramid_channels: int = 256,
        segmentation_channels: int = 128,
        dropout_p: float = 0.2,
        merge_policy: str = "add",
        interpolation: str = "nearest",
    ) -> None:
        super().__init__()
        c2, c3, c4, c5 = list(encoder_channels)[-4:]
        self.out_channels = segmentation_channels * (4 if merge_policy == "cat" else 1)
        self.merge_policy = merge_policy
        self.p5 = conv(spatial_dims)(c5, pyramid_channels, kernel_size=1)
        self.p4 = FPNBlock(pyramid_channels, c4, spatial_dims, interpolation)
        self.p3 = FPNBlock(pyramid_channels, c3, spatial_dims, interpolation)
        self.p2 = FPNBlock(pyramid_channels, c2, spatial_dims, interpolation)
        self.seg_blocks = nn.ModuleList(
            SegmentationBlock(pyramid_channels, segmentation_channels, n, spatial_dims) for n in (3, 2, 1, 0)
        )
        self.dropout = dropout(spatial_dims)(p=dropout_p, inplace=True)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        c2, c3, c4, c5 = features[-4:]
        p5 = self.p5(c5)
        p4 = self.p4(p5, c4)
        p3 = self.p3(p4, c3)
        p2 = self.p2(p3, c2)
        sizes = [tuple(p.shape[2:]) for p in (p4, p3, p2)]
        branches = [block(p, sizes[i:]) for i, (block, p) in enumerate(zip(self.seg_blocks, (p5, p4, p3, p2)))]
        x = torch.stack(branches).sum(dim=0) if self.merge_policy == "add" else torch.cat(branches, dim=1)
        return self.dropout(x)


@architecture(
    ArchitectureSpec(
        "fpn",
        "Feature Pyramid Network (panoptic FPN head)",
        paper="arXiv:1901.02446",
        requires=Requirements(min_depth=3),
        smp_class="FPN",
        smp_defaults={"upsampling": 4},
    )
)
class FPN(SegmentationModel):
    """FPN: top-down feature pyramid, per-level segmentation branches merged at the finest level.

    Unlike smp, the output has the input size at every depth (smp returns 4x/2x the
    input at depth 3/4): the head upsamples by the actual reduction of the finest
    branch. The GroupNorm(32) layers need ``decoder_segmentation_channels`` divisible by 32.

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_pyramid_channels: Width of the top-down pathway.
        decoder_segmentation_channels: Width of each segmentation branch (multiple of 32).
        decoder_merge_policy: ``"add"`` or ``"cat"`` (4x the width).
        decoder_dropout: Channel dropout before the head.
        decoder_interpolation: Top-down upsampling mode.
        upsampling: smp's name for the head upsampling; None = automatic (smp: 4).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import FPN
        >>> model = FPN("basic_cnn", encoder_depth=3, decoder_pyramid_channels=32, decoder_segmentation_channels=32)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_pyramid_channels: int = 256,
        decoder_segmentation_channels: int = 128,
        decoder_merge_policy: str = "add",
        decoder_dropout: float = 0.2,
        decoder_interpolation: str = "nearest",
        upsampling: int | None = None,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        check_positive("decoder_pyramid_channels", decoder_pyramid_channels)
        check_positive("decoder_segmentation_channels", decoder_segmentation_channels)
        if decoder_segmentation_channels % 32:
            raise ConfigError(
                f"decoder_segmentation_channels must be a multiple of 32 (the FPN branches use GroupNorm(32)), "
                f"got {decoder_segmentation_channels}"
            )
        if decoder_merge_policy not in MERGE_POLICIES:
            raise ConfigError(f"decoder_merge_policy must be 'add' or 'cat', got {decoder_merge_policy!r}")
        check_probability("decoder_dropout", decoder_dropout)
        encoder = self.build_encoder(encoder_name, kwargs)
        dims = encoder.spatial_dims
        self.decoder = FPNDecoder(
            encoder.out_channels,
            spatial_dims=dims,
            pyramid_channels=decoder_pyramid_channels,
            segmentation_channels=decoder_segmentation_channels,
            dropout_p=float(decoder_dropout),
            merge_policy=decoder_merge_policy,
            interpolation=resolve_mode(decoder_interpolation, dims),
        )
        self.build_heads(
            self.decoder.out_channels, kernel_size=1, output_level=encoder.depth - 3, upsampling=upsampling
        )
        self.initialize()
