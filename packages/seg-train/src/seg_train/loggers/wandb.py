"""Weights & Biases logger (extra ``wandb``).

The API key is never an option and never read from the config: W&B reads ``WANDB_API_KEY``
from the environment, or the key ``wandb login`` stored. Keys that look like credentials
(``api_key``, ``token``, ``password``...) are left out of the config sent to W&B even if a
config holds one; refusing such a config is the config validator's job.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seg_core import hookimpl
from seg_train.loggers._common import (
    final_metrics,
    flatten_config,
    guarded,
    import_extra,
    is_number,
    png_to_array,
    run_id,
    snapshot_grid,
)

__all__ = ["RUN_ID_FILE", "WandbLogger"]

#: The file in the run folder that keeps the W&B run id, so a resumed run continues the same W&B run.
RUN_ID_FILE = "wandb_run_id.txt"
#: Rows of the snapshot grid logged per evaluation.
SNAPSHOT_ROWS = 4
#: The first wandb version whose ``wandb.init(reinit=...)`` takes ``"create_new"``.
_CREATE_NEW = (0, 19, 10)


class WandbLogger:
    """Log a run to Weights & Biases: config, scalars, snapshots and confusion matrices.

    ``wandb.init`` gets ``dir=<run folder>`` (W&B's files go to ``<run folder>/wandb``), the
    flattened config (``{"optimizer.lr": 0.001, ...}``), the run folder's name as the run name by
    default, and a run id kept in ``<run folder>/wandb_run_id.txt`` with ``resume="allow"``: a
    resumed training run continues the same W&B run.

    Logged, all with ``step=trainer.step``: ``batch/loss``, ``batch/lr`` and
    ``batch/images_per_second`` every optimizer step; every metric of each epoch
    (``train/loss``, ``val/miou``...); ``<split>/snapshots`` and ``<split>/confusion_matrix``
    images every evaluation (``images=True``). The run's summary gets the final metrics and
    ``stopped_early``.

    W&B errors (no network, no API key in online mode...) are warnings: training goes on
    without W&B.

    Args:
        project: The W&B project.
        entity: The W&B user or team (default: the key's default entity).
        name: The run's display name (default: the run folder's name).
        tags: Tags of the run.
        mode: ``"online"``, ``"offline"`` (sync later with ``wandb sync``) or ``"disabled"``;
            None lets ``WANDB_MODE`` or W&B's settings decide.
        images: Log the snapshot and confusion-matrix images.

    Raises:
        ImportError: wandb is not installed (``pip install "./packages/seg-train[wandb]"``).

    Example:
        ```toml
        [logging]
        loggers = ["wandb"]

        [logging.wandb]
        project = "cityscapes"
        tags = ["unet", "baseline"]
        ```

        with ``WANDB_API_KEY`` set in the environment (or after ``wandb login``).
    """

    def __init__(
        self,
        *,
        project: str = "seg",
        entity: str | None = None,
        name: str | None = None,
        tags: Sequence[str] = (),
        mode: str | None = None,
        images: bool = True,
    ) -> None:
        self._wandb: Any = import_extra("wandb", "wandb", "wandb")
        if isinstance(tags, str):
            tags = (tags,)
        self.project = project
        self.entity = entity
        self.name = name
        self.tags = tuple(str(tag) for tag in tags)
        self.mode = mode
        self.images = bool(images)
        self.run: Any = None
        self._failed = False

    def _start(self, trainer: Any) -> Any:
        if self.run is not None or self._failed:
            return self.run
        run_dir = Path(trainer.run_dir)
        with guarded("wandb", "wandb.init"):
            self.run = self._wandb.init(
                project=self.project,
                entity=self.entity,
                name=self.name or run_dir.name,
                tags=list(self.tags),
                mode=self.mode,
                dir=str(run_dir),
                config=flatten_config(getattr(trainer, "config", None) or {}),
                id=run_id(run_dir / RUN_ID_FILE, _new_id),
                resume="allow",
                reinit="create_new" if _version(self._wandb.__version__) >= _CREATE_NEW else True,
            )
        self._failed = self.run is None  # warned once; not retried at every step
        return self.run

    def _log(self, values: Mapping[str, Any], step: int) -> None:
        run = self.run
        if run is not None and values:
            with guarded("wandb", "run.log"):
                run.log(dict(values), step=step)

    @hookimpl
    def seg_train_fit_start(self, trainer: Any) -> None:
        """Start (or, on resume, continue) the W&B run."""
        self._start(trainer)

    @hookimpl
    def seg_train_batch_end(self, trainer: Any, step: int, loss: float, lr: float, images_per_second: float) -> None:
        """Log the step's loss, learning rate and throughput."""
        self._start(trainer)
        values = {"batch/loss": loss, "batch/lr": lr, "batch/images_per_second": images_per_second}
        self._log({key: float(value) for key, value in values.items() if is_number(value)}, step)

    @hookimpl
    def seg_train_evaluation_end(
        self, trainer: Any, epoch: int, split: str, metrics: dict[str, float], confusion_matrix: Any, samples: Any
    ) -> None:
        """Log the snapshots and the confusion matrix (and the metrics of a stand-alone evaluation)."""
        if self._start(trainer) is None:
            return
        values: dict[str, Any] = dict(_scalars(metrics)) if epoch == 0 else {}
        if self.images:
            with guarded("wandb", "drawing the images"):
                metadata = getattr(trainer, "metadata", None)
                grid = snapshot_grid(samples, metadata, SNAPSHOT_ROWS)
                if grid is not None:
                    caption = "image | ground truth | prediction"
                    values[f"{split}/snapshots"] = self._wandb.Image(grid, caption=caption)
                if confusion_matrix is not None:
                    from seg_train.loggers.plots import confusion_png

                    labels = list(getattr(metadata, "labels", ()) or ())
                    png = confusion_png(confusion_matrix, labels if len(labels) == len(confusion_matrix) else None)
                    values[f"{split}/confusion_matrix"] = self._wandb.Image(png_to_array(png))
        self._log(values, int(trainer.step))

    @hookimpl
    def seg_train_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        """Log every metric of the epoch."""
        self._start(trainer)
        self._log(_scalars(metrics), int(trainer.step))

    @hookimpl
    def seg_train_fit_end(self, trainer: Any, history: list[dict[str, float]], stopped_early: bool) -> None:
        """Put the final metrics in the run's summary and finish the run."""
        run = self.run
        if run is None:
            return
        with guarded("wandb", "finishing the run"):
            for key, value in final_metrics(history).items():
                run.summary[key] = value
            run.summary["stopped_early"] = bool(stopped_early)
            run.finish()
        self.run = None


def _scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {key: float(value) for key, value in metrics.items() if is_number(value) and key != "step"}


def _new_id() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(8))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])
