"""A tiny seg model built with seg-core alone (the seg-train session has no seg-decoders)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seg_core import build_encoder
from seg_core.heads import SegmentationHead
from seg_core.model import SegmentationModel


class _Decoder(nn.Module):
    def __init__(self, channels: list[int], out: int) -> None:
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, out, 1) for c in channels[1:])
        self.norm = nn.BatchNorm2d(out)
        self.gn = nn.GroupNorm(2, out)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        size = features[1].shape[2:]
        out = sum(F.interpolate(proj(feat), size=size, mode="nearest") for feat, proj in zip(features[1:], self.proj))
        return self.gn(torch.relu(self.norm(out)))


class TinySeg(SegmentationModel):
    """A seg-core model with the built-in ``basic_cnn`` encoder (conv + BatchNorm)."""

    architecture_name = "tiny_seg"

    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        self.encoder = build_encoder("basic_cnn", in_channels=3, depth=3, params={"widths": [4, 8, 8, 8, 8]})
        self.decoder = _Decoder(list(self.encoder.out_channels), 8)
        self.segmentation_head = SegmentationHead(8, classes, upsampling=2)
        self.initialize()


class TinyConfigurable(SegmentationModel):
    """A tiny architecture with the usual encoder arguments, to build from a training config."""

    architecture_name = "tiny_configurable"

    def __init__(
        self,
        encoder_name: str = "basic_cnn",
        encoder_weights: str | None = None,
        encoder_depth: int = 3,
        in_channels: int = 3,
        classes: int = 2,
    ) -> None:
        super().__init__()
        self.encoder = build_encoder(
            encoder_name, in_channels=in_channels, depth=encoder_depth, weights=encoder_weights
        )
        self.decoder = _Decoder(list(self.encoder.out_channels), 8)
        self.segmentation_head = SegmentationHead(8, classes, upsampling=2)
        self.initialize()
