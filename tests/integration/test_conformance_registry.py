"""Every registered encoder family and architecture goes through the same conformance checks."""

from __future__ import annotations

import pytest

import seg_core
from seg_core.testing import check_architecture, check_encoder


def _encoder_examples() -> list[str]:
    reg = seg_core.get_registry("encoders")
    by_family: dict[str, str] = {}
    for name in reg._entries.values():
        by_family.setdefault(str(name.info.get("family", name.name)), name.name)
    examples = sorted(by_family.values())
    for slot in reg._providers:
        examples.extend(getattr(slot.provider, "examples", [])[:2])
    return examples


@pytest.mark.parametrize("encoder", _encoder_examples())
def test_encoder_family_conformance(encoder: str) -> None:
    info = seg_core.get_registry("encoders").info(encoder)
    kwargs = {"input_size": 64, "check_compile": False}
    dims = info.get("spatial_dims", (2,))
    report = check_encoder(encoder, **kwargs)
    assert report.checks
    if isinstance(dims, (list, tuple)) and 3 in dims:
        check_encoder(
            encoder,
            spatial_dims=3,
            input_size=32,
            depths=(3,),
            in_channels=(1,),
            check_export=False,
            check_compile=False,
            check_dilation=False,
        )


@pytest.mark.parametrize("arch", seg_core.list_architectures())
@pytest.mark.parametrize("encoder", ["basic_cnn", "basic_cnn_s4"])
def test_architecture_conformance(arch: str, encoder: str) -> None:
    report = check_architecture(
        arch, encoder_name=encoder, depths=(4,), input_size=64, encoder_params={"widths": [8, 8, 16, 16, 32]}
    )
    assert any("round trip" in line for line in report.checks)
