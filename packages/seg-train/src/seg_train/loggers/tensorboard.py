"""TensorBoard logger: scalars, snapshot images and the hyperparameters of a run (extra ``tensorboard``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seg_core import hookimpl
from seg_train.loggers._common import (
    final_metrics,
    import_extra,
    is_number,
    png_to_array,
    scalar_config,
    snapshot_grid,
)

__all__ = ["TensorBoardLogger"]

#: Rows of the snapshot grid added per evaluation.
SNAPSHOT_ROWS = 4


class TensorBoardLogger:
    """Write a run's scalars, images and hyperparameters with `torch.utils.tensorboard.SummaryWriter`.

    * every optimizer step: ``batch/loss``, ``batch/lr`` and ``batch/images_per_second``;
    * every epoch: each metric of the epoch under its own name (``train/loss``, ``val/miou``,
      ``val/per_class_iou/<class>``, ``lr``, ``time``...);
    * every evaluation (``images=True``): ``<split>/snapshots`` (image / ground truth / prediction)
      and ``<split>/confusion_matrix``;
    * at the end: the hyperparameters (the config's scalar values, flattened:
      ``optimizer.lr``...) with the final metrics (``hparam/<metric>``), in the HParams tab.

    The x axis is the optimizer step (``trainer.step``) throughout. On resume, events after the
    checkpoint's step left by the interrupted run are purged.

    Args:
        log_dir: A folder shared by several runs: this run writes to ``<log_dir>/<run folder name>``,
            so ``tensorboard --logdir <log_dir>`` compares them. Default: ``<run folder>/tensorboard``.
        images: Add the snapshot and confusion-matrix images.

    Raises:
        ImportError: TensorBoard is not installed (``pip install "./packages/seg-train[tensorboard]"``).

    Example:
        ```toml
        [logging]
        loggers = ["tensorboard"]

        [logging.tensorboard]
        log_dir = "runs/tensorboard"
        ```

        then ``tensorboard --logdir runs/tensorboard``.
    """

    def __init__(self, *, log_dir: str | None = None, images: bool = True) -> None:
        module = import_extra("torch.utils.tensorboard", "tensorboard", "tensorboard")
        self._writer_class: Any = module.SummaryWriter
        self.log_dir = log_dir
        self.images = bool(images)
        self._writer: Any = None

    def directory(self, trainer: Any) -> Path:
        """Where this run's event files go."""
        run_dir = Path(trainer.run_dir)
        return run_dir / "tensorboard" if self.log_dir is None else Path(self.log_dir) / run_dir.name

    def _open(self, trainer: Any) -> Any:
        if self._writer is None:
            step = int(getattr(trainer, "step", 0) or 0)
            purge = {"purge_step": step + 1} if step > 0 else {}
            self._writer = self._writer_class(log_dir=str(self.directory(trainer)), **purge)
        return self._writer

    @hookimpl
    def seg_train_fit_start(self, trainer: Any) -> None:
        """Open the event file (on resume, purge the steps after the checkpoint)."""
        self._open(trainer)

    @hookimpl
    def seg_train_batch_end(self, trainer: Any, step: int, loss: float, lr: float, images_per_second: float) -> None:
        """Add the step's loss, learning rate and throughput."""
        writer = self._open(trainer)
        for tag, value in (("batch/loss", loss), ("batch/lr", lr), ("batch/images_per_second", images_per_second)):
            if is_number(value):
                writer.add_scalar(tag, float(value), global_step=step)

    @hookimpl
    def seg_train_evaluation_end(
        self, trainer: Any, epoch: int, split: str, metrics: dict[str, float], confusion_matrix: Any, samples: Any
    ) -> None:
        """Add the snapshots and the confusion matrix (and the metrics of a stand-alone evaluation)."""
        writer = self._open(trainer)
        step = int(trainer.step)
        if epoch == 0:  # Trainer.evaluate outside fit: no epoch end will log these
            self._scalars(writer, metrics, step)
        if not self.images:
            return
        metadata = getattr(trainer, "metadata", None)
        grid = snapshot_grid(samples, metadata, SNAPSHOT_ROWS)
        if grid is not None:
            writer.add_image(f"{split}/snapshots", grid, global_step=step, dataformats="HWC")
        if confusion_matrix is not None:
            from seg_train.loggers.plots import confusion_png

            labels = list(getattr(metadata, "labels", ()) or ())
            png = confusion_png(confusion_matrix, labels if len(labels) == len(confusion_matrix) else None)
            writer.add_image(f"{split}/confusion_matrix", png_to_array(png), global_step=step, dataformats="HWC")

    @hookimpl
    def seg_train_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        """Add every metric of the epoch and flush."""
        writer = self._open(trainer)
        self._scalars(writer, metrics, int(trainer.step))
        writer.flush()

    @hookimpl
    def seg_train_fit_end(self, trainer: Any, history: list[dict[str, float]], stopped_early: bool) -> None:
        """Add the hyperparameters with the final metrics, then close the event file."""
        writer = self._open(trainer)
        final = {f"hparam/{k}": v for k, v in final_metrics(history).items() if k not in ("epoch", "step")}
        hparams = scalar_config(getattr(trainer, "config", None) or {})
        if hparams and final:
            writer.add_hparams(hparams, final, run_name=".", global_step=int(trainer.step))
        writer.flush()
        writer.close()
        self._writer = None

    @staticmethod
    def _scalars(writer: Any, metrics: Mapping[str, Any], step: int) -> None:
        for key, value in metrics.items():
            if is_number(value) and key != "step":
                writer.add_scalar(key, float(value), global_step=step)
