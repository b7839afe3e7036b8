"""torch.hub: the repository's hubconf.py exposes every registered architecture, loaded from a local checkout."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

import pytest
import torch

import seg_core

ROOT = Path(__file__).resolve().parents[2]


def _hub_list() -> list[str]:
    """``torch.hub.list(ROOT, source="local")``; older/newer torch without ``source`` get the same rule."""
    if "source" in inspect.signature(torch.hub.list).parameters:
        return list(torch.hub.list(str(ROOT), source="local"))  # type: ignore[call-arg]
    # torch.hub.list's own rule, on the module it would import: public callables of hubconf.py.
    module = _import_hubconf()
    return [f for f in dir(module) if callable(getattr(module, f)) and not f.startswith("_")]


def _import_hubconf() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hubconf_under_test", ROOT / "hubconf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registered_architecture_is_an_entry_point() -> None:
    names = seg_core.get_registry("architectures").names()
    assert len(names) >= 5
    assert sorted(_hub_list()) == sorted(names)
    assert _import_hubconf().dependencies[0] == "torch"


@pytest.mark.parametrize("name", seg_core.get_registry("architectures").names())
def test_torch_hub_load_builds_each_architecture(name: str) -> None:
    # Each architecture's own default encoder (ENet and the real-time models have their own), no download.
    model = torch.hub.load(str(ROOT), name, source="local", encoder_weights=None, classes=3, trust_repo=True)
    assert isinstance(model, seg_core.SegmentationModel)
    assert model.architecture_name == name
    expected = seg_core.create_model(name, encoder_weights=None, classes=3)
    assert type(model) is type(expected) and model.config == expected.config
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in expected.parameters())


def test_torch_hub_model_runs() -> None:
    model = torch.hub.load(
        str(ROOT), "unet", source="local", encoder_name="basic_cnn", encoder_weights=None, classes=3, trust_repo=True
    ).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 3, 64, 64)


def test_entry_points_carry_help_and_check_arguments() -> None:
    hubconf = _import_hubconf()
    doc = hubconf.unet.__doc__
    assert "U-Net" in doc and "create_model('unet'" in doc and "hf-hub:" in doc
    with pytest.raises(seg_core.ConfigError, match="clases"):
        torch.hub.load(str(ROOT), "unet", source="local", encoder_name="basic_cnn", clases=3, trust_repo=True)


def test_pretrained_loads_a_saved_folder_and_checks_the_architecture(tmp_path: Path) -> None:
    torch.manual_seed(1)
    saved = seg_core.create_model("fpn", encoder_name="basic_cnn", encoder_weights=None, classes=2)
    saved.save_pretrained(tmp_path / "fpn")
    loaded = torch.hub.load(str(ROOT), "fpn", source="local", pretrained=str(tmp_path / "fpn"), trust_repo=True)
    state = saved.state_dict()
    assert all(torch.equal(v, state[k]) for k, v in loaded.state_dict().items())
    with pytest.raises(seg_core.ConfigError, match="holds a 'fpn' model, not 'unet'"):
        torch.hub.load(str(ROOT), "unet", source="local", pretrained=str(tmp_path / "fpn"), trust_repo=True)
