"""Pyramid Scene Parsing Network (Zhao et al., 2017) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER, check_positive, check_probability
from seg_core.errors import ConfigError
from seg_core.layers import adaptive_avg_pool, dropout
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, architecture
from seg_decoders._blocks import ConvNormAct, resize, resolve_mode

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["PSPDecoder", "PSPNet"]

BINS = (1, 2, 3, 6)


class PSPBlock(nn.Module):
    """Adaptive average pooling to ``bins`` cells per axis, 1x1 conv-norm-ReLU, upsampling back.

    The 1-bin block has no norm (a 1x1 map has one value per channel: BatchNorm
    cannot train on it at batch size 1), as in smp.
    """

    def __init__(self, in_channels: int, out_channels: int, bins: int, spatial_dims: int, use_norm: Any) -> None:
        super().__init__()
        norm = "identity" if bins == 1 else use_norm
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.pool = nn.Sequential(
            adaptive_avg_pool(spatial_dims)(bins),
            ConvNormAct(in_channels, out_channels, 1, spatial_dims, norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resize(self.pool(x), x.shape[2:], self.mode)


class PSPModule(nn.Module):
    """The pyramid pooling module: the map concatenated with its four pooled versions."""

    def __init__(self, in_channels: int, spatial_dims: int, use_norm: Any, bins: Sequence[int] = BINS) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            PSPBlock(in_channels, in_channels // len(bins), b, spatial_dims, use_norm) for b in bins
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([*(block(x) for block in self.blocks), x], dim=1)


class PSPDecoder(nn.Module):
    """PSP module on the deepest map, 1x1 conv-norm-ReLU, channel dropout."""

    def __init__(
        self,
        encoder_channels: Sequence[int],
        *,
        spatial_dims: int = 2,
        use_norm: Any = "batchnorm",
        out_channels: int = 512,
        dropout_p: float = 0.2,
    ) -> None:
        super().__init__()
        deepest = int(encoder_channels[-1])
        self.psp = PSPModule(deepest, spatial_dims, use_norm)
        merged = deepest + len(BINS) * (deepest // len(BINS))
        self.conv = ConvNormAct(merged, out_channels, 1, spatial_dims, use_norm)
        self.dropout = dropout(spatial_dims)(p=dropout_p)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.dropout(self.conv(self.psp(features[-1])))


@architecture(
    ArchitectureSpec(
        "pspnet",
        "Pyramid Scene Parsing Network",
        paper="arXiv:1612.01105",
        encoder_defaults={"encoder_depth": 3},
        smp_class="PSPNet",
        deprecated_arguments={"psp_use_batchnorm": "decoder_use_norm"},
        smp_defaults={"upsampling": 8},
    )
)
class PSPNet(SegmentationModel):
    """PSPNet: pyramid pooling on the deepest encoder map and a 3x3 head.

    The head upsamples by the encoder's actual reduction (smp: a fixed 8, right only at depth 3),
    so the output has the input size at any depth.

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        psp_out_channels: Width after the pyramid pooling module.
        decoder_use_norm: Norm of the PSP convolutions (the 1-bin branch has none).
        psp_dropout: Channel dropout before the head.
        upsampling: smp's name for the head upsampling; None = automatic (smp: 8).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import PSPNet
        >>> model = PSPNet("basic_cnn", encoder_depth=4, psp_out_channels=64)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        psp_out_channels: int = 512,
        decoder_use_norm: Any = "batchnorm",
        psp_dropout: float = 0.2,
        upsampling: int | None = None,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        check_positive("psp_out_channels", psp_out_channels)
        check_probability("psp_dropout", psp_dropout)
        encoder = self.build_encoder(encoder_name, kwargs)
        deepest = encoder.out_channels[-1]
        if deepest < len(BINS):
            raise ConfigError(
                f"PSPNet splits the deepest encoder map ({deepest} channels) into {len(BINS)} pooling branches; "
                f"it needs >= {len(BINS)} channels: use a wider encoder or encoder_channels"
            )
        dims = encoder.spatial_dims
        self.decoder = PSPDecoder(
            encoder.out_channels,
            spatial_dims=dims,
            use_norm=decoder_use_norm,
            out_channels=psp_out_channels,
            dropout_p=float(psp_dropout),
        )
        self.build_heads(psp_out_channels, kernel_size=3, output_level=encoder.depth, upsampling=upsampling)
        self.initialize()
