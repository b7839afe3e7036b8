"""A minimal architecture used to test the base model (registered at run time)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seg_core import build_encoder
from seg_core.heads import ClassificationHead, SegmentationHead
from seg_core.model import SegmentationModel


class _SumDecoder(nn.Module):
    def __init__(self, channels: list[int], reductions: list[int], out: int) -> None:
        super().__init__()
        self.proj = nn.ModuleList(nn.Conv2d(c, out, 1) if c else nn.Identity() for c in channels[1:])
        self.skip = [c > 0 for c in channels[1:]]

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        size = features[1].shape[2:]
        out = 0
        for feat, proj, used in zip(features[1:], self.proj, self.skip):
            if used:
                out = out + F.interpolate(proj(feat), size=size, mode="nearest")
        return out  # type: ignore[return-value]


class TinyArch(SegmentationModel):
    architecture_name = "tiny_arch"

    def __init__(
        self,
        encoder_name: str = "basic_cnn",
        encoder_depth: int = 3,
        encoder_weights: Any = None,
        encoder_params: dict[str, Any] | None = None,
        in_channels: int = 3,
        classes: int = 1,
        activation: Any = None,
        aux_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.encoder = build_encoder(
            encoder_name, in_channels=in_channels, depth=encoder_depth, weights=encoder_weights, params=encoder_params
        )
        self.decoder = _SumDecoder(self.encoder.out_channels, self.encoder.reductions, 8)
        self.segmentation_head = SegmentationHead(8, classes, activation=activation, upsampling=2)
        if aux_params is not None:
            self.classification_head = ClassificationHead.from_aux_params(self.encoder.out_channels[-1], aux_params)
        self.initialize()
