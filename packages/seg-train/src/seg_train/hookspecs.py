"""Training events: the hooks a logger or callback implements.

seg-train adds these specifications to seg's plugin manager (``seg_add_hookspecs``), and each
run has its own pluggy manager with the same specifications, into which the trainer registers
the loggers and callbacks the config enables (found by name in the ``loggers`` registry).

A logger is any object with some of these methods, marked with `hookimpl`::

    from seg_core import hookimpl

    class PrintLogger:
        @hookimpl
        def seg_train_epoch_end(self, trainer, epoch, metrics):
            print(epoch, metrics["train/loss"])

Contract:

* Every argument is passed by keyword; implement only the ones you use (pluggy allows a
  subset of the arguments).
* Hooks run on the main process only (rank 0 under DDP), after the event happened: the
  trainer's state they see is final for that event.
* ``trainer`` exposes ``run_dir`` (a `pathlib.Path`), ``config`` (the resolved config, a plain
  dict), ``metadata`` (the dataset's `seg_data.DatasetMetadata`: class names and colors),
  ``epoch``, ``step``, ``history`` (one dict of metrics per finished epoch) and ``model``.
* A hook that raises stops the run: a logger that may fail (network) must catch its own
  errors and warn.
* Return nothing.
"""

from __future__ import annotations

from typing import Any

from seg_core.hookspecs import hookspec

__all__ = [
    "seg_train_batch_end",
    "seg_train_checkpoint_saved",
    "seg_train_epoch_end",
    "seg_train_epoch_start",
    "seg_train_evaluation_end",
    "seg_train_fit_end",
    "seg_train_fit_start",
]


@hookspec
def seg_train_fit_start(trainer: Any) -> None:
    """Training starts (or resumes: ``trainer.epoch`` is then the first epoch still to run)."""


@hookspec
def seg_train_epoch_start(trainer: Any, epoch: int) -> None:
    """Epoch ``epoch`` (counted from 1) starts."""


@hookspec
def seg_train_batch_end(trainer: Any, step: int, loss: float, lr: float, images_per_second: float) -> None:
    """An optimizer step finished.

    Args:
        trainer: The trainer.
        step: Optimizer steps so far (counted from 1; accumulation counts once).
        loss: The step's loss (averaged over its micro-batches).
        lr: The first parameter group's learning rate for this step.
        images_per_second: Throughput of this step, over all processes.
    """


@hookspec
def seg_train_evaluation_end(
    trainer: Any,
    epoch: int,
    split: str,
    metrics: dict[str, float],
    confusion_matrix: Any,
    samples: Any,
) -> None:
    """An evaluation finished.

    Args:
        trainer: The trainer.
        epoch: The epoch just trained (0 for a stand-alone `Trainer.evaluate`).
        split: ``"val"`` (or the split evaluated).
        metrics: Scalar metrics, named ``"<split>/<metric>"`` (``"val/miou"``...) and per class
            (``"val/per_class_iou/<class>"``).
        confusion_matrix: The (C, C) int64 tensor, rows = ground truth (for binary and
            multilabel, one 2x2 matrix per class: (C, 2, 2)).
        samples: A few ``(image, target, prediction)`` tensors for snapshots, on the CPU:
            images (K, 3, H, W) float as fed to the model, targets and predictions (K, H, W)
            int64 (label maps); None when the model's input is not an RGB-like image.
    """


@hookspec
def seg_train_epoch_end(trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
    """Epoch ``epoch`` finished, its evaluation included.

    Args:
        trainer: The trainer; ``trainer.history[-1]`` is ``metrics``.
        epoch: The epoch (counted from 1).
        metrics: Everything measured this epoch: ``"train/loss"``, ``"lr"``, ``"val/..."``,
            ``"epoch"``, ``"step"`` and ``"time"`` (seconds).
    """


@hookspec
def seg_train_checkpoint_saved(trainer: Any, path: Any, kinds: list[str]) -> None:
    """A checkpoint was written (atomically).

    Args:
        trainer: The trainer.
        path: The checkpoint file (a `pathlib.Path`).
        kinds: What it is: some of ``"latest"``, ``"periodic"``, ``"best"``.
    """


@hookspec
def seg_train_fit_end(trainer: Any, history: list[dict[str, float]], stopped_early: bool) -> None:
    """Training finished (all epochs, or stopped early)."""
