"""LinkNet (Chaurasia and Culurciello, 2017) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER
from seg_core.layers import conv_transpose
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, architecture
from seg_decoders._blocks import ConvNormAct, build_norm, scale_between, transpose_kernel

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

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


@architecture(
    ArchitectureSpec(
        "linknet",
        "LinkNet: light decoder adding skips",
        paper="arXiv:1707.03718",
        smp_class="Linknet",
        deprecated_arguments={"decoder_use_batchnorm": "decoder_use_norm"},
    )
)
class Linknet(SegmentationModel):
    """LinkNet: a light decoder that adds encoder skips after transposed-convolution upsampling.

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_use_norm: Norm of the blocks.
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import Linknet
        >>> model = Linknet("basic_cnn", encoder_depth=4, classes=2)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_use_norm: Any = "batchnorm",
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        encoder = self.build_encoder(encoder_name, kwargs)
        dims = encoder.spatial_dims
        self.decoder = LinknetDecoder(
            encoder.out_channels, encoder.axis_reductions, spatial_dims=dims, use_norm=decoder_use_norm
        )
        self.build_heads(PREFINAL_CHANNELS, kernel_size=1, output_level=0)
        self.initialize()
