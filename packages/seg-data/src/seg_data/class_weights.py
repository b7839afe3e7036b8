"""Class weights from mask histograms (no image decoding), streamed, cached on disk.

Four weightings (``f_c`` = pixel count of class ``c`` over the split, ``m`` = median of the counts of the
classes that occur, ``N`` = total pixel count):

| method | weight of a present class | reference |
|---|---|---|
| ``median_frequency`` | ``m / f_c`` | median-frequency balancing |
| ``inverse_sqrt`` | ``sqrt(m / f_c)`` | |
| ``inverse_log`` | ``1 / ln(1.02 + f_c / N)`` | ENet |
| ``effective_number`` | ``(1 - beta) / (1 - beta ** f_c)``, normalized | Cui et al. 2019 |

Classes absent from the data get weight 0 (they contribute no pixels, so the weight only matters if a
later split contains them; 0 keeps the loss finite), never infinity. Weights of present classes are scaled
so that their mean is 1.

```python
>>> import torch
>>> counts = torch.tensor([100.0, 10.0, 0.0])
>>> [round(w, 3) for w in weights_from_counts(counts, "median_frequency").tolist()]
[0.182, 1.818, 0.0]

```
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from seg_core.errors import ConfigError

__all__ = ["METHODS", "class_histogram", "compute_class_weights", "weights_from_counts"]

METHODS = ("median_frequency", "inverse_sqrt", "inverse_log", "effective_number")


def class_histogram(masks: Iterable[torch.Tensor], num_classes: int, ignore_index: int = 255) -> torch.Tensor:
    """Count pixels per class over an iterable of masks (streamed, one mask at a time).

    Args:
        masks: Integer masks of any shape.
        num_classes: Number of classes.
        ignore_index: Value not counted.

    Returns:
        float64 tensor of length ``num_classes``.

    Raises:
        ConfigError: A mask has a value outside ``[0, num_classes) | {ignore_index}``.
    """
    counts = torch.zeros(num_classes, dtype=torch.float64)
    for mask in masks:
        flat = torch.as_tensor(mask).reshape(-1).to(torch.int64)
        flat = flat[flat != ignore_index]
        if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) >= num_classes):
            raise ConfigError(f"mask values outside [0, {num_classes}) found while counting classes")
        counts += torch.bincount(flat, minlength=num_classes).to(torch.float64)
    return counts


def weights_from_counts(counts: torch.Tensor, method: str, *, beta: float | None = None) -> torch.Tensor:
    """Turn per-class pixel counts into weights (see the module docstring for the formulas).

    Args:
        counts: Pixel count per class.
        method: One of :data:`METHODS`.
        beta: ``effective_number`` only; default ``1 - 1 / m`` (``m`` = median count).

    Returns:
        float32 weights; absent classes get 0, present ones have mean 1.

    Raises:
        ConfigError: Unknown method or no pixel at all.
    """
    if method not in METHODS:
        raise ConfigError(f"class weight method={method!r} is unknown; use one of {list(METHODS)}")
    c = torch.as_tensor(counts, dtype=torch.float64)
    present = c > 0
    if not present.any():
        raise ConfigError("class weights: the masks contain no labelled pixel")
    f = c[present]
    m = f.median()
    if method == "median_frequency":
        w = m / f
    elif method == "inverse_sqrt":
        w = torch.sqrt(m / f)
    elif method == "inverse_log":
        w = 1.0 / torch.log(1.02 + f / f.sum())
    else:
        b = beta if beta is not None else (1.0 - 1.0 / float(m) if float(m) > 1 else 0.5)
        if not 0.0 <= b < 1.0:
            raise ConfigError(f"effective_number: beta={b} must be in [0, 1)")
        # (1 - b) / (1 - b**f), computed in log space so that huge counts do not underflow to 1
        w = (1.0 - b) / (-torch.expm1(f * math.log(b))) if b > 0 else torch.ones_like(f)
    w = w / w.mean()
    out = torch.zeros_like(c)
    out[present] = w
    return out.to(torch.float32)


def _cache_file(dataset: Any, cache_dir: Path) -> Path:
    root = str(getattr(dataset, "root", "") or "")
    key = "|".join(
        [
            getattr(dataset.metadata, "name", type(dataset).__name__),
            str(getattr(dataset, "split", "")),
            str(getattr(dataset, "mapping_id", "")),
            root,
            str(len(dataset)),
            str(dataset.metadata.num_classes),
            str(dataset.metadata.ignore_index),
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir / f"class_counts_{dataset.metadata.name}_{getattr(dataset, 'split', '')}_{digest}.json"


def compute_class_weights(
    dataset: Any, method: str = "median_frequency", *, cache_dir: str | Path | None = None, beta: float | None = None
) -> torch.Tensor:
    """Compute class weights for a seg-data dataset from its masks only.

    Args:
        dataset: A :class:`~seg_data.base.SegmentationDataset` (uses ``load_mask``, never decodes images).
        method: One of :data:`METHODS`.
        cache_dir: Folder for the per-class counts, keyed by dataset name, split, label mapping, root and size;
            None disables caching.
        beta: See :func:`weights_from_counts`.

    Returns:
        float32 tensor of length ``dataset.metadata.num_classes``.

    Example:
        >>> from seg_data import create_dataset
        >>> ds = create_dataset("synthetic", num_samples=4, size=32, num_classes=3)
        >>> compute_class_weights(ds, "inverse_sqrt").shape
        torch.Size([3])
    """
    meta = dataset.metadata
    cache = _cache_file(dataset, Path(cache_dir)) if cache_dir is not None else None
    counts: torch.Tensor | None = None
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text())
        if len(data.get("counts", [])) == meta.num_classes:
            counts = torch.tensor(data["counts"], dtype=torch.float64)
    if counts is None:
        counts = class_histogram(
            (dataset.load_mask(i) for i in range(len(dataset))), meta.num_classes, meta.ignore_index
        )
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"dataset": meta.name, "split": getattr(dataset, "split", ""),
                                         "mapping": getattr(dataset, "mapping_id", ""),
                                         "counts": counts.tolist()}))  # fmt: skip
    return weights_from_counts(counts, method, beta=beta)
