"""The local logger (always on): metrics, plots and prediction snapshots in the run folder.

What it writes into ``trainer.run_dir``, every file atomically (a crash never leaves half a file):

| file | when |
|---|---|
| ``metrics.jsonl`` | one JSON object per finished epoch (``trainer.history``), written whole every epoch; at fit start it is rewritten from the history, so a resumed run has no duplicate lines |
| ``metrics.csv`` | the same table as CSV, every epoch: columns ``epoch``, ``step``, then the other keys in the order they first appear |
| ``plots/curves.png`` | the metric curves, every epoch (`seg_train.loggers.plots.curves_png`) |
| ``plots/confusion_<split>_epoch<NNNN>.png`` | the confusion matrix of every evaluation |
| ``snapshots/<split>_epoch<NNNN>.png`` | rows of image / ground truth / prediction of every evaluation |

The resolved config and the run log are the trainer's; this logger writes metrics, plots and
snapshots only.
"""

from __future__ import annotations

import csv
import io
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import seg_train.loggers.plots as _plots
from seg_core import hookimpl
from seg_core.errors import ConfigError
from seg_core.io import atomic_write_bytes
from seg_train.loggers._common import png_bytes, snapshot_grid

__all__ = ["LEADING_COLUMNS", "LocalLogger", "csv_bytes", "jsonl_bytes"]

#: Columns that come first in ``metrics.csv``.
LEADING_COLUMNS = ("epoch", "step")


class LocalLogger:
    """Write metrics (JSON lines and CSV), curves, confusion matrices and snapshots into the run folder.

    Args:
        snapshots: Rows of image / ground truth / prediction per evaluation (0: no snapshots).
        plots: Draw ``plots/curves.png`` and the confusion matrices.
        confusion_normalize: How the confusion-matrix plot is normalized: ``"true"`` (rows: recall),
            ``"pred"`` (columns: precision), ``"all"``, or None (``"none"`` in TOML) for the counts.

    Raises:
        ConfigError: A negative ``snapshots`` or an unknown ``confusion_normalize``.

    Example:
        ```toml
        [logging.local]
        snapshots = 8
        confusion_normalize = "pred"
        ```

        >>> from seg_train.loggers.local import LocalLogger
        >>> LocalLogger(snapshots=2).snapshots
        2
    """

    def __init__(self, *, snapshots: int = 4, plots: bool = True, confusion_normalize: str | None = "true") -> None:
        if isinstance(snapshots, bool) or not isinstance(snapshots, int) or snapshots < 0:
            raise ConfigError(f"LocalLogger got snapshots={snapshots!r}; accepted: an int >= 0")
        if confusion_normalize == "none":  # TOML has no null
            confusion_normalize = None
        if confusion_normalize not in _plots.NORMALIZE_CHOICES:
            choices = ", ".join(map(repr, _plots.NORMALIZE_CHOICES))
            raise ConfigError(
                f"LocalLogger got confusion_normalize={confusion_normalize!r}; accepted: {choices} or 'none'"
            )
        self.snapshots = snapshots
        self.plots = bool(plots)
        self.confusion_normalize = confusion_normalize

    @hookimpl
    def seg_train_fit_start(self, trainer: Any) -> None:
        """Rewrite the metric files from ``trainer.history`` (empty for a new run, the past epochs on resume)."""
        run_dir = _run_dir(trainer)
        if run_dir is None:
            return
        history = list(trainer.history)
        self._write_tables(run_dir, history)
        if self.plots and history:
            atomic_write_bytes(run_dir / "plots" / "curves.png", _plots.curves_png(history))

    @hookimpl
    def seg_train_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        """Write ``metrics.jsonl``, ``metrics.csv`` and ``plots/curves.png`` with the finished epoch."""
        run_dir = _run_dir(trainer)
        if run_dir is None:
            return
        history = list(trainer.history)
        if not history or (history[-1] is not metrics and history[-1] != metrics):
            history.append(metrics)  # a trainer that records its history after the hook
        self._write_tables(run_dir, history)
        if self.plots:
            atomic_write_bytes(run_dir / "plots" / "curves.png", _plots.curves_png(history))

    @hookimpl
    def seg_train_evaluation_end(
        self, trainer: Any, epoch: int, split: str, metrics: dict[str, float], confusion_matrix: Any, samples: Any
    ) -> None:
        """Draw the confusion matrix and the prediction snapshots of an evaluation."""
        run_dir = _run_dir(trainer)
        if run_dir is None:
            return
        metadata = getattr(trainer, "metadata", None)
        tag = f"{_safe_name(split)}_epoch{int(epoch):04d}"
        if self.plots and confusion_matrix is not None:
            labels = list(getattr(metadata, "labels", ()) or ())
            png = _plots.confusion_png(
                confusion_matrix,
                labels if len(labels) == len(confusion_matrix) else None,
                normalize=self.confusion_normalize,
                title=f"{split} confusion matrix, epoch {int(epoch)}",
            )
            atomic_write_bytes(run_dir / "plots" / f"confusion_{tag}.png", png)
        grid = snapshot_grid(samples, metadata, self.snapshots)
        if grid is not None:
            atomic_write_bytes(run_dir / "snapshots" / f"{tag}.png", png_bytes(grid))

    @staticmethod
    def _write_tables(run_dir: Path, history: Sequence[Mapping[str, Any]]) -> None:
        atomic_write_bytes(run_dir / "metrics.jsonl", jsonl_bytes(history))
        atomic_write_bytes(run_dir / "metrics.csv", csv_bytes(history))


def jsonl_bytes(history: Sequence[Mapping[str, Any]]) -> bytes:
    """One JSON object per epoch; non-finite numbers become ``null`` (strict JSON), whole numbers of
    ``epoch`` and ``step`` are written as integers.

    Example:
        >>> jsonl_bytes([{"epoch": 1.0, "train/loss": float("nan")}])
        b'{"epoch": 1, "train/loss": null}\\n'
    """
    lines = [json.dumps({key: _json_value(key, value) for key, value in record.items()}, allow_nan=False)
             for record in history]  # fmt: skip
    return "".join(line + "\n" for line in lines).encode("utf-8")


def csv_bytes(history: Sequence[Mapping[str, Any]]) -> bytes:
    """The history as CSV: ``epoch``, ``step``, then every other key in the order it first appears;
    an epoch without a metric (not evaluated) leaves its cell empty.

    Example:
        >>> csv_bytes([{"train/loss": 0.5, "epoch": 1.0}, {"epoch": 2.0, "val/miou": 0.25}]).decode().splitlines()
        ['epoch,train/loss,val/miou', '1,0.5,', '2,,0.25']
    """
    columns: dict[str, None] = {}
    for record in history:
        columns.update(dict.fromkeys(record))
    ordered = [c for c in LEADING_COLUMNS if c in columns] + [c for c in columns if c not in LEADING_COLUMNS]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ordered)
    for record in history:
        writer.writerow(["" if key not in record else _csv_value(key, record[key]) for key in ordered])
    return buffer.getvalue().encode("utf-8")


def _json_value(key: str, value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            return None
        if key in LEADING_COLUMNS and number.is_integer():
            return int(number)
        return number
    try:
        return _json_value(key, float(value))
    except (TypeError, ValueError):
        return str(value)


def _csv_value(key: str, value: Any) -> Any:
    converted = _json_value(key, value)
    if converted is None and isinstance(value, numbers.Real):
        return repr(float(value))  # nan, inf: what CSV readers parse back
    return converted


def _run_dir(trainer: Any) -> Path | None:
    run_dir = getattr(trainer, "run_dir", None)
    return None if run_dir is None else Path(run_dir)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name))
