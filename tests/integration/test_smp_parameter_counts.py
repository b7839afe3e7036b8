"""The decoder + head parameter counts that tests/seg_decoders pins are smp's own, read off smp live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seg_core.spec import load_catalog

CATALOG = load_catalog("seg_decoders")
PINNED = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "smp" / "decoder_head_params.json").read_text())


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# smp builds DPT only with a timm ViT, and seg's differs (smp_weights=False): test_upernet_segformer_dpt_smp.py
@pytest.mark.parametrize("arch", sorted(name for name, entry in CATALOG.items() if entry["smp_weights"]))
def test_pinned_counts_are_smps(arch: str) -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    depth = 3 if arch == "pspnet" else 5
    with torch.device("meta"):
        model = getattr(smp, CATALOG[arch]["smp_class"])("resnet34", encoder_weights=None, encoder_depth=depth)
    assert _count(model.decoder) + _count(model.segmentation_head) == PINNED["counts"][arch]
