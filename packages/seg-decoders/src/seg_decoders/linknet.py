"""LinkNet (Chaurasia and Culurciello, 2017) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seg_core.activations import ActivationSpec
from seg_core.layers import conv_transpose
from seg_decoders._base import DEFAULT_ENCODER, DecoderModel, resolve_alias
from seg_decoders._blocks import ConvNormAct, build_norm, scale_between, transpose_kernel

__all__ = ["Linknet", "LinknetDecoder"]

#: Width of the last decoder block (fixed in smp).
PREFINAL_CHANNELS = 32


class TransposeUp(nn.Sequential):
    """Transposed convolution upsampling exactly by ``factor`` per axis, norm, ReLU (smp's ``TransposeX2``)."""

    def __init__(
        self, in_channels: int, out_channels: int, factor: Sequence[int], spatial_dims: int, use_norm: Any
    ) -> None:
        kernel, padding = transpose_kernel(factor)
        layer = conv_transpose(spatial_dims)(in_channels, out_channels, kernel, stride=tuple(factor), padding=padding)
        super().__init__(layer, build_norm(use_norm, out_channels, spatial_dims), nn.ReLU(inplace=True))


class LinknetBlock(nn.Module):
    """1x1 conv to a quarter width, transposed-conv upsampling, 1x1 conv, then add the skip."""

    def __init__(
        self, in_channels: int, out_channels: int, factor: Sequence[int], spatial_dims: int, use_norm: Any
    ) -> None:
        super().__init__()
        mid = in_channels // 4
        self.block = nn.Sequential(
            ConvNormAct(in_channels, mid, 1, spatial_dims, use_norm),
            TransposeUp(mid, mid, factor, spatial_dims, use_norm),
            ConvNormAct(mid, out_channels, 1, spatial_dims, use_norm),
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        x = self.block(x)
        if skip is not None and skip.shape[1] != 0:
            x = x + skip
        return x


class LinknetDecoder(nn.Module):
    """One block per level; each upsamples by the encoder's actual per-axis stride of that level."""

    def __init__(
        self,
        encoder_channels: Sequence[int],
        axis_reductions: Sequence[Sequence[int]],
        *,
        spatial_dims: int = 2,
        use_norm: Any = "batchnorm",
        prefinal_channels: int = PREFINAL_CHANNELS,
    ) -> None:
        super().__init__()
        depth = len(encoder_channels) - 1
        channels = [*list(encoder_channels[1:])[::-1], prefinal_channels]
        for i in range(1, len(channels) - 1):
            if channels[i] == 0:
                channels[i] = channels[i - 1]
        self.blocks = nn.ModuleList(
            LinknetBlock(
                channels[i],
                channels[i + 1],
                scale_between(axis_reductions, depth - 1 - i, depth - i),
                spatial_dims,
                use_norm,
            )
            for i in range(depth)
        )

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        feats = features[1:][::-1]
        x, skips = feats[0], feats[1:]
        for i, block in enumerate(self.blocks):
            x = block(x, skips[i] if i < len(skips) else None)
        return x


class Linknet(DecoderModel):
    """LinkNet: a light decoder that adds encoder skips after transposed-convolution upsampling.

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        encoder_depth: Number of encoder levels used.
        encoder_weights: Pretrained weights name or local file (None: random).
        encoder_output_stride: Dilate the encoder to 8 or 16 (None: no dilation).
        encoder_indices: Which backbone maps to use (adapter encoders).
        encoder_channels: Project encoder maps to these widths (adapter encoders).
        encoder_params: The encoder's own keyword arguments (e.g. ``{"spatial_dims": 3}``).
        decoder_use_norm: Norm of the blocks.
        in_channels: Input channels.
        classes: Output channels.
        activation: Output activation.
        aux_params: Classification head on the deepest map.
        head_upsampling: Head upsampling; None = automatic.
        input_padding: Pad inputs to a valid size and crop the output back.
        decoder_use_batchnorm: Deprecated alias of ``decoder_use_norm``.

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import Linknet
        >>> model = Linknet("basic_cnn", encoder_depth=4, classes=2)
    """

    architecture_name = "linknet"

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        encoder_depth: int = 5,
        encoder_weights: str | None = None,
        encoder_output_stride: int | None = None,
        encoder_indices: Any = None,
        encoder_channels: Sequence[int] | None = None,
        encoder_params: dict[str, Any] | None = None,
        decoder_use_norm: Any = "batchnorm",
        in_channels: int = 3,
        classes: int = 1,
        activation: ActivationSpec = None,
        aux_params: dict[str, Any] | None = None,
        head_upsampling: int | Sequence[int] | None = None,
        input_padding: bool = False,
        decoder_use_batchnorm: Any = None,
    ) -> None:
        super().__init__()
        decoder_use_norm = resolve_alias(
            decoder_use_norm, "batchnorm", decoder_use_batchnorm, "decoder_use_batchnorm", "decoder_use_norm"
        )
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
        dims = encoder.spatial_dims
        self.decoder = LinknetDecoder(
            encoder.out_channels, encoder.axis_reductions, spatial_dims=dims, use_norm=decoder_use_norm
        )
        self._build_heads(
            decoder_channels=PREFINAL_CHANNELS,
            classes=classes,
            activation=activation,
            kernel_size=1,
            aux_params=aux_params,
            output_level=0,
            head_upsampling=head_upsampling,
        )
        self.initialize()
