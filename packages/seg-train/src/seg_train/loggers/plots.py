"""Training plots as PNG bytes: the confusion matrix and the metric curves.

The figures are drawn with matplotlib's object API on an Agg canvas (`matplotlib.figure.Figure` +
``FigureCanvasAgg``): nothing here imports ``pyplot`` or calls ``matplotlib.use``, so drawing
never changes the backend of the program that trains (a notebook keeps its inline backend).
Every function returns the PNG's bytes; write them with `seg_core.io.atomic_write_bytes`.

Example:
    >>> import numpy as np
    >>> from seg_train.loggers.plots import confusion_png
    >>> png = confusion_png(np.array([[5, 1], [2, 8]]), ["road", "car"])
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
"""

from __future__ import annotations

import io
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import NDArray

__all__ = [
    "ANNOTATE_MAX_CLASSES",
    "NORMALIZE_CHOICES",
    "confusion_png",
    "curves_png",
    "figure_png",
    "metric_families",
    "normalize_confusion",
]

#: How ``normalize`` may divide a confusion matrix: by row (ground truth), column (prediction) or total.
NORMALIZE_CHOICES: tuple[str | None, ...] = ("true", "pred", "all", None)
#: Cells are annotated with their value up to this many classes.
ANNOTATE_MAX_CLASSES = 20
#: Class names are written on the axes up to this many classes (beyond, they would overlap).
_TICK_LABELS_MAX_CLASSES = 60
#: History keys that are bookkeeping, not curves.
_NOT_CURVES = frozenset({"epoch", "step", "time"})


def figure_png(figure: Figure, *, dpi: int = 100) -> bytes:
    """Render a matplotlib figure with the Agg canvas and return the PNG bytes.

    Args:
        figure: A `matplotlib.figure.Figure` (made without pyplot).
        dpi: Resolution.

    Returns:
        The PNG file's content.
    """
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def normalize_confusion(matrix: Any, normalize: str | None = "true") -> NDArray[np.float64]:
    """Divide a confusion matrix by its rows, columns or total (empty rows/columns stay 0).

    Args:
        matrix: A (C, C) matrix, rows = ground truth (or (C, 2, 2): each 2x2 normalized on its own).
            A CPU tensor works too.
        normalize: ``"true"`` (rows sum to 1: recall), ``"pred"`` (columns: precision),
            ``"all"`` (the whole matrix) or None (the counts, as floats).

    Returns:
        A float64 array of the same shape.

    Raises:
        ValueError: ``normalize`` is not one of `NORMALIZE_CHOICES`, or the matrix is not
            (C, C) or (C, 2, 2).

    Example:
        >>> normalize_confusion([[3, 1], [0, 0]]).tolist()
        [[0.75, 0.25], [0.0, 0.0]]
    """
    if normalize not in NORMALIZE_CHOICES:
        raise ValueError(f"normalize={normalize!r}; accepted: {', '.join(map(repr, NORMALIZE_CHOICES))}")
    arr = _as_matrix(matrix)
    if normalize is None:
        return arr
    if normalize == "true":
        total = arr.sum(axis=-1, keepdims=True)
    elif normalize == "pred":
        total = arr.sum(axis=-2, keepdims=True)
    else:
        total = arr.sum(axis=(-2, -1), keepdims=True)
    return np.divide(arr, total, out=np.zeros_like(arr), where=total != 0)


def confusion_png(
    matrix: Any,
    labels: Sequence[str] | None = None,
    *,
    normalize: str | None = "true",
    title: str | None = None,
    dpi: int = 100,
) -> bytes:
    """Draw a confusion matrix (class names on the axes) and return the PNG bytes.

    A (C, C) matrix is one heat map, rows = ground truth, columns = prediction, its cells
    annotated with their value when there are at most `ANNOTATE_MAX_CLASSES` classes. A
    (C, 2, 2) matrix (binary and multilabel: one per class) is one small 2x2 panel per class.

    Args:
        matrix: The confusion matrix (numpy array, nested lists or a CPU tensor).
        labels: One name per class (default: the class indices).
        normalize: See `normalize_confusion`; None draws the counts.
        title: The figure's title (default: "confusion matrix" and the normalization).
        dpi: Resolution.

    Returns:
        The PNG file's content.

    Raises:
        ValueError: A matrix of another shape, a wrong number of labels or an unknown ``normalize``.

    Example:
        >>> png = confusion_png([[[8, 1], [2, 5]], [[9, 0], [1, 6]]], ["cat", "dog"], normalize=None)
        >>> png.startswith(b"\\x89PNG")
        True
    """
    values = normalize_confusion(matrix, normalize)
    classes = values.shape[0]
    names = [str(i) for i in range(classes)] if labels is None else [str(label) for label in labels]
    if len(names) != classes:
        raise ValueError(f"confusion_png got {len(names)} labels for {classes} classes")
    heading = title or ("confusion matrix" + ("" if normalize is None else f" (normalized: {normalize})"))
    if values.ndim == 3:
        figure = _multilabel_figure(values, names, counts=normalize is None)
    else:
        figure = _multiclass_figure(values, names, counts=normalize is None)
    figure.suptitle(heading)
    return figure_png(figure, dpi=dpi)


def metric_families(history: Sequence[Mapping[str, float]]) -> dict[str, list[str]]:
    """Group a history's scalar metrics into the panels of `curves_png`.

    ``"loss"`` holds every ``<split>/loss``; ``"lr"`` the learning rate(s); every other
    ``<split>/<metric>`` goes to the panel ``<metric>`` (``val/miou`` and ``test/miou`` share
    ``"miou"``). Per-class metrics (``val/per_class_iou/<class>``) and the bookkeeping keys
    ``epoch``, ``step`` and ``time`` are left out.

    Args:
        history: One dict of metrics per epoch.

    Returns:
        Panel name -> metric keys, in the order they first appear (``loss`` first, ``lr`` last).

    Example:
        >>> metric_families([{"epoch": 1, "train/loss": 0.9, "lr": 0.1, "val/loss": 1.0, "val/miou": 0.4}])
        {'loss': ['train/loss', 'val/loss'], 'miou': ['val/miou'], 'lr': ['lr']}
    """
    families: dict[str, list[str]] = {"loss": []}
    learning_rates: list[str] = []
    for record in history:
        for key in record:
            if key in _NOT_CURVES:
                continue
            parts = key.split("/")
            if parts[0] == "lr" or parts[-1] == "lr":
                family, keys = "lr", learning_rates
            elif len(parts) > 2:
                continue
            else:
                family = parts[-1]
                keys = families.setdefault(family, [])
            if key not in keys:
                keys.append(key)
    if not families["loss"]:
        del families["loss"]
    if learning_rates:
        families["lr"] = learning_rates
    return families


def curves_png(history: Sequence[Mapping[str, float]], *, dpi: int = 100) -> bytes:
    """Draw the metric curves of a history (x = epoch), one panel per family, as PNG bytes.

    Args:
        history: One dict of metrics per epoch (``trainer.history``); a metric missing from
            some epochs (evaluated every few epochs) is drawn at the epochs that have it.
        dpi: Resolution.

    Returns:
        The PNG file's content (a single "no metrics yet" panel when there is nothing to draw).

    Example:
        >>> png = curves_png([{"epoch": 1, "train/loss": 0.9}, {"epoch": 2, "train/loss": 0.7}])
        >>> png.startswith(b"\\x89PNG")
        True
    """
    families = metric_families(history)
    columns = max(1, min(3, len(families)))
    rows = max(1, math.ceil(len(families) / columns))
    figure = Figure(figsize=(4.5 * columns, 3.2 * rows), layout="constrained")
    if not families:
        axes = figure.add_subplot()
        axes.text(0.5, 0.5, "no metrics yet", ha="center", va="center")
        axes.set_axis_off()
        return figure_png(figure, dpi=dpi)
    epochs = [float(record.get("epoch", i + 1)) for i, record in enumerate(history)]
    for index, (family, keys) in enumerate(families.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        positive = True
        for key in keys:
            points = [(x, float(r[key])) for x, r in zip(epochs, history, strict=True) if _is_number(r.get(key))]
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            positive = positive and min(ys) > 0
            axes.plot(xs, ys, marker="o" if len(points) < 30 else None, markersize=3, label=key)
        axes.set_title(family)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(True, alpha=0.3)
        if family == "lr" and positive and _spans_decades(axes):
            axes.set_yscale("log")
        if axes.lines:
            axes.legend(fontsize="small")
    return figure_png(figure, dpi=dpi)


def _as_matrix(matrix: Any) -> NDArray[np.float64]:
    detach = getattr(matrix, "detach", None)
    if callable(detach):  # a tensor: leave autograd and the device
        matrix = detach().cpu()
    arr = np.asarray(matrix, dtype=np.float64)
    square = arr.ndim == 2 and arr.shape[0] == arr.shape[1]
    per_class = arr.ndim == 3 and arr.shape[1:] == (2, 2)
    if not (square or per_class) or arr.shape[0] == 0:
        raise ValueError(f"a confusion matrix is (C, C) or (C, 2, 2), got shape {arr.shape}")
    return arr


def _multiclass_figure(values: NDArray[np.float64], names: list[str], *, counts: bool) -> Figure:
    classes = values.shape[0]
    side = min(4.0 + 0.35 * classes, 24.0)
    figure = Figure(figsize=(side + 1.5, side), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(values, cmap="Blues", interpolation="nearest", vmin=0)
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_xlabel("prediction")
    axes.set_ylabel("ground truth")
    if classes <= _TICK_LABELS_MAX_CLASSES:
        fontsize = 9 if classes <= ANNOTATE_MAX_CLASSES else 6
        ticks = list(range(classes))
        axes.set_xticks(ticks, names, rotation=90, fontsize=fontsize)
        axes.set_yticks(ticks, names, fontsize=fontsize)
    if classes <= ANNOTATE_MAX_CLASSES:
        _annotate(axes, values, counts=counts)
    return figure


def _multilabel_figure(values: NDArray[np.float64], names: list[str], *, counts: bool) -> Figure:
    classes = values.shape[0]
    columns = min(classes, 5)
    rows = math.ceil(classes / columns)
    figure = Figure(figsize=(2.4 * columns, 2.4 * rows + 0.5), layout="constrained")
    vmax = float(values.max()) or 1.0
    for index in range(classes):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.imshow(values[index], cmap="Blues", interpolation="nearest", vmin=0, vmax=vmax)
        axes.set_title(names[index], fontsize=9)
        axes.set_xticks([0, 1], ["neg", "pos"], fontsize=8)
        axes.set_yticks([0, 1], ["neg", "pos"], fontsize=8)
        if index % columns == 0:
            axes.set_ylabel("truth", fontsize=8)
        if index >= classes - columns:
            axes.set_xlabel("prediction", fontsize=8)
        _annotate(axes, values[index], counts=counts)
    return figure


def _annotate(axes: Any, values: NDArray[np.float64], *, counts: bool) -> None:
    threshold = float(values.max()) / 2
    for (row, column), value in np.ndenumerate(values):
        text = f"{value:.0f}" if counts else f"{value:.2f}"
        color = "white" if value > threshold else "black"
        axes.text(column, row, text, ha="center", va="center", color=color, fontsize=8)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(float(value))


def _spans_decades(axes: Any) -> bool:
    ys = [y for line in axes.lines for y in line.get_ydata()]
    return bool(ys) and max(ys) / min(ys) > 100
