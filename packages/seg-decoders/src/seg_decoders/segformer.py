"""SegFormer's all-MLP decoder (Xie et al., 2021) for 2D and 3D, with any encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER, check_positive
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._blocks import ConvNormAct, resolve_mode
from seg_decoders.upernet import resize_like_smp

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["Segformer", "SegformerDecoder"]


class MLP(nn.Module):
    """A linear layer applied to every pixel (voxel) of an ``(N, C, *spatial)`` map."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.movedim(1, -1)).movedim(-1, 1)


class SegformerDecoder(nn.Module):
    """One MLP per used level (1 .. depth, without a zero-channel level 1), resize to level 2, 1x1 fuse.

    The maps are resized to the size of pyramid level 2 (stride 4), concatenated deepest first,
    and fused by a 1x1 conv-BN-ReLU. Parameters match smp's ``SegformerDecoder``.
    """

    def __init__(self, encoder_channels: Sequence[int], *, spatial_dims: int = 2, segmentation_channels: int = 256):
        super().__init__()
        self.first = 2 if int(encoder_channels[1]) == 0 else 1
        used = [int(c) for c in encoder_channels[self.first :]][::-1]
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.mlp_stage = nn.ModuleList(MLP(c, segmentation_channels) for c in used)
        self.fuse_stage = ConvNormAct(len(used) * segmentation_channels, segmentation_channels, 1, spatial_dims)
        self.out_channels = segmentation_channels

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        size = features[2].shape[2:]
        maps = features[self.first :][::-1]
        resized = [resize_like_smp(mlp(f), size, self.mode) for mlp, f in zip(self.mlp_stage, maps)]
        return self.fuse_stage(torch.cat(resized, dim=1))


@architecture(
    ArchitectureSpec(
        "segformer",
        "SegFormer's all-MLP decoder",
        paper="arXiv:2105.15203",
        requires=Requirements(min_depth=3, nonzero_from=2),
        smp_class="Segformer",
        smp_defaults={"upsampling": 4},
    )
)
class Segformer(SegmentationModel):
    """SegFormer decoder: per-level linear projection, resize to stride 4, concatenation, 1x1 fusion.

    Works with any encoder: CNNs, hierarchical transformers (MiT, Swin...) and plain ViTs
    through seg-encoders-timm's pyramid adapter. The decoder output is at pyramid level 2;
    the head upsamples by that level's actual reduction, so the output has the input size.
    The blocks are dimension-generic: 2D and 3D.

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_segmentation_channels: Width of the MLPs and the fused map (smp: 256).
        upsampling: smp's name for the head upsampling; None = automatic (smp: 4).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder (depth < 3).

    Example:
        >>> from seg_decoders import Segformer
        >>> model = Segformer("basic_cnn", encoder_depth=4, decoder_segmentation_channels=32)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_segmentation_channels: int = 256,
        upsampling: int | None = None,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        check_positive("decoder_segmentation_channels", decoder_segmentation_channels)
        encoder = self.build_encoder(encoder_name, kwargs)
        self.decoder = SegformerDecoder(
            encoder.out_channels,
            spatial_dims=encoder.spatial_dims,
            segmentation_channels=decoder_segmentation_channels,
        )
        self.build_heads(decoder_segmentation_channels, kernel_size=1, output_level=2, upsampling=upsampling)
        self.initialize()
