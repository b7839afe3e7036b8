"""``seg plan`` end to end, in a subprocess: reasons printed, a TOML config written that parses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

SEG = [sys.executable, "-m", "seg_core.cli"]


def _seg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEG, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_plan_from_spacings_and_shapes_writes_a_config(tmp_path: Path) -> None:
    out = tmp_path / "plan.toml"
    result = _seg(
        "plan", "--spacings", "3.6,0.6,0.6", "3.6x0.6x0.6", "--shapes", "20,320,320", "20,320,320",
        "--classes", "3", "--preset", "L", "--root", "/data/ct", "--epochs", "7", "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "target spacing 3.6 x 0.6 x 0.6 mm" in result.stdout
    assert "batch size" in result.stdout
    assert f"wrote {out}" in result.stdout
    config = tomllib.loads(out.read_text())
    assert config["model"]["encoder_name"] == "resenc_l_3d"
    # thick slices: stage 1 pools in plane only (3.6 / 0.6 = 6 >= 2)
    assert config["model"]["encoder_strides"][:2] == [[1, 2, 2], [1, 2, 2]]
    assert config["model"]["classes"] == 3
    assert config["data"]["root"] == "/data/ct"
    assert config["trainer"]["epochs"] == 7


def test_plan_from_fingerprint_json_prints_the_config(tmp_path: Path) -> None:
    fingerprint = {"spacings": [[1, 1, 1]] * 30, "shapes_after_crop": [[64, 64, 64]] * 30}
    (tmp_path / "fp.json").write_text(json.dumps(fingerprint))
    result = _seg("plan", "fp.json", "--classes", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = tomllib.loads(result.stdout)
    assert config["data"]["loader"]["batch_size"] == 20  # 64^3 at 1 mm, M: see test_plan_planner
    assert config["data"]["augment"]["patch_size"] == [64, 64, 64]
    assert "placeholder" in result.stderr


def test_plan_from_a_volume_folder(tmp_path: Path) -> None:
    images = tmp_path / "vols" / "images"
    images.mkdir(parents=True)
    for i in range(3):
        np.savez(images / f"c{i}.npz", data=np.zeros((12, 16, 16), np.float32), spacing=np.array([2.0, 1.0, 1.0]))
    result = _seg("plan", "vols", "--gpu-memory", "4", "--save-fingerprint", "fp.json", "--out", "p.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = tomllib.loads((tmp_path / "p.toml").read_text())
    assert config["data"]["dataset"] == "volume_folder"
    assert config["data"]["root"] == "vols"
    assert config["data"]["transform"]["target_spacing"] == [2.0, 1.0, 1.0]
    assert json.loads((tmp_path / "fp.json").read_text())["shapes"] == [[12, 16, 16]] * 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "needs a dataset folder"),
        (("--spacings", "1,1,1"), "go together"),
        (("missing_dir",), "neither a dataset folder"),
        (("--spacings", "1;1;1", "--shapes", "8,8,8"), "--spacings"),
        (("--spacings", "1,1,1", "--shapes", "8,8,8", "--gpu-memory", "-1"), "gpu_memory_gb"),
    ],
)
def test_plan_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = _seg("plan", *args, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
