"""TensorBoardLogger: event files read back with TensorBoard's own reader."""

from __future__ import annotations

import inspect
import io
import sys
import types
from pathlib import Path
from typing import Any

import pluggy
import pytest
import torch
from PIL import Image

import seg_data
import seg_train.hookspecs

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from seg_train.loggers.tensorboard import TensorBoardLogger


def fake_trainer(run_dir: Path, **overrides: Any) -> types.SimpleNamespace:
    values: dict[str, Any] = {
        "run_dir": run_dir,
        "config": {
            "model": {"architecture": "unet", "decoder_channels": [16, 8]},
            "optimizer": {"name": "AdamW", "lr": 0.001},
            "trainer": {"epochs": 2, "amp": False},
            "logging": {"wandb": {"api_key": "do-not-log"}},
        },
        "metadata": seg_data.DatasetMetadata(name="toy", num_classes=3, labels=["bg", "cat", "dog"]),
        "epoch": 0,
        "step": 0,
        "history": [],
        "model": torch.nn.Conv2d(3, 3, 1),
    }
    values.update(overrides)
    return types.SimpleNamespace(**values)


def manager(logger: object) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("seg")
    pm.add_hookspecs(seg_train.hookspecs)
    pm.register(logger)
    pm.check_pending()
    return pm


def fit(pm: pluggy.PluginManager, trainer: types.SimpleNamespace, epochs: range, end: bool = True) -> None:
    pm.hook.seg_train_fit_start(trainer=trainer)
    for epoch in epochs:
        pm.hook.seg_train_epoch_start(trainer=trainer, epoch=epoch)
        for _ in range(3):
            trainer.step += 1
            pm.hook.seg_train_batch_end(
                trainer=trainer, step=trainer.step, loss=1.0 / trainer.step, lr=0.01, images_per_second=12.0
            )
        val = {"val/loss": 0.9, "val/miou": 0.25 * epoch, "val/per_class_iou/dog (big)": 0.5}
        pm.hook.seg_train_evaluation_end(
            trainer=trainer,
            epoch=epoch,
            split="val",
            metrics=val,
            confusion_matrix=torch.tensor([[4, 1, 0], [0, 5, 0], [1, 0, 3]]),
            samples=(torch.rand(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)), torch.randint(0, 3, (2, 8, 8))),
        )
        metrics = {"epoch": float(epoch), "train/loss": 0.5, "lr": 0.01, **val, "step": float(trainer.step)}
        trainer.epoch = epoch
        trainer.history.append(metrics)
        pm.hook.seg_train_epoch_end(trainer=trainer, epoch=epoch, metrics=metrics)
    if end:
        pm.hook.seg_train_fit_end(trainer=trainer, history=trainer.history, stopped_early=False)


def events(folder: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


def test_options_are_keyword_only_with_defaults() -> None:
    params = inspect.signature(TensorBoardLogger).parameters
    assert list(params) == ["log_dir", "images"]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in params.values())


def test_scalars_images_and_hparams(tmp_path: Path) -> None:
    trainer = fake_trainer(tmp_path)
    fit(manager(TensorBoardLogger()), trainer, range(1, 3))
    acc = events(tmp_path / "tensorboard")
    scalars = acc.Tags()["scalars"]
    assert [e.step for e in acc.Scalars("batch/loss")] == [1, 2, 3, 4, 5, 6]
    assert acc.Scalars("batch/loss")[1].value == pytest.approx(0.5)
    assert [(e.step, e.value) for e in acc.Scalars("val/miou")] == [(3, 0.25), (6, 0.5)]
    assert {"train/loss", "lr", "epoch", "batch/lr", "batch/images_per_second"} <= set(scalars)
    assert "val/per_class_iou/dog (big)" in scalars
    assert "step" not in scalars
    snapshot = acc.Images("val/snapshots")
    assert [e.step for e in snapshot] == [3, 6]
    with Image.open(io.BytesIO(snapshot[0].encoded_image_string)) as image:
        assert image.size == (3 * 10 + 2, 2 * 10 + 2)
    assert len(acc.Images("val/confusion_matrix")) == 2
    assert acc.Scalars("hparam/val/miou")[0].value == 0.5
    hparams = acc.PluginTagToContent("hparams")
    content = b"".join(hparams.values())
    assert b"optimizer.lr" in content and b"model.architecture" in content
    assert b"api_key" not in content and b"do-not-log" not in content


def test_shared_log_dir_gets_a_folder_per_run_and_no_images(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "unet-toy"
    run_dir.mkdir(parents=True)
    logger = TensorBoardLogger(log_dir=str(tmp_path / "tb"), images=False)
    fit(manager(logger), fake_trainer(run_dir), range(1, 2))
    acc = events(tmp_path / "tb" / "unet-toy")
    assert "val/miou" in acc.Tags()["scalars"]
    assert acc.Tags()["images"] == []
    assert not (run_dir / "tensorboard").exists()


def test_resume_purges_the_steps_after_the_checkpoint(tmp_path: Path) -> None:
    trainer = fake_trainer(tmp_path)
    fit(manager(TensorBoardLogger()), trainer, range(1, 3), end=False)  # crashed after epoch 2 (step 6)
    resumed = fake_trainer(tmp_path, epoch=1, step=3, history=trainer.history[:1])  # checkpoint of epoch 1
    fit(manager(TensorBoardLogger()), resumed, range(2, 3))
    steps = [e.step for e in events(tmp_path / "tensorboard").Scalars("batch/loss")]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_a_standalone_evaluation_logs_its_metrics(tmp_path: Path) -> None:
    logger = TensorBoardLogger()
    logger.seg_train_evaluation_end(
        trainer=fake_trainer(tmp_path),
        epoch=0,
        split="val",
        metrics={"val/miou": 0.75},
        confusion_matrix=None,
        samples=None,
    )
    logger.seg_train_fit_end(trainer=fake_trainer(tmp_path), history=[], stopped_early=False)
    assert events(tmp_path / "tensorboard").Scalars("val/miou")[0].value == 0.75


def test_missing_tensorboard_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match=r'pip install "\./packages/seg-train\[tensorboard\]"'):
        TensorBoardLogger()
