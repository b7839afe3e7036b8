"""Every architecture with a hierarchical transformer (Swin) and a plain ViT, at depths 3, 4 and 5.

The seg-decoders tests cover the stride-2 and stride-4-stem CNN encoders; these add the
transformer encoders of seg-encoders-timm (installed in the integration session).
"""

from __future__ import annotations

from typing import Any

import pytest

import seg_core
from seg_core.errors import ConfigError, IncompatibleEncoderError
from seg_core.testing import check_architecture

SWIN = {
    "encoder_name": "tu-swin_tiny_patch4_window7_224",
    "encoder_params": {
        "img_size": 64,
        "embed_dim": 16,
        "depths": (1, 1, 1, 1),
        "num_heads": (1, 1, 1, 1),
        "window_size": 2,
    },
}
VIT = {"encoder_name": "test_vit", "encoder_params": {"img_size": 64, "dynamic_img_size": True}}
SMALL_DECODERS: dict[str, dict[str, Any]] = {
    "unet": {"decoder_channels": [16] * 5},
    "unetplusplus": {"decoder_channels": [16] * 5},
    "manet": {"decoder_channels": [16] * 5, "decoder_pab_channels": 8},
    "fpn": {"decoder_pyramid_channels": 16, "decoder_segmentation_channels": 32},
    "pspnet": {"psp_out_channels": 16},
    "pan": {"decoder_channels": 16},
    "deeplabv3": {"decoder_channels": 16},
    "deeplabv3plus": {"decoder_channels": 16},
}
DILATED = {"deeplabv3", "deeplabv3plus", "pan"}  # ask the encoder for output stride 8 or 16
#: ENet keeps its own backbone (its tests are in tests/seg_decoders); every other architecture takes any encoder.
ENCODER_ARCHS = [a for a in seg_core.list_architectures() if a != "enet"]


def _options(arch: str, depth: int) -> dict[str, Any]:
    options = dict(SMALL_DECODERS.get(arch, {}))
    if "decoder_channels" in options and isinstance(options["decoder_channels"], list):
        options["decoder_channels"] = options["decoder_channels"][:depth]
    return options


@pytest.mark.parametrize("depth", [3, 4, 5])
@pytest.mark.parametrize("arch", ENCODER_ARCHS)
def test_with_vit(arch: str, depth: int) -> None:
    report = check_architecture(arch, depths=(depth,), input_size=64, **VIT, **_options(arch, depth))
    assert any("all params used" in line for line in report.checks)


@pytest.mark.parametrize("depth", [3, 4, 5])
@pytest.mark.parametrize("arch", ENCODER_ARCHS)
def test_with_hierarchical_transformer(arch: str, depth: int) -> None:
    options = _options(arch, depth)
    if arch in DILATED:
        # timm's Swin cannot be dilated: the default output stride 8/16 fails clearly at construction
        with pytest.raises(ConfigError, match="output_stride"):
            seg_core.create_model(arch, encoder_depth=depth, **SWIN, **options)
        if arch != "pan":
            return
        options["encoder_output_stride"] = 32  # PAN's other supported stride needs no dilation
        # PAN's pyramid attention needs 8 x the output stride per axis: build Swin at 256 px
        encoder = {**SWIN, "encoder_params": {**SWIN["encoder_params"], "img_size": 256}}
        report = check_architecture(arch, depths=(depth,), **encoder, **options)
        assert any("all params used" in line for line in report.checks)
        return
    if arch == "lraspp" and depth == 3:
        # LRASPP's low-level branch reads level depth - 2 = 1, which Swin's stride-4 stem leaves empty
        with pytest.raises(IncompatibleEncoderError, match="LRASPP needs features at level 1"):
            seg_core.create_model(arch, encoder_depth=depth, **SWIN, **options)
        return
    report = check_architecture(arch, depths=(depth,), **SWIN, **options)
    assert any("all params used" in line for line in report.checks)
