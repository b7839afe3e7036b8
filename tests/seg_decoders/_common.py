"""Shared helpers of the seg-decoders tests: the architectures come from the registry."""

from __future__ import annotations

from typing import Any

import torch

import seg_core
from seg_core.plugins import get_registry
from seg_core.spec import load_catalog

# every architecture seg-decoders registers (the registry may hold other packages' too)
ARCHS = sorted(
    name
    for name in get_registry("architectures").names()
    if get_registry("architectures").source(name).distribution == "seg-decoders"
)
#: Architectures that keep their own backbone (take no registered encoder).
OWN_ENCODER = {"enet": "enet"}
#: Architectures that take any registered encoder (the basic_cnn conformance loops).
ENCODER_ARCHS = [a for a in ARCHS if a not in OWN_ENCODER]
#: Those whose blocks are dimension-generic.
ARCHS_3D = [a for a in ENCODER_ARCHS if 3 in load_catalog("seg_decoders")[a]["spatial_dims"]]
#: PixSeg's real-time models.
REALTIME = ["bisenet", "enet", "fcn", "lraspp", "sfnet", "sfnet_lite"]
TINY = {"widths": [8, 8, 16, 16, 32]}
WIDE = {"widths": [16, 16, 32, 32, 32]}
TINY_3D = {"spatial_dims": 3, "widths": [4, 8, 8, 16, 16]}


def small(arch: str, depth: int) -> dict[str, Any]:
    """Narrow decoder options valid at ``depth``."""
    return {
        "unet": {"decoder_channels": [16] * depth},
        "unetplusplus": {"decoder_channels": [16] * depth},
        "manet": {"decoder_channels": [16] * depth, "decoder_pab_channels": 8},
        "linknet": {},
        "fpn": {"decoder_pyramid_channels": 16, "decoder_segmentation_channels": 32},
        "pspnet": {"psp_out_channels": 16},
        "pan": {"decoder_channels": 8},
        "deeplabv3": {"decoder_channels": 16, "decoder_atrous_rates": (1, 2, 3)},
        "deeplabv3plus": {"decoder_channels": 16, "decoder_atrous_rates": (1, 2, 3)},
        "upernet": {"decoder_channels": 16},
        "segformer": {"decoder_segmentation_channels": 16},
        "dpt": {"decoder_intermediate_channels": None, "decoder_fusion_channels": 16},
        "fcn": {},
        "lraspp": {"decoder_channels": 8},
        "bisenet": {"decoder_spatial_channels": 8, "decoder_context_channels": 8, "decoder_channels": 16},
        "sfnet": {"decoder_channels": 8},
        "sfnet_lite": {"decoder_channels": 8},
        "enet": {"enet_channels": (8, 16, 16)},
    }[arch]


def build(arch: str, depth: int = 3, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """A tiny ``arch`` on ``basic_cnn`` (whatever the architecture's default encoder), or on its own backbone."""
    options = {**small(arch, depth), **kwargs}
    if arch in OWN_ENCODER:
        options.setdefault("encoder_name", OWN_ENCODER[arch])
        return seg_core.create_model(arch, **options)
    options.setdefault("encoder_name", "basic_cnn")
    return seg_core.create_model(arch, encoder_depth=depth, encoder_params=params or TINY, **options)


def n_params(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())
