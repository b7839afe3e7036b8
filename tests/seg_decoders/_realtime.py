"""Shared helpers of the real-time model tests (tiny widths, basic_cnn where an encoder is taken)."""

from __future__ import annotations

from typing import Any

import torch

import seg_core

TINY = {"widths": [8, 8, 16, 16, 32]}

#: Tiny options per architecture (encoder-taking ones use basic_cnn).
SMALL: dict[str, dict[str, Any]] = {
    "fcn": {"encoder_name": "basic_cnn", "encoder_params": TINY},
    "lraspp": {"encoder_name": "basic_cnn", "encoder_params": TINY, "decoder_channels": 8},
    "bisenet": {
        "encoder_name": "basic_cnn",
        "encoder_params": TINY,
        "decoder_spatial_channels": 8,
        "decoder_context_channels": 8,
        "decoder_channels": 16,
    },
    "sfnet": {"encoder_name": "basic_cnn", "encoder_params": TINY, "decoder_channels": 8},
    "sfnet_lite": {"encoder_name": "basic_cnn", "encoder_params": TINY, "decoder_channels": 8},
    "enet": {"encoder_name": "enet", "enet_channels": (8, 16, 16)},
}


def build(arch: str, depth: int = 5, **kwargs: Any) -> Any:
    options = {**SMALL[arch], **kwargs}
    if arch != "enet":
        options.setdefault("encoder_depth", depth)
    return seg_core.create_model(arch, **options)


def n_params(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())
