"""seg-3d with seg-data and seg-train: its datasets through seg-data's registry API, its transforms and
planned configs through seg-train (the seg-3d session installs neither)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from seg_3d.plan import Fingerprint, plan, plan_to_toml
from seg_core.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

SEG = [sys.executable, "-m", "seg_core.cli"]


def _plan(root: str):
    fp = Fingerprint.from_lists([(1.0, 1.0, 1.0)] * 30, [(64, 64, 64)] * 30, num_classes=3, root=root)
    return plan(fp, "m")


def _seg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEG, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_registered_with_metadata_and_transforms() -> None:
    import seg_data
    from seg_core.plugins import get_registry

    registry = get_registry("datasets")
    for name in ("volume_folder", "msd", "synthetic_volumes"):
        info = registry.info(name)
        assert info["transforms"] == "seg_3d.data.transforms:build_transforms"
    meta = seg_data.resolve_metadata("synthetic_volumes", num_classes=5, size=16)
    assert meta.num_classes == 5 and meta.labels[4] == "sphere_4"
    ds = seg_data.create_dataset("synthetic_volumes", num_samples=1, size=8)
    assert ds.metadata == seg_data.resolve_metadata("synthetic_volumes")
    with pytest.raises(ConfigError, match="num_sample"):
        seg_data.create_dataset("synthetic_volumes", num_sample=1)


def test_seg_train_builds_volume_transforms_for_volume_datasets() -> None:
    from seg_3d.data.transforms import Compose, VolumeAugment, VolumeTransform
    from seg_train.config import parse_config
    from seg_train.run import build_datasets, build_transforms

    config = parse_config(
        {
            "data": {
                "dataset": "synthetic_volumes",
                "options": {"size": 16, "num_samples": 2},
                "augment": {"patch_size": 8, "flip": 0.5},
                "transform": {"normalize": "zscore"},
            }
        }
    )
    train_tf, val_tf = build_transforms(config)
    assert isinstance(train_tf, Compose) and isinstance(train_tf.steps[1], VolumeAugment)
    assert isinstance(val_tf, VolumeTransform)
    train_set, val_set, meta = build_datasets(config)
    assert tuple(train_set[0][0].shape) == (1, 8, 8, 8) and tuple(val_set[0][0].shape) == (1, 16, 16, 16)
    assert meta.num_classes == 3
    two_d = parse_config({"data": {"dataset": "synthetic", "augment": {"hflip": 0.5}}})
    assert type(build_transforms(two_d)[1]).__name__ == "SegmentationTransform"
    bad = parse_config({"data": {"dataset": "synthetic_volumes", "augment": {"patch_sise": 8}}})
    with pytest.raises(ConfigError, match="patch_sise.*patch_size"):
        build_transforms(bad)


def test_config_passes_seg_train_schema() -> None:
    from seg_train.config import parse_config
    from seg_train.config.schema import Config

    config = tomllib.loads(plan_to_toml(_plan(root="/data/vols")))
    # the fixed sections, without the registry checks: always
    Config.model_validate(config)
    parsed = parse_config(config)  # the registry checks: names and every component's arguments
    assert parsed.model.encoder_name == "resenc_m_3d"
    assert parsed.data.loader.batch_size == 20


def test_planned_config_checks_and_trains(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for sub in ("images", "labels"):
        (tmp_path / "vols" / sub).mkdir(parents=True)
    for i in range(5):
        label = np.zeros((8, 24, 24), np.uint8)
        label[2:6, 6:18, 8:16] = 1 + i % 2
        image = rng.normal(size=(8, 24, 24)).astype(np.float32) + label
        np.savez(tmp_path / "vols" / "images" / f"c{i}.npz", data=image, spacing=np.array([3.0, 1.0, 1.0]))
        np.savez(tmp_path / "vols" / "labels" / f"c{i}.npz", data=label, spacing=np.array([3.0, 1.0, 1.0]))
    assert _seg("plan", "vols", "--classes", "3", "--out", "p.toml", cwd=tmp_path).returncode == 0
    config = tomllib.loads((tmp_path / "p.toml").read_text())
    # 5 cases of 8 x 24 x 24: the dataset cap is round(5 x 4608 / 4608) = 5, more than the 4 training cases
    assert config["data"]["loader"] == {"batch_size": 5, "val_batch_size": 1, "drop_last": False}
    check = _seg("config", "check", "p.toml", cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    train = _seg("train", "p.toml", "--set", "trainer.epochs=1", "--set", "trainer.device='cpu'", cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    assert "val/miou" in train.stdout
