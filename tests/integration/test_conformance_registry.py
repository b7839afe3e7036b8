"""Every registered encoder family and architecture goes through the same conformance checks."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import seg_core
from seg_core.testing import check_architecture, check_encoder


def _encoder_examples() -> list[str]:
    """One encoder per family of directly registered names, and every provider's declared examples.

    A provider that declares no ``examples`` yields a placeholder that fails below: a family
    must never be skipped silently.
    """
    reg = seg_core.get_registry("encoders")
    by_family: dict[str, str] = {}
    for entry in reg.entries():
        by_family.setdefault(str(entry.info.get("family", entry.name)), entry.name)
    examples = sorted(by_family.values())
    for provider, source in reg.providers():
        declared = list(getattr(provider, "examples", ()))[:2]
        examples.extend(declared or [f"{_NO_EXAMPLES}{provider.name} ({source.describe()})"])
    return examples


_NO_EXAMPLES = "<no examples> "


def test_every_provider_family_is_covered() -> None:
    providers = seg_core.get_registry("encoders").providers()
    assert providers, "seg-encoders-timm's provider is not registered"
    for provider, _ in providers:
        assert list(getattr(provider, "examples", ())), f"provider {provider.name} declares no examples"


@pytest.mark.parametrize("encoder", _encoder_examples())
def test_encoder_family_conformance(encoder: str) -> None:
    assert not encoder.startswith(_NO_EXAMPLES), f"{encoder}: declare `examples` so its family is checked"
    info = seg_core.get_registry("encoders").info(encoder)
    kwargs = {"input_size": 64, "check_compile": False}
    dims = info.get("spatial_dims", (2,))
    if isinstance(dims, (list, tuple)) and tuple(dims) == (3,):  # 3D-only (seg-3d): volumes of 64^3
        kwargs["input_size"] = (64, 64, 64)
    report = check_encoder(encoder, **kwargs)
    assert report.checks
    if isinstance(dims, (list, tuple)) and 2 in dims and 3 in dims:  # one factory for both: spatial_dims=3
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


def _own_encoder(arch: str) -> str | None:
    """The architecture's default encoder when it is not a registered one (its own backbone, e.g. ENet's)."""
    cls = seg_core.get_registry("architectures").get(arch)
    default = inspect.signature(cls).parameters["encoder_name"].default
    return None if default in seg_core.get_registry("encoders") else str(default)


def _architecture_cases() -> list[Any]:
    cases = []
    for arch in seg_core.list_architectures():
        own = _own_encoder(arch)
        for encoder in [own] if own else ["basic_cnn", "basic_cnn_s4"]:
            cases.append(pytest.param(arch, encoder, id=f"{encoder}-{arch}"))
    return cases


@pytest.mark.parametrize(("arch", "encoder"), _architecture_cases())
def test_architecture_conformance(arch: str, encoder: str) -> None:
    if encoder.startswith("basic_cnn"):
        options: dict[str, Any] = {"depths": (4,), "encoder_params": {"widths": [8, 8, 16, 16, 32]}}
    else:  # its own backbone, at the depth the architecture declares
        cls = seg_core.get_registry("architectures").get(arch)
        options = {"depths": (cls.spec.requires.min_depth,)}
    report = check_architecture(arch, encoder_name=encoder, input_size=64, **options)
    assert any("round trip" in line for line in report.checks)
