"""DistributedDataParallel for real: ``torchrun`` with 2 CPU processes (gloo), as a user launches it.

One 2-process run of ``seg train``, then, in a single process: evaluating its checkpoint must give
the metrics the 2 processes logged (synced, every validation sample exactly once, no padding:
7 samples split 4 + 3), and resuming it on 1 process must work and note the world-size change.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SEG = [sys.executable, "-m", "seg_core.cli"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
TIMEOUT = 240

CONFIG = """\
[model]
architecture = "unet"
encoder_name = "basic_cnn"
encoder_depth = 3
decoder_channels = [16, 8, 4]

[data]
dataset = "synthetic"
options = {{ size = 32, num_samples = 16 }}
val_options = {{ num_samples = 7, data_seed = 1 }}  # odd: the 2 shards are uneven (4 + 3)

[data.loader]
batch_size = 2

[criterion]
name = "cross_entropy"

[optimizer]
name = "AdamW"
lr = 0.01  # high enough that the model predicts more than the background after 2 epochs

[trainer]
device = "cpu"
seed = 0

[paths]
runs = "{runs}"
"""


def _env() -> dict[str, str]:
    """This environment without torchrun's variables (so a single process is one), one thread per process."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR",
                                                                "MASTER_PORT", "LOCAL_WORLD_SIZE")}  # fmt: skip
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(
            f"{' '.join(command)} timed out after {TIMEOUT} s:\n{error.stdout}\n{error.stderr}"
        ) from None
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({result.returncode}):\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def _history(run: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def test_torchrun_two_processes_sync_metrics_and_resume_on_one(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(runs=runs.as_posix()), encoding="utf-8")

    launched = _run(
        [*TORCHRUN, "-m", "seg_core.cli", "train", str(config), "--set", "trainer.epochs=2",
         "--set", "paths.name='ddp'"],
        cwd=tmp_path,
    )  # fmt: skip

    # One run folder, written by rank 0 only.
    assert sorted(p.name for p in runs.iterdir()) == ["ddp"]
    run = runs / "ddp"
    for name in ("config.toml", "train.log", "metrics.jsonl", "metrics.csv", "checkpoints/latest.pt",
                 "checkpoints/best.pt", "best_model/config.json"):  # fmt: skip
        assert (run / name).is_file(), name
    history = _history(run)
    assert [line["epoch"] for line in history] == [1, 2]
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 1 + 2  # header + one row per epoch
    log = (run / "train.log").read_text()
    for epoch in (1, 2):
        assert log.count(f"epoch {epoch}/2 train/loss") == 1, log  # one writer: rank 0
    assert launched.stdout.count("run folder:") == 1, launched.stdout  # the final report: rank 0 only
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "latest.pt"]
    leftovers = [p for p in run.rglob("*") if p.is_file() and (".tmp" in p.name or p.name.startswith("."))]
    assert not leftovers, leftovers
    last = history[-1]
    assert last["step"] == 2 * 4  # 16 samples / 2 processes / batch 2 = 4 steps per epoch

    # The logged metrics are synced over both processes, each validation sample counted once:
    # one process evaluating the same weights on all 7 samples gets the same numbers.
    code = (
        "import json, sys\n"
        "from seg_train.config import load_config\n"
        "from seg_train.run import evaluate\n"
        "metrics, _, _ = evaluate(load_config(sys.argv[1], []), sys.argv[2])\n"
        "print(json.dumps(metrics))\n"
    )
    evaluated = _run([sys.executable, "-c", code, str(config), str(run / "checkpoints" / "latest.pt")], cwd=tmp_path)
    single = json.loads(evaluated.stdout.strip().splitlines()[-1])
    predicted = [k for k, v in last.items() if k.startswith("val/per_class_iou/") and v > 0]
    assert len(predicted) >= 2, f"the model only predicts {predicted}: the comparison below would not tell much"
    for key in ("val/miou", "val/accuracy"):
        assert single[key] == pytest.approx(last[key], abs=1e-6), (
            f"{key}: 1 process on latest.pt gives {single[key]!r}, the 2-process run logged {last[key]!r} "
            "(padded shards, unsynced metric states, or ranks evaluating different weights/BatchNorm buffers)"
        )

    # Resume the 2-process run on 1 process: it continues, with a note in the log.
    resumed = _run(
        [*SEG, "train", str(config), "--resume", str(run), "--set", "trainer.epochs=3", "--set", "paths.name='ddp'"],
        cwd=tmp_path,
    )
    assert sorted(p.name for p in runs.iterdir()) == ["ddp"]
    history = _history(run)
    assert [line["epoch"] for line in history] == [1, 2, 3]
    assert history[-1]["step"] == 2 * 4 + 8  # 16 samples / 1 process / batch 2 = 8 steps
    log = (run / "train.log").read_text()
    assert "world size 2 -> 1" in log, log
    assert "resumed from" in log, log
    assert "run folder:" in resumed.stdout
