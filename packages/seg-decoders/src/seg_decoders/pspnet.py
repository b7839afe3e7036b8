"""Pyramid Scene Parsing Network (Zhao et al., 2017) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seg_core.activations import ActivationSpec
from seg_core.errors import ConfigError
from seg_core.layers import adaptive_avg_pool, dropout
from seg_decoders._base import DEFAULT_ENCODER, DecoderModel, check_positive, check_probability, resolve_alias
from seg_decoders._blocks import ConvNormAct, resize, resolve_mode

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


class PSPNet(DecoderModel):
    """PSPNet: pyramid pooling on the deepest encoder map and a 3x3 head.

    The head upsamples by the encoder's actual reduction (smp: a fixed 8, right only at depth 3),
    so the output has the input size at any depth.

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        encoder_depth: Number of encoder levels used (default 3, like smp).
        encoder_weights: Pretrained weights name or local file (None: random).
        encoder_output_stride: Dilate the encoder to 8 or 16 (None: no dilation).
        encoder_indices: Which backbone maps to use (adapter encoders).
        encoder_channels: Project encoder maps to these widths (adapter encoders).
        encoder_params: The encoder's own keyword arguments (e.g. ``{"spatial_dims": 3}``).
        psp_out_channels: Width after the pyramid pooling module.
        decoder_use_norm: Norm of the PSP convolutions (the 1-bin branch has none).
        psp_dropout: Channel dropout before the head.
        in_channels: Input channels.
        classes: Output channels.
        activation: Output activation.
        upsampling: smp's name for the head upsampling; None = automatic (smp: 8).
        aux_params: Classification head on the deepest map (built when not None; smp: when truthy).
        head_upsampling: Head upsampling; None = automatic.
        input_padding: Pad inputs to a valid size and crop the output back.
        psp_use_batchnorm: Deprecated alias of ``decoder_use_norm``.

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import PSPNet
        >>> model = PSPNet("basic_cnn", encoder_depth=4, psp_out_channels=64)
    """

    architecture_name = "pspnet"

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        encoder_depth: int = 3,
        encoder_weights: str | None = None,
        encoder_output_stride: int | None = None,
        encoder_indices: Any = None,
        encoder_channels: Sequence[int] | None = None,
        encoder_params: dict[str, Any] | None = None,
        psp_out_channels: int = 512,
        decoder_use_norm: Any = "batchnorm",
        psp_dropout: float = 0.2,
        in_channels: int = 3,
        classes: int = 1,
        activation: ActivationSpec = None,
        upsampling: int | None = None,
        aux_params: dict[str, Any] | None = None,
        head_upsampling: int | Sequence[int] | None = None,
        input_padding: bool = False,
        psp_use_batchnorm: Any = None,
    ) -> None:
        super().__init__()
        decoder_use_norm = resolve_alias(
            decoder_use_norm, "batchnorm", psp_use_batchnorm, "psp_use_batchnorm", "decoder_use_norm"
        )
        check_positive("psp_out_channels", psp_out_channels)
        check_probability("psp_dropout", psp_dropout)
        encoder = self._build_encoder(
            encoder_name=encoder_name,
            encoder_depth=encoder_depth,
            encoder_weights=encoder_weights,
            encoder_output_stride=encoder_output_stride,
            encoder_indices=encoder_indices,
            encoder_channels=encoder_channels,
            encoder_params=encoder_params,
            in_channels=in_channels,
            classes=classes,
            input_padding=input_padding,
        )
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
        self._build_heads(
            decoder_channels=psp_out_channels,
            classes=classes,
            activation=activation,
            kernel_size=3,
            aux_params=aux_params,
            output_level=encoder.depth,
            head_upsampling=head_upsampling,
            upsampling=upsampling,
        )
        self.initialize()
