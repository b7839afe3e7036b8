"""`seg train / eval / demo / config` end to end, in fresh processes, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SEG = [sys.executable, "-m", "seg_core.cli"]
TINY = [
    "--set", "model.encoder_depth=3",
    "--set", "model.decoder_channels=[16, 8, 4]",
    "--set", "data.options={size = 32, num_samples = 16}",
    "--set", "data.val_options={num_samples = 6}",
    "--set", "data.loader.batch_size=4",
    "--set", "trainer.epochs=2",
    "--set", "scheduler.warmup_steps=2",
]  # fmt: skip


def _seg(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*SEG, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"seg {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def test_config_init_train_eval_and_resume(tmp_path: Path) -> None:
    _seg("config", "init", "config.toml", cwd=tmp_path)
    assert "[trainer]" in (tmp_path / "config.toml").read_text()
    refused = _seg("config", "init", "config.toml", cwd=tmp_path, check=False)
    assert refused.returncode != 0 and "--force" in refused.stderr

    out = _seg("train", "config.toml", *TINY, "--set", "paths.name=run", cwd=tmp_path)
    run = tmp_path / "runs" / "run"
    assert f"run folder: {Path('runs') / 'run'}" in out.stdout
    for name in ("config.toml", "train.log", "metrics.jsonl", "metrics.csv", "checkpoints/latest.pt",
                 "checkpoints/best.pt", "best_model/config.json", "plots/curves.png"):  # fmt: skip
        assert (run / name).is_file(), name
    assert list((run / "plots").glob("confusion_val_epoch*.png")) and list((run / "snapshots").glob("*.png"))
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]

    evaluated = _seg(
        "eval", "config.toml", *TINY, "--checkpoint", str(run / "best_model"), "--plot", "cm.png", cwd=tmp_path
    )
    assert "miou" in evaluated.stdout and "confusion matrix" in evaluated.stdout and (tmp_path / "cm.png").is_file()

    _seg(
        "train",
        "config.toml",
        *TINY,
        "--set",
        "paths.name=run",
        "--set",
        "trainer.epochs=3",
        "--resume",
        "auto",
        cwd=tmp_path,
    )
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    assert "resumed from" in (run / "train.log").read_text()


def test_a_bad_config_is_reported_without_a_traceback(tmp_path: Path) -> None:
    _seg("config", "init", "config.toml", cwd=tmp_path)
    result = _seg(
        "train",
        "config.toml",
        "--set",
        "model.encoder_depht=4",
        "--set",
        "trainer.precision=fp8",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "model.encoder_depht" in result.stderr and "did you mean 'encoder_depth'" in result.stderr
    assert "trainer.precision: got 'fp8'" in result.stderr
    assert not (tmp_path / "runs").exists(), "nothing may run before the config is valid"


def test_resume_from_a_missing_path_names_it(tmp_path: Path) -> None:
    _seg("config", "init", "config.toml", cwd=tmp_path)
    result = _seg("train", "config.toml", "--resume", "runs/nope", cwd=tmp_path, check=False)
    assert result.returncode == 2 and "runs/nope" in result.stderr and "does not exist" in result.stderr


@pytest.mark.parametrize("command", ["train", "eval", "demo", "config"])
def test_commands_are_listed_without_importing_torch(command: str) -> None:
    code = "import sys; from seg_core.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    helped = subprocess.run([*SEG, "--help"], capture_output=True, text=True, check=True)
    assert command in helped.stdout
