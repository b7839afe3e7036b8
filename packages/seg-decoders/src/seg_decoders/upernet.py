"""UPerNet: pyramid pooling plus FPN fusion (Xiao et al., 2018) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from seg_core.building import DEFAULT_ENCODER, check_positive
from seg_core.layers import adaptive_avg_pool
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._blocks import ConvNormAct, SafeBatchNorm, resolve_mode

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["ChannelLayerNorm", "UPerNet", "UPerNetDecoder"]

BINS = (1, 2, 3, 6)


def resize_like_smp(x: torch.Tensor, size: Sequence[int], mode: str, always: bool = False) -> torch.Tensor:
    """Interpolate ``x`` to ``size`` with ``align_corners=False`` (smp's UPerNet and SegFormer).

    A no-op when ``x`` has that size already, unless ``always``: comparing a constant size (a
    pooled map) with a symbolic one would specialise ``torch.export``'s dynamic shapes, and a
    same-size linear interpolation with ``align_corners=False`` is exact anyway.
    """
    if not always and tuple(x.shape[2:]) == tuple(size):
        return x
    corners = False if mode in {"linear", "bilinear", "trilinear", "bicubic"} else None
    return F.interpolate(x, size=list(size), mode=mode, align_corners=corners)


def batch1_safe(block: ConvNormAct) -> ConvNormAct:
    """Swap a BatchNorm of ``block`` for `SafeBatchNorm` (same parameters), for 1-value-per-channel maps."""
    norm = block[1]
    if isinstance(norm, nn.modules.batchnorm._BatchNorm) and not isinstance(norm, SafeBatchNorm):
        safe = SafeBatchNorm(norm.num_features, eps=norm.eps, momentum=norm.momentum, affine=norm.affine)
        block[1] = safe
    return block


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of an ``(N, C, *spatial)`` map (smp's ``LayerNorm2d``, any dims)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.movedim(1, -1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.movedim(-1, 1)


class UPerPSPModule(nn.Module):
    """Pooling to 1, 2, 3 and 6 cells per axis (1x1 conv-norm-ReLU each), concatenation, 3x3 conv-BN-ReLU."""

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int, use_norm: Any) -> None:
        super().__init__()
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                adaptive_avg_pool(spatial_dims)(b),
                batch1_safe(ConvNormAct(in_channels, out_channels, 1, spatial_dims, use_norm)),
            )
            for b in BINS
        )
        self.out_conv = ConvNormAct(
            in_channels + len(BINS) * out_channels, out_channels, 3, spatial_dims, "batchnorm", padding=1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        pooled = [resize_like_smp(block(x), size, self.mode, always=True) for block in self.blocks]
        return self.out_conv(torch.cat([x, *pooled], dim=1))


class FPNLateralBlock(nn.Module):
    """1x1 conv-norm-ReLU on the lateral map, plus the coarser state upsampled to its size."""

    def __init__(self, lateral_channels: int, out_channels: int, spatial_dims: int, use_norm: Any) -> None:
        super().__init__()
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.conv_norm_relu = ConvNormAct(lateral_channels, out_channels, 1, spatial_dims, use_norm)

    def forward(self, state: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
        lateral = self.conv_norm_relu(lateral)
        return resize_like_smp(state, lateral.shape[2:], self.mode) + lateral


class UPerNetDecoder(nn.Module):
    """UPerNet decoder over the pyramid levels ``2 .. depth`` (strides 4 .. 32 for a 5-level encoder).

    Each used map is layer-normalised over channels; the PSP module runs on the deepest; an FPN
    top-down path adds 1x1-projected laterals, each followed by a 3x3 conv-norm-ReLU; all FPN
    outputs are resized to level 2 and fused by a 3x3 conv-norm-ReLU. Parameters match smp's.
    """

    def __init__(
        self,
        encoder_channels: Sequence[int],
        *,
        spatial_dims: int = 2,
        decoder_channels: int = 256,
        use_norm: Any = "batchnorm",
    ) -> None:
        super().__init__()
        channels = [int(c) for c in encoder_channels[2:]]
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.feature_norms = nn.ModuleList(ChannelLayerNorm(c, eps=1e-6) for c in channels)
        self.psp = UPerPSPModule(channels[-1], decoder_channels, spatial_dims, use_norm)
        lateral = channels[:-1][::-1]
        self.fpn_lateral_blocks = nn.ModuleList(
            FPNLateralBlock(c, decoder_channels, spatial_dims, use_norm) for c in lateral
        )
        self.fpn_conv_blocks = nn.ModuleList(
            ConvNormAct(decoder_channels, decoder_channels, 3, spatial_dims, use_norm, padding=1) for _ in lateral
        )
        self.fusion_block = ConvNormAct(
            (len(lateral) + 1) * decoder_channels, decoder_channels, 3, spatial_dims, use_norm, padding=1
        )
        self.out_channels = decoder_channels

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        maps = [norm(f) for norm, f in zip(self.feature_norms, features[2:])]
        fpn = [self.psp(maps[-1])]
        for block, lateral in zip(self.fpn_lateral_blocks, maps[:-1][::-1]):
            fpn.append(block(fpn[-1], lateral))
        fpn = [fpn[0], *(conv(f) for conv, f in zip(self.fpn_conv_blocks, fpn[1:]))]
        size = fpn[-1].shape[2:]
        resized = [resize_like_smp(f, size, self.mode) for f in fpn]
        return self.fusion_block(torch.cat(resized[::-1], dim=1))


@architecture(
    ArchitectureSpec(
        "upernet",
        "UPerNet: pyramid pooling plus FPN fusion",
        paper="arXiv:1807.10221",
        requires=Requirements(min_depth=3, nonzero_from=2),
        smp_class="UPerNet",
        smp_defaults={"upsampling": 4},
    )
)
class UPerNet(SegmentationModel):
    """UPerNet: PSP module on the deepest map, FPN fusion of levels 2 .. depth, a 1x1 head.

    The decoder output is at pyramid level 2 (stride 4); the head upsamples by that level's
    actual reduction, so the output has the input size (smp: a fixed ``upsampling=4``).
    The blocks are dimension-generic: 2D and 3D. The 1-bin pooling branch normalises with its
    running statistics when a training batch holds a single value per channel (batch size 1).

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_channels: Width of the PSP, FPN and fusion blocks (smp: 256).
        decoder_use_norm: Norm of the decoder convolutions (the PSP output conv is always BatchNorm, as in smp).
        upsampling: smp's name for the head upsampling; None = automatic (smp: 4).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder (depth < 3).

    Example:
        >>> from seg_decoders import UPerNet
        >>> model = UPerNet("basic_cnn", encoder_depth=4, decoder_channels=32)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_channels: int = 256,
        decoder_use_norm: Any = "batchnorm",
        upsampling: int | None = None,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        check_positive("decoder_channels", decoder_channels)
        encoder = self.build_encoder(encoder_name, kwargs)
        self.decoder = UPerNetDecoder(
            encoder.out_channels,
            spatial_dims=encoder.spatial_dims,
            decoder_channels=decoder_channels,
            use_norm=decoder_use_norm,
        )
        self.build_heads(decoder_channels, kernel_size=1, output_level=2, upsampling=upsampling)
        self.initialize()
