"""timm encoders inside real architectures (the integration session installs every package)."""

from __future__ import annotations

from typing import Any

import pytest

from seg_core.testing import check_architecture

CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("unet", "tu-test_efficientnet", {"depths": (3, 5)}),
    ("unet", "tu-test_convnext", {"depths": (4,), "check_aux": False, "check_save_load": False}),
    ("fpn", "test_vit", {"depths": (5,), "check_aux": False, "encoder_params": {"img_size": 64}}),
    (
        "deeplabv3plus",
        "test_resnet",
        {"depths": (5,), "check_aux": False, "batch_sizes": (2,), "encoder_output_stride": 16},
    ),
]


@pytest.mark.parametrize(("arch", "encoder", "options"), CASES, ids=[f"{a}-{e}" for a, e, _ in CASES])
def test_architecture_with_timm_encoder(arch: str, encoder: str, options: dict[str, Any]) -> None:
    report = check_architecture(arch, encoder_name=encoder, **options)
    assert any("all params used" in c for c in report.checks)
