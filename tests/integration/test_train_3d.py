"""`seg train` on seg-3d's shipped 3D demo config, in a fresh process, as a user runs it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from importlib import resources
from pathlib import Path

SEG = [sys.executable, "-m", "seg_core.cli"]


def _demo3d() -> Path:
    config = resources.files("seg_3d").joinpath("configs/demo3d.toml")
    assert config.is_file(), "demo3d.toml is shipped as package data"
    return Path(str(config))


def _seg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*SEG, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"seg {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def test_the_3d_demo_config_trains_through_seg_train(tmp_path: Path) -> None:
    config = _demo3d()
    _seg("config", "check", str(config), cwd=tmp_path)
    _seg("train", str(config), "--set", "paths.name=run3d", "--set", "trainer.device='cpu'", cwd=tmp_path)
    run = tmp_path / "runs" / "run3d"
    for name in ("config.toml", "train.log", "metrics.jsonl", "metrics.csv", "checkpoints/latest.pt",
                 "checkpoints/best.pt", "best_model/config.json", "plots/curves.png"):  # fmt: skip
        assert (run / name).is_file(), name
    assert 'dataset = "synthetic_volumes"' in (run / "config.toml").read_text()
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert lines[1]["train/loss"] < lines[0]["train/loss"]
    for line in lines:  # per-class metrics carry the volume dataset's class names
        assert {"val/per_class_iou/background", "val/per_class_iou/sphere", "val/per_class_iou/cube"} <= set(line)
        assert all(math.isfinite(v) for v in line.values())
    # whole 32^3 validation volumes: the model segments more than the background
    assert lines[-1]["val/per_class_iou/sphere"] + lines[-1]["val/per_class_iou/cube"] > 0.05
    saved = json.loads((run / "best_model" / "config.json").read_text())
    assert "unet" in json.dumps(saved).lower()
    # inference on whole volumes through seg-train's N-d sliding window
    evaluated = _seg(
        "eval", str(config), "--checkpoint", str(run / "best_model"), "--window", "24,24,24",
        "--set", "trainer.device='cpu'", cwd=tmp_path,
    )  # fmt: skip
    assert "miou" in evaluated.stdout and "sphere" in evaluated.stdout and "ellipsoid" not in evaluated.stdout
    # seg eval --tta on volumes: the flips are read for the model's 3 spatial axes
    flipped = _seg(
        "eval", str(config), "--checkpoint", str(run / "best_model"), "--tta", "flip", "--set", "trainer.device='cpu'",
        cwd=tmp_path,
    )  # fmt: skip
    assert "miou" in flipped.stdout
    _predict_volumes(run, tmp_path)


def _predict_volumes(run: Path, tmp_path: Path) -> None:
    """`seg predict` on volumes writes masks with the input's geometry; a 2D image fails on its own."""
    import numpy as np

    volumes = tmp_path / "volumes"
    volumes.mkdir()
    rng = np.random.default_rng(0)
    affine = np.diag([2.0, 0.8, 0.8, 1.0])
    affine[:3, 3] = (-10.0, 5.0, 3.0)
    np.savez(volumes / "case_a.npz", data=rng.normal(size=(20, 28, 24)).astype(np.float32),
             spacing=np.array([2.0, 0.8, 0.8]), affine=affine)  # fmt: skip
    np.save(volumes / "case_b.npy", rng.normal(size=(16, 16, 16)).astype(np.float32))
    (volumes / "broken.npy").write_bytes(b"not numpy")
    result = subprocess.run(
        [*SEG, "predict", str(volumes), "--checkpoint", str(run), "--out", str(tmp_path / "pred"), "--window", "16",
         "--tta", "hflip", "--probabilities"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 of 3 image(s) predicted" in result.stdout and "broken.npy" in result.stderr
    mask = np.load(tmp_path / "pred" / "case_a_mask.npz")
    assert mask["data"].shape == (20, 28, 24) and mask["data"].max() < 3
    np.testing.assert_allclose(mask["affine"], affine)
    np.testing.assert_allclose(mask["spacing"], [2.0, 0.8, 0.8])
    probs = np.load(tmp_path / "pred" / "case_a_probabilities.npy")
    assert probs.shape == (3, 20, 28, 24) and (probs.argmax(0) == mask["data"]).all()
    assert np.load(tmp_path / "pred" / "case_b_mask.npy").shape == (16, 16, 16)
