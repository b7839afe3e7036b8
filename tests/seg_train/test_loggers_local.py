"""LocalLogger and the plots: files in the run folder, driven directly and through a pluggy manager."""

from __future__ import annotations

import csv
import inspect
import io
import json
import math
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pluggy
import pytest
import torch
from PIL import Image

import seg_data
import seg_train.hookspecs
from seg_core.errors import ConfigError
from seg_train.loggers import plots
from seg_train.loggers.local import LocalLogger, csv_bytes, jsonl_bytes

PNG = b"\x89PNG\r\n\x1a\n"


def fake_trainer(run_dir: Path | None, **overrides: Any) -> types.SimpleNamespace:
    values: dict[str, Any] = {
        "run_dir": run_dir,
        "config": {"model": {"architecture": "unet"}, "optimizer": {"name": "AdamW", "lr": 0.001}},
        "metadata": seg_data.DatasetMetadata(name="toy", num_classes=3, labels=["bg", "cat", "dog"]),
        "epoch": 0,
        "step": 0,
        "history": [],
        "model": torch.nn.Conv2d(3, 3, 1),
    }
    values.update(overrides)
    return types.SimpleNamespace(**values)


def manager(*loggers: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("seg")
    pm.add_hookspecs(seg_train.hookspecs)
    for logger in loggers:
        pm.register(logger)
    pm.check_pending()  # every hookimpl matches a spec
    return pm


def samples(k: int = 3, size: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return (
        torch.rand(k, 3, size, size, generator=g),
        torch.randint(0, 3, (k, size, size), generator=g),
        torch.randint(0, 3, (k, size, size), generator=g),
    )


def record(epoch: int, step: int, evaluated: bool = True) -> dict[str, float]:
    metrics = {"epoch": float(epoch), "train/loss": 1.0 / epoch, "lr": 0.01}
    if evaluated:
        metrics.update({"val/loss": 1.1 / epoch, "val/miou": 0.2 * epoch, "val/per_class_iou/cat": 0.1})
    metrics.update({"step": float(step), "time": 0.5})
    return metrics


def run_epochs(pm: pluggy.PluginManager, trainer: types.SimpleNamespace, first: int, last: int) -> None:
    confusion = torch.tensor([[5, 1, 0], [2, 6, 1], [0, 0, 9]])
    for epoch in range(first, last + 1):
        pm.hook.seg_train_epoch_start(trainer=trainer, epoch=epoch)
        for _ in range(2):
            trainer.step += 1
            pm.hook.seg_train_batch_end(trainer=trainer, step=trainer.step, loss=0.5, lr=0.01, images_per_second=9.0)
        metrics = record(epoch, trainer.step)
        pm.hook.seg_train_evaluation_end(
            trainer=trainer,
            epoch=epoch,
            split="val",
            metrics={k: v for k, v in metrics.items() if k.startswith("val/")},
            confusion_matrix=confusion,
            samples=samples(),
        )
        trainer.epoch = epoch
        trainer.history.append(metrics)
        pm.hook.seg_train_epoch_end(trainer=trainer, epoch=epoch, metrics=metrics)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(PNG), path
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ----------------------------------------------------------------------------- the logger
def test_options_are_keyword_only_with_defaults() -> None:
    params = inspect.signature(LocalLogger).parameters
    assert list(params) == ["snapshots", "plots", "confusion_normalize"]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in params.values())
    LocalLogger()  # works with no options
    assert LocalLogger(confusion_normalize="none").confusion_normalize is None  # TOML has no null
    with pytest.raises(ConfigError, match="snapshots"):
        LocalLogger(snapshots=-1)
    with pytest.raises(ConfigError, match="confusion_normalize"):
        LocalLogger(confusion_normalize="rows")


def test_registered_as_local() -> None:
    from seg_core import get_registry

    assert get_registry("loggers").get("local") is LocalLogger


def test_a_run_through_pluggy_writes_metrics_plots_and_snapshots(tmp_path: Path) -> None:
    trainer = fake_trainer(tmp_path)
    pm = manager(LocalLogger(snapshots=2))
    pm.hook.seg_train_fit_start(trainer=trainer)
    run_epochs(pm, trainer, 1, 2)
    pm.hook.seg_train_fit_end(trainer=trainer, history=trainer.history, stopped_early=False)

    lines = read_jsonl(tmp_path / "metrics.jsonl")
    assert lines == [{**r, "epoch": int(r["epoch"]), "step": int(r["step"])} for r in trainer.history]
    assert isinstance(lines[0]["epoch"], int)
    with (tmp_path / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:2] == ["epoch", "step"]
    assert list(rows[0])[2:] == ["train/loss", "lr", "val/loss", "val/miou", "val/per_class_iou/cat", "time"]
    assert [float(r["val/miou"]) for r in rows] == [0.2, 0.4]
    assert [r["step"] for r in rows] == ["2", "4"]

    png_size(tmp_path / "plots" / "curves.png")
    for epoch in (1, 2):
        png_size(tmp_path / "plots" / f"confusion_val_epoch{epoch:04d}.png")
        # two rows (snapshots=2) of image | ground truth | prediction, 8x8 cells with 2-pixel padding
        assert png_size(tmp_path / "snapshots" / f"val_epoch{epoch:04d}.png") == (3 * 10 + 2, 2 * 10 + 2)
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_the_hook_methods_take_the_spec_keywords(tmp_path: Path) -> None:
    logger = LocalLogger()
    trainer = fake_trainer(tmp_path, step=3, epoch=1)
    logger.seg_train_fit_start(trainer=trainer)
    logger.seg_train_evaluation_end(
        trainer=trainer,
        epoch=1,
        split="val",
        metrics={"val/miou": 0.5},
        confusion_matrix=torch.eye(3, dtype=torch.long),
        samples=samples(k=5),
    )
    trainer.history.append(record(1, 3))
    logger.seg_train_epoch_end(trainer=trainer, epoch=1, metrics=trainer.history[-1])
    assert len(read_jsonl(tmp_path / "metrics.jsonl")) == 1
    assert png_size(tmp_path / "snapshots" / "val_epoch0001.png")[1] == 4 * 10 + 2  # default: 4 rows


def test_resume_rewrites_the_history_without_duplicates(tmp_path: Path) -> None:
    trainer = fake_trainer(tmp_path)
    pm = manager(LocalLogger(plots=False, snapshots=0))
    pm.hook.seg_train_fit_start(trainer=trainer)
    run_epochs(pm, trainer, 1, 3)
    assert len(read_jsonl(tmp_path / "metrics.jsonl")) == 3
    # the run crashed after epoch 3; its last checkpoint is from epoch 2
    resumed = fake_trainer(tmp_path, epoch=2, step=4, history=[dict(r) for r in trainer.history[:2]])
    pm = manager(LocalLogger(plots=False, snapshots=0))
    pm.hook.seg_train_fit_start(trainer=resumed)
    assert [r["epoch"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2]
    run_epochs(pm, resumed, 3, 4)
    assert [r["epoch"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [1, 2, 3, 4]
    with (tmp_path / "metrics.csv").open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2", "3", "4"]
    assert not (tmp_path / "plots").exists() and not (tmp_path / "snapshots").exists()


def test_a_new_run_starts_with_empty_metric_files(tmp_path: Path) -> None:
    LocalLogger().seg_train_fit_start(trainer=fake_trainer(tmp_path))
    assert (tmp_path / "metrics.jsonl").read_text() == ""
    assert (tmp_path / "metrics.csv").read_text() == "\n"


def test_non_finite_values_are_null_in_json_and_nan_in_csv() -> None:
    history = [{"epoch": 1.0, "val/per_class_iou/dog": float("nan"), "x": float("inf")}]
    assert json.loads(jsonl_bytes(history)) == {"epoch": 1, "val/per_class_iou/dog": None, "x": None}
    row = next(csv.DictReader(io.StringIO(csv_bytes(history).decode())))
    assert math.isnan(float(row["val/per_class_iou/dog"])) and float(row["x"]) == math.inf


def test_columns_keep_their_first_order_when_metrics_appear_later() -> None:
    history = [record(1, 2, evaluated=False), record(2, 4)]
    header, first, _ = csv_bytes(history).decode().splitlines()
    assert header == "epoch,step,train/loss,lr,time,val/loss,val/miou,val/per_class_iou/cat"
    assert first.endswith(",,,")  # not evaluated in epoch 1


def test_multilabel_matrix_binary_predictions_and_no_metadata(tmp_path: Path) -> None:
    trainer = fake_trainer(tmp_path, metadata=None)
    images = torch.rand(2, 3, 6, 6)
    masks = torch.randint(0, 2, (2, 6, 6))
    LocalLogger().seg_train_evaluation_end(
        trainer=trainer,
        epoch=7,
        split="test",
        metrics={},
        confusion_matrix=torch.randint(0, 50, (4, 2, 2)),
        samples=(images, masks, masks),
    )
    png_size(tmp_path / "plots" / "confusion_test_epoch0007.png")
    assert png_size(tmp_path / "snapshots" / "test_epoch0007.png") == (3 * 8 + 2, 2 * 8 + 2)


def test_nothing_is_written_without_a_run_folder_or_samples(tmp_path: Path) -> None:
    logger = LocalLogger()
    logger.seg_train_fit_start(trainer=fake_trainer(None))
    logger.seg_train_evaluation_end(
        trainer=fake_trainer(tmp_path), epoch=1, split="val", metrics={}, confusion_matrix=None, samples=None
    )
    assert list(tmp_path.iterdir()) == []


def test_no_pyplot_no_backend_change_and_lazy_extras() -> None:
    code = """
import sys, matplotlib
matplotlib.use("svg")
import seg_train.loggers
assert not {"wandb", "mlflow", "tensorboard", "matplotlib.pyplot"} & set(sys.modules), "imported too early"
from seg_train.loggers import LocalLogger, confusion_png, curves_png
confusion_png([[1, 2], [3, 4]], ["a", "b"])
curves_png([{"epoch": 1, "train/loss": 1.0}])
assert "matplotlib.pyplot" not in sys.modules
assert not {"wandb", "mlflow", "tensorboard"} & set(sys.modules)
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# ----------------------------------------------------------------------------- plots
def test_normalize_confusion() -> None:
    counts = np.array([[3, 1], [0, 0]])
    assert plots.normalize_confusion(counts).tolist() == [[0.75, 0.25], [0.0, 0.0]]
    assert plots.normalize_confusion(counts, "pred").tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert plots.normalize_confusion(counts, "all").tolist() == [[0.75, 0.25], [0.0, 0.0]]
    assert plots.normalize_confusion(torch.tensor(counts), None).tolist() == [[3.0, 1.0], [0.0, 0.0]]
    per_class = plots.normalize_confusion(np.array([[[1, 1], [2, 0]]]))
    assert per_class.tolist() == [[[0.5, 0.5], [1.0, 0.0]]]
    with pytest.raises(ValueError, match="normalize"):
        plots.normalize_confusion(counts, "rows")
    with pytest.raises(ValueError, match="shape"):
        plots.normalize_confusion(np.zeros((2, 3)))


def test_confusion_png_sizes_with_the_classes() -> None:
    small = Image.open(io.BytesIO(plots.confusion_png(np.eye(3), ["a", "b", "c"])))
    large = Image.open(io.BytesIO(plots.confusion_png(np.ones((40, 40)))))
    assert small.size[0] < large.size[0]
    with pytest.raises(ValueError, match="labels"):
        plots.confusion_png(np.eye(3), ["a", "b"])


def test_metric_families_and_curves() -> None:
    history = [record(1, 2, evaluated=False), record(2, 4), {"epoch": 3.0, "test/miou": 0.3, "train/lr": 0.1}]
    assert plots.metric_families(history) == {
        "loss": ["train/loss", "val/loss"],
        "miou": ["val/miou", "test/miou"],
        "lr": ["lr", "train/lr"],
    }
    assert plots.curves_png(history).startswith(PNG)
    assert plots.curves_png([]).startswith(PNG)
