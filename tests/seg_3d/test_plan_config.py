"""A plan printed as a seg-train config: the TOML parses, carries the plan, and passes seg-train's schema."""

from __future__ import annotations

import sys

import pytest

from seg_3d.plan import Fingerprint, Plan, encoder_geometry, plan, plan_config, plan_to_toml
from seg_3d.plan.config import ROOT_PLACEHOLDER, normalization
from seg_3d.plan.toml_writer import dumps, value
from seg_core.errors import ConfigError, PluginError, UnknownNameError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


def _plan(dataset: str | None = None, root: str | None = None) -> Plan:
    fp = Fingerprint.from_lists([(1.0, 1.0, 1.0)] * 30, [(64, 64, 64)] * 30, num_classes=3, dataset=dataset, root=root)
    return plan(fp, "m")


def test_toml_carries_the_plan() -> None:
    p = _plan(root="/data/vols")
    config = tomllib.loads(plan_to_toml(p))
    model = config["model"]
    assert model["architecture"] == "unet"
    assert model["encoder_name"] == "resenc_m_3d"
    # 64^3 at 1 mm: 4 pools -> 5 stages; stage 0 runs at full resolution inside the encoder, levels 1..4
    # are stages 1..4
    assert model["encoder_depth"] == 4
    assert model["encoder_strides"] == [[2, 2, 2]] * 4
    # decoder widths: back to stages 3, 2, 1, 0 (256, 128, 64, 32)
    assert model["decoder_channels"] == [256, 128, 64, 32]
    assert (model["classes"], model["in_channels"]) == (3, 1)
    assert model["encoder_params"] == {"kernel_sizes": [[3, 3, 3]] * 5}
    assert model["decoder_use_norm"] == "instancenorm"
    data = config["data"]
    assert data["dataset"] == "volume_folder"
    assert data["root"] == "/data/vols"
    assert data["options"] == {"num_classes": 3}
    assert data["augment"]["patch_size"] == [64, 64, 64]
    assert data["transform"] == {"target_spacing": [1.0, 1.0, 1.0], "normalize": "zscore", "divisible_by": [16] * 3}
    assert data["loader"]["batch_size"] == 20  # see test_plan_planner: raw 20, cap 30
    assert config["criterion"]["name"] == "combined"
    assert {t["name"] for t in config["criterion"]["terms"]} == {"cross_entropy", "dice"}
    assert config["optimizer"]["name"] == "SGD"
    text = plan_to_toml(p)
    assert "# why:" in text
    assert "batch size 20" in text


def test_dataset_and_root_choices() -> None:
    assert plan_config(_plan(dataset="msd", root="/d"))["data"]["dataset"] == "msd"
    unknown = plan_config(_plan())
    assert unknown["data"]["root"] == ROOT_PLACEHOLDER
    assert "placeholder" in plan_to_toml(_plan())
    msd = plan_config(_plan(), root="/x", dataset="msd")["data"]
    assert (msd["root"], msd["dataset"]) == ("/x", "msd")
    assert "options" not in msd  # msd reads its classes from dataset.json
    with pytest.raises(ConfigError, match="dataset"):
        plan_config(_plan(), dataset="synthetic")
    with pytest.raises(ConfigError, match="epochs"):
        plan_config(_plan(), epochs=0)


def test_thick_slice_geometry() -> None:
    fp = Fingerprint.from_lists([(3.6, 0.6, 0.6)] * 10, [(20, 320, 320)] * 10, num_classes=2)
    p = plan(fp, "m")
    geometry = encoder_geometry(p)
    assert geometry["encoder_depth"] == p.depth - 1 == len(geometry["encoder_strides"])
    assert geometry["encoder_strides"][:3] == [[1, 2, 2], [1, 2, 2], [2, 2, 2]]
    assert len(geometry["decoder_channels"]) == p.depth - 1
    # the spacing rule gives stage 2 (spacing 3.6 vs 2.4) a full kernel although its stride is (1, 2, 2)
    kernels = plan_config(p)["model"]["encoder_params"]["kernel_sizes"]
    assert kernels[:3] == [[1, 3, 3], [1, 3, 3], [3, 3, 3]]
    # pools per axis (2, 6, 6) -> validation volumes padded to multiples of (4, 64, 64)
    assert plan_config(p)["data"]["transform"]["divisible_by"] == [4, 64, 64]


def test_unknown_classes_are_left_to_the_dataset() -> None:
    p = plan(Fingerprint.from_lists([(1, 1, 1)] * 4, [(32, 32, 32)] * 4))
    config = plan_config(p)
    assert "classes" not in config["model"]
    assert "options" not in config["data"]


def test_ct_normalization_from_fingerprint_statistics() -> None:
    stats = {"0": {"percentile_00_5": -1000.0, "percentile_99_5": 400.0, "mean": 50.0, "std": 120.0}}
    ct = Fingerprint.from_lists([(1, 1, 1)] * 4, [(32, 32, 32)] * 4, modalities=("CT",), intensity=stats)
    assert normalization(plan(ct)) == {"normalize": "ct", "window": [-1000.0, 400.0], "mean": 50.0, "std": 120.0}
    mri = Fingerprint.from_lists([(1, 1, 1)] * 4, [(32, 32, 32)] * 4, modalities=("T2",), intensity=stats)
    assert normalization(plan(mri)) == {"normalize": "zscore"}
    no_stats = Fingerprint.from_lists([(1, 1, 1)] * 4, [(32, 32, 32)] * 4, modalities=("CT",))
    assert normalization(plan(no_stats)) == {"normalize": "zscore"}


def test_toml_writer_values_round_trip() -> None:
    data = {
        "a": {"s": 'quote " back \\ tab \t ünï', "f": 3e-05, "i": -2, "b": False, "l": [[1, 2], [3]], "e": []},
        "t": {"inline": [{"name": "x", "weight": 0.5}], "sub": {"k": 1}},
    }
    parsed = tomllib.loads(dumps(data, header=["line one", "line two\nsplit"], comments={"t": ["about t"]}))
    assert parsed == data
    assert value({}) == "{}"
    with pytest.raises(ValueError, match="finite"):
        value(float("nan"))
    with pytest.raises(ValueError, match="cannot write"):
        value(None)


def _registered(kind: str, name: str) -> bool:
    from seg_core import get_registry

    try:
        get_registry(kind).get(name)
    except (UnknownNameError, PluginError):
        return False
    return True


def test_emitted_model_and_transforms_build_and_keep_the_patch_shape() -> None:
    import torch

    import seg_core
    from seg_3d.data import build_transforms

    # 3 x 1 x 1 mm (not > 3x: median kept), 8 x 24 x 24: stage 1 (1, 2, 2) (3 / 1 >= 2), stage 2 (2, 2, 2)
    # (3 / 2 < 2), then 4 x 6 x 6 < 8 stops; kernels (1, 3, 3), (3, 3, 3), bottleneck (3, 3, 3)
    p = plan(Fingerprint.from_lists([(3.0, 1.0, 1.0)] * 5, [(8, 24, 24)] * 5, num_classes=3), "m")
    config = plan_config(p)
    train = build_transforms(config["data"]["augment"], config["data"]["transform"], train=True)
    assert [type(step).__name__ for step in train.steps] == ["VolumeTransform", "VolumeAugment"]
    options = dict(config["model"])
    architecture = options.pop("architecture")
    model = seg_core.create_model(architecture, **options)
    assert tuple(model.encoder.axis_reductions[-1]) == (2, 4, 4)
    assert [tuple(k) for k in model.encoder.kernel_sizes] == [(1, 3, 3), (3, 3, 3), (3, 3, 3)]
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 1, 8, 24, 24)).shape == (1, 3, 8, 24, 24)
