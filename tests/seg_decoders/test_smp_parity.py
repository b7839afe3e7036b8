"""Parameter counts and state-dict layout match smp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import seg_core
from seg_core.spec import load_catalog

from ._common import ARCHS, build, n_params

# decoder + segmentation-head parameter counts of smp (tests/integration re-reads them off smp itself)
SMP_DECODER_HEAD_PARAMS: dict[str, int] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "smp" / "decoder_head_params.json").read_text()
)["counts"]


# DPT (smp_weights=False: seg's has no resize layers, and smp builds it only with a timm ViT) is
# compared part by part in tests/integration/test_upernet_segformer_dpt_smp.py
@pytest.mark.parametrize("arch", [a for a in ARCHS if load_catalog("seg_decoders")[a]["smp_weights"]])
def test_parameter_counts_match_smp(arch: str) -> None:
    depth = 3 if arch == "pspnet" else 5
    with torch.device("meta"):
        model = seg_core.create_model(arch, encoder_depth=depth, encoder_params={"widths": [64, 64, 128, 256, 512]})
    assert model.encoder.out_channels == [3, 64, 64, 128, 256, 512][: depth + 1]
    assert n_params(model.decoder) + n_params(model.segmentation_head) == SMP_DECODER_HEAD_PARAMS[arch]


def test_unet_hand_count() -> None:
    # Unet block = conv3x3(cin+skip -> out, no bias) + BN(out) + conv3x3(out -> out) + BN(out)
    def block(cin: int, skip: int, out: int) -> int:
        return 9 * (cin + skip) * out + 2 * out + 9 * out * out + 2 * out

    expected = (
        block(512, 256, 256) + block(256, 128, 128) + block(128, 64, 64) + block(64, 64, 32) + block(32, 0, 16)
    ) + (9 * 16 + 1)  # 3x3 head to one class
    with torch.device("meta"):
        model = seg_core.create_model("unet", encoder_params={"widths": [64, 64, 128, 256, 512]})
    assert n_params(model.decoder) + n_params(model.segmentation_head) == expected  # the built model, by hand


def test_state_dict_keys_follow_smp_layout() -> None:
    model = build("deeplabv3plus", 5)
    keys = set(model.state_dict())
    for key in (
        "decoder.aspp.0.convs.0.0.weight",
        "decoder.aspp.0.convs.4.2.running_mean",
        "decoder.aspp.1.0.weight",
        "decoder.block1.0.weight",
        "decoder.block2.0.1.weight",
        "segmentation_head.0.weight",
    ):
        assert key in keys
    unet = set(build("unet", 3, decoder_attention_type="scse", decoder_channels=[32, 16, 16]).state_dict())
    assert "decoder.blocks.0.attention1.attention.cSE.1.weight" in unet
    assert "decoder.blocks.2.attention1.attention.cSE.1.weight" not in unet  # no skip there: not built
