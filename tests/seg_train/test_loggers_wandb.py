"""WandbLogger in offline mode: the run's ``.wandb`` file read back record by record."""

from __future__ import annotations

import inspect
import json
import struct
import sys
import time
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
import torch

import seg_data
import seg_train.hookspecs

pytest.importorskip("wandb")

from seg_train.loggers.wandb import RUN_ID_FILE, WandbLogger


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network, nothing outside tmp_path, no API key."""
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.setenv("WANDB_DISABLE_CODE", "true")
    for name in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home"))


def fake_trainer(run_dir: Path, **overrides: Any) -> types.SimpleNamespace:
    values: dict[str, Any] = {
        "run_dir": run_dir,
        "config": {
            "model": {"architecture": "unet"},
            "optimizer": {"name": "AdamW", "lr": 0.001},
            "logging": {"loggers": ["wandb"], "wandb": {"api_key": "do-not-log"}},
        },
        "metadata": seg_data.DatasetMetadata(name="toy", num_classes=3),
        "epoch": 0,
        "step": 0,
        "history": [],
        "model": torch.nn.Conv2d(3, 3, 1),
    }
    values.update(overrides)
    return types.SimpleNamespace(**values)


def fit(logger: WandbLogger, trainer: types.SimpleNamespace, epochs: range) -> None:
    pm = pluggy.PluginManager("seg")
    pm.add_hookspecs(seg_train.hookspecs)
    pm.register(logger)
    pm.check_pending()
    pm.hook.seg_train_fit_start(trainer=trainer)
    for epoch in epochs:
        pm.hook.seg_train_epoch_start(trainer=trainer, epoch=epoch)
        for _ in range(2):
            trainer.step += 1
            pm.hook.seg_train_batch_end(trainer=trainer, step=trainer.step, loss=0.5, lr=0.01, images_per_second=3.0)
        pm.hook.seg_train_evaluation_end(
            trainer=trainer,
            epoch=epoch,
            split="val",
            metrics={"val/miou": 0.5},
            confusion_matrix=torch.eye(3, dtype=torch.long),
            samples=(torch.rand(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)), torch.randint(0, 3, (2, 8, 8))),
        )
        metrics = {"epoch": float(epoch), "train/loss": 0.5, "lr": 0.01, "val/miou": 0.25 * epoch, "step": 2.0}
        trainer.epoch = epoch
        trainer.history.append(metrics)
        pm.hook.seg_train_epoch_end(trainer=trainer, epoch=epoch, metrics=metrics)
    pm.hook.seg_train_fit_end(trainer=trainer, history=trainer.history, stopped_early=True)


def records(path: Path) -> Iterator[Any]:
    """The protobuf records of a ``.wandb`` file (a LevelDB-style log: 32 KiB blocks of chunks)."""
    pb = pytest.importorskip("wandb.proto.wandb_internal_pb2")
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    position, block, pending = 7, 32768, b""
    while position + 7 <= len(data):
        left = block - position % block
        if left < 7:
            position += left
            continue
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if kind == 0 or position + 7 + length > len(data):  # padding, or a chunk still being written
            break
        payload = data[position + 7 : position + 7 + length]
        position += 7 + length
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):  # FULL or LAST chunk
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def finished(path: Path, timeout: float = 60.0) -> list[Any]:
    """The records of a finished run: W&B's service may still be writing them after ``run.finish()``."""
    deadline = time.monotonic() + timeout
    while True:
        found = list(records(path))
        if any(record.WhichOneof("record_type") == "exit" for record in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def read_run(run_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """Config, history rows and summary of the offline run(s) in ``run_dir/wandb``."""
    config: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}

    def key(item: Any) -> str:
        return item.key or "/".join(item.nested_key)

    for path in sorted(run_dir.glob("wandb/offline-run-*/run-*.wandb")):
        for record in finished(path):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                config.update({key(i): json.loads(i.value_json) for i in record.run.config.update})
            elif kind == "config":
                config.update({key(i): json.loads(i.value_json) for i in record.config.update})
            elif kind == "history":
                history.append({key(i): json.loads(i.value_json) for i in record.history.item})
            elif kind == "summary":
                summary.update({key(i): json.loads(i.value_json) for i in record.summary.update})
    return config, history, summary


def test_options_are_keyword_only_and_take_no_api_key() -> None:
    params = inspect.signature(WandbLogger).parameters
    assert list(params) == ["project", "entity", "name", "tags", "mode", "images"]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in params.values())
    with pytest.raises(TypeError):
        WandbLogger(api_key="secret")  # type: ignore[call-arg]


def test_offline_run_has_config_metrics_images_and_summary(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    fit(WandbLogger(project="seg-test", tags=["ci"]), fake_trainer(run_dir), range(1, 3))
    run_id = (run_dir / RUN_ID_FILE).read_text().strip()
    [folder] = run_dir.glob(f"wandb/offline-run-*-{run_id}")
    config, history, summary = read_run(run_dir)
    assert config["optimizer.lr"] == 0.001 and config["model.architecture"] == "unet"
    assert not [k for k in config if "api_key" in k]
    assert "do-not-log" not in json.dumps(config)
    assert [row["_step"] for row in history] == [1, 2, 3, 4]
    assert [row["batch/loss"] for row in history] == [0.5] * 4
    assert [row.get("val/miou") for row in history] == [None, 0.25, None, 0.5]
    assert history[1]["val/snapshots/_type"] == "image-file"
    assert history[1]["val/snapshots/width"] == 3 * 10 + 2 and history[1]["val/snapshots/height"] == 2 * 10 + 2
    assert "val/confusion_matrix/path" in history[1]
    assert (folder / "files" / history[1]["val/snapshots/path"]).is_file()
    assert summary["stopped_early"] is True and summary["val/miou"] == 0.5


def test_resume_continues_the_same_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / RUN_ID_FILE).write_text("abc12345\n")
    fit(WandbLogger(images=False), fake_trainer(run_dir, step=2, epoch=1), range(2, 3))
    assert (run_dir / RUN_ID_FILE).read_text().strip() == "abc12345"
    assert list(run_dir.glob("wandb/offline-run-*-abc12345"))
    _, history, _ = read_run(run_dir)
    assert [row["_step"] for row in history] == [3, 4]
    assert not [k for row in history for k in row if k.startswith("val/snapshots")]


def test_wandb_errors_are_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logger = WandbLogger()

    def refuse(**kwargs: Any) -> None:
        raise RuntimeError("api_key not configured (no-tty)")

    monkeypatch.setattr(logger._wandb, "init", refuse)
    trainer = fake_trainer(tmp_path)
    with pytest.warns(RuntimeWarning, match="wandb logger: wandb.init failed"):
        logger.seg_train_fit_start(trainer=trainer)
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        logger.seg_train_batch_end(trainer=trainer, step=1, loss=1.0, lr=0.1, images_per_second=1.0)
        logger.seg_train_fit_end(trainer=trainer, history=[], stopped_early=False)
    assert not later  # warned once, not retried at every event


def test_missing_wandb_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ImportError, match=r'pip install "\./packages/seg-train\[wandb\]"'):
        WandbLogger()
