"""The trainer on a tiny seg-core model: exact resume, accumulation, clipping, precision, EMA, early
stopping, checkpoints, best-model export, events, progress lines."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from seg_core import get_registry, hookimpl
from seg_core.errors import CheckpointError, ConfigError
from seg_data import DatasetMetadata
from seg_train import SegmentationMetrics, create_loss
from seg_train.checkpoint import load_checkpoint
from seg_train.trainer import Trainer, select_device

from ._tiny import TinySeg

META = DatasetMetadata("toy", 3, ("background", "a", "b"))


def _data(n: int = 12, size: int = 16, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, size, size, generator=g)
    masks = (images[:, 0] * 3).long().clamp(max=2)  # learnable: the class is in the first channel
    masks[:, :2] = 255
    return TensorDataset(images, masks)


def _loader(data: TensorDataset, batch_size: int = 4, shuffle: bool = True) -> DataLoader[Any]:
    sampler = DistributedSampler(data, num_replicas=1, rank=0, shuffle=shuffle, seed=0)
    return DataLoader(data, batch_size=batch_size, sampler=sampler)


def _trainer(
    tmp_path: Path | None = None, *, model: nn.Module | None = None, batch_size: int = 4, loggers=(), **options
) -> Trainer:
    torch.manual_seed(0)
    model = model or TinySeg(classes=3)
    options.setdefault("export_best", False)
    return Trainer(
        model,
        create_loss("cross_entropy", ignore_index=255),
        torch.optim.AdamW(model.parameters(), lr=1e-2),
        train_loader=_loader(_data(), batch_size),
        val_loader=_loader(_data(6, seed=1), 3, shuffle=False),
        metric=SegmentationMetrics(3, ignore_index=255),
        run_dir=tmp_path,
        metadata=META,
        loggers=loggers,
        device="cpu",
        **options,
    )


def _numbers(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{k: v for k, v in record.items() if k != "time"} for record in history]


def _assert_same(full: list[dict[str, float]], resumed: list[dict[str, float]]) -> None:
    assert len(resumed) == len(full)
    for a, b in zip(full, resumed):
        assert a.keys() == b.keys()
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-9, nan_ok=True), key


def test_resume_is_exact(tmp_path: Path) -> None:
    options = {"epochs": 3, "ema_decay": 0.8, "clip_grad_norm": 5.0}
    straight = _trainer(tmp_path / "a", **options)
    scheduler = torch.optim.lr_scheduler.StepLR(straight.optimizer, step_size=2, gamma=0.5)
    straight.scheduler = scheduler
    full = _numbers(straight.fit())

    first = _trainer(tmp_path / "b", **options)
    first.scheduler = torch.optim.lr_scheduler.StepLR(first.optimizer, step_size=2, gamma=0.5)
    first.fit(epochs=2)
    torch.manual_seed(123)  # whatever happens in between must not matter
    second = _trainer(tmp_path / "b", **options)
    second.scheduler = torch.optim.lr_scheduler.StepLR(second.optimizer, step_size=2, gamma=0.5)
    second.resume(tmp_path / "b" / "checkpoints" / "latest.pt")
    _assert_same(full, _numbers(second.fit()))


def test_checkpoint_holds_everything_and_loads_with_weights_only(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, epochs=1, ema_decay=0.9)
    trainer.fit()
    state = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    for key in (
        "model",
        "optimizer",
        "scheduler",
        "scaler",
        "ema",
        "ema_model",
        "rng",
        "epoch",
        "step",
        "history",
        "best",
    ):
        assert key in state
    assert isinstance(state["rng"]["torch"], torch.Tensor) and isinstance(state["rng"]["numpy"], torch.Tensor)
    assert state["epoch"] == 1 and state["step"] == 3


def test_corrupt_or_foreign_checkpoints_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_checkpoint(bad)
    other = tmp_path / "weights.pt"
    torch.save({"weight": torch.ones(1)}, other)
    with pytest.raises(CheckpointError, match="not a seg-train checkpoint"):
        load_checkpoint(other)


def test_accumulation_averages_the_micro_batches() -> None:
    """accumulate=2 with batches of 2 takes the same step as batches of 4 (PixSeg would double it)."""

    def step(batch_size: int, accumulate: int) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = nn.Conv2d(3, 3, 1)  # no batch statistics: micro-batches are exactly a split batch
        data = _data(4)
        trainer = Trainer(
            model,
            create_loss("cross_entropy", ignore_index=255),
            torch.optim.SGD(model.parameters(), lr=1.0),
            train_loader=DataLoader(data, batch_size=batch_size),
            device="cpu",
            epochs=1,
            accumulate=accumulate,
            export_best=False,
        )
        trainer.fit()
        assert trainer.step == 1
        return [p.detach().clone() for p in model.parameters()]

    for a, b in zip(step(4, 1), step(2, 2)):
        torch.testing.assert_close(a, b)


def test_clipping_bounds_the_step() -> None:
    torch.manual_seed(0)
    model = nn.Conv2d(3, 3, 1)
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    trainer = Trainer(
        model,
        create_loss("cross_entropy", ignore_index=255),
        torch.optim.SGD(model.parameters(), lr=1.0),
        train_loader=DataLoader(_data(4), batch_size=4),
        device="cpu",
        epochs=1,
        clip_grad_norm=1e-3,
        export_best=False,
    )
    trainer.fit()
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert (after - before).norm() <= 1e-3 + 1e-6


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains(precision: str) -> None:
    trainer = _trainer(epochs=1, precision=precision, channels_last=True)
    history = trainer.fit()
    assert torch.isfinite(torch.tensor(history[-1]["train/loss"]))
    assert trainer.scaler.is_enabled() == (precision == "fp16")


def test_early_stopping_stops_without_improvement(tmp_path: Path) -> None:
    trainer = _trainer(
        tmp_path, epochs=10, early_stopping={"metric": "min:val/loss", "patience": 2, "min_delta": 100.0}
    )
    history = trainer.fit()
    assert len(history) == 3  # the first evaluation sets the bar; two without improvement stop


def test_periodic_checkpoints_keep_the_last_k(tmp_path: Path) -> None:
    _trainer(tmp_path, epochs=4, checkpoint_every=1, keep_last=2).fit()
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["best.pt", "epoch_0003.pt", "epoch_0004.pt", "latest.pt"]


@pytest.fixture
def registered_tiny():
    from ._tiny import TinySeg

    get_registry("architectures").add("tiny_seg", TinySeg)
    yield
    get_registry("architectures").remove("tiny_seg")


def test_best_checkpoint_exports_as_a_save_pretrained_folder(tmp_path: Path, registered_tiny) -> None:
    import seg_core

    trainer = _trainer(tmp_path, epochs=2, export_best=True, best="max:val/miou")
    trainer.fit()
    model = seg_core.from_pretrained(tmp_path / "best_model")
    best = load_checkpoint(tmp_path / "checkpoints" / "best.pt")
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, best["model"][name])
    assert best["best"]["epoch"] == trainer.best_epoch


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def seg_train_fit_start(self, trainer):
        self.events.append(("fit_start", {}))

    @hookimpl
    def seg_train_epoch_start(self, epoch):
        self.events.append(("epoch_start", {"epoch": epoch}))

    @hookimpl
    def seg_train_batch_end(self, step, loss, lr, images_per_second):
        self.events.append(("batch_end", {"step": step, "loss": loss, "lr": lr, "ips": images_per_second}))

    @hookimpl
    def seg_train_evaluation_end(self, epoch, split, metrics, confusion_matrix, samples):
        self.events.append(("evaluation_end", {"metrics": metrics, "cm": confusion_matrix, "samples": samples}))

    @hookimpl
    def seg_train_epoch_end(self, epoch, metrics):
        self.events.append(("epoch_end", {"metrics": metrics}))

    @hookimpl
    def seg_train_checkpoint_saved(self, path, kinds):
        self.events.append(("checkpoint_saved", {"path": path, "kinds": kinds}))

    @hookimpl
    def seg_train_fit_end(self, history, stopped_early):
        self.events.append(("fit_end", {"history": history, "stopped": stopped_early}))


def test_events_reach_the_loggers_in_order(tmp_path: Path) -> None:
    recorder = Recorder()
    _trainer(tmp_path, epochs=1, loggers=[recorder]).fit()
    kinds = [kind for kind, _ in recorder.events]
    assert kinds == ["fit_start", "epoch_start", "batch_end", "batch_end", "batch_end", "evaluation_end",
                     "checkpoint_saved", "checkpoint_saved", "epoch_end", "fit_end"]  # fmt: skip
    evaluation = dict(recorder.events)["evaluation_end"]
    assert evaluation["cm"].shape == (3, 3) and evaluation["cm"].sum() > 0
    assert "val/miou" in evaluation["metrics"] and "val/per_class_iou/background" in evaluation["metrics"]
    images, targets, predictions = evaluation["samples"]
    assert images.shape[1:] == (3, 16, 16) and targets.shape == predictions.shape
    saved = [e for k, e in recorder.events if k == "checkpoint_saved"]
    assert {tuple(e["kinds"]) for e in saved} == {("latest",), ("best",)}


def test_plain_progress_lines_when_not_a_terminal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="seg_train"):
        _trainer(epochs=1, log_every=2).fit()
    lines = [r.getMessage() for r in caplog.records if "img/s" in r.getMessage()]
    assert lines and all("loss" in line and "lr" in line and "eta" in line for line in lines)


def test_resume_with_another_batch_size_is_noted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _trainer(tmp_path, epochs=1).fit()
    other = _trainer(tmp_path, epochs=2, batch_size=2)
    with caplog.at_level(logging.WARNING, logger="seg_train"):
        other.resume(tmp_path / "checkpoints" / "latest.pt")
    assert "batch size 4 -> 2" in caplog.text
    assert len(other.fit()) == 2


def test_predict_returns_logits_and_restores_the_mode() -> None:
    trainer = _trainer(epochs=1)
    trainer.model.train()
    logits = trainer.predict(torch.rand(2, 3, 16, 16))
    assert logits.shape == (2, 3, 16, 16) and trainer.model.training


def test_devices_and_goals_are_checked() -> None:
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            select_device("cuda")
    with pytest.raises(ConfigError, match="max:<metric>"):
        _trainer(best="val/miou")


def test_more_epochs_on_resume_stretch_the_schedule(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from seg_train.optim.schedulers import WarmupPolyLR

    first = _trainer(tmp_path, epochs=2)
    first.scheduler = WarmupPolyLR(first.optimizer, total_steps=6)  # 3 steps per epoch
    first.fit()
    longer = _trainer(tmp_path, epochs=4)
    longer.scheduler = WarmupPolyLR(longer.optimizer, total_steps=12)
    with caplog.at_level(logging.WARNING, logger="seg_train"):
        longer.resume(tmp_path / "checkpoints" / "latest.pt")
    assert longer.scheduler.total_steps == 12 and "total_steps changes from 6 to 12" in caplog.text
    history = longer.fit()
    assert history[2]["lr"] > 0  # not stuck at the end of the old schedule


def test_resume_is_exact_with_worker_seeds_from_the_loader(tmp_path: Path) -> None:
    """Without per-sample seeds, workers draw from the loader's generator: its state is checkpointed."""

    def build(run: Path, epochs: int) -> Trainer:
        trainer = _trainer(run, epochs=epochs)
        data = trainer.train_loader.dataset
        trainer.train_loader = DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
        return trainer

    full = _numbers(build(tmp_path / "a", 3).fit())
    build(tmp_path / "b", 2).fit()
    second = build(tmp_path / "b", 3)
    second.resume(tmp_path / "b" / "checkpoints" / "latest.pt")
    _assert_same(full, _numbers(second.fit()))
