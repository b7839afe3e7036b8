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
import os
import warnings
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


#: Version of the cache file format (files of another version are recomputed).
_CACHE_VERSION = 2


def _inputs(dataset: Any) -> tuple[list[Path], str]:
    """The files the counts are made from (mask, else image, per sample) and a digest of their paths.

    Samples made in memory (``generate``) have no files: the generator's ``repr`` goes into the digest instead (a
    dataclass such as the synthetic dataset's shows its parameters; a plain function shows its address, so its
    counts are never reused across processes).
    """
    files: list[Path] = []
    key = hashlib.sha256()
    generate = getattr(dataset, "generate", None)
    if generate is not None:
        key.update(f"generate:{generate!r}".encode())
        return files, key.hexdigest()
    for sample in getattr(dataset, "samples", []):
        _, image, mask = sample
        path = Path(mask if mask is not None else image)
        files.append(path)
        key.update(os.fsencode(path) + b"\0")
    return files, key.hexdigest()


def _stat(path: Path) -> list[int] | None:
    """``[size, mtime_ns]`` of ``path``, None when it is missing."""
    try:
        st = path.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _read_cache(cache: Path, num_classes: int, files: list[Path], paths_digest: str) -> torch.Tensor | None:
    """The cached counts when the file is valid and its inputs unchanged; None (with a warning) otherwise."""
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        counts = data["counts"]
        stats = data["inputs"]["stats"]
        ok = (
            data.get("version") == _CACHE_VERSION
            and isinstance(counts, list)
            and len(counts) == num_classes
            and all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) and c >= 0
                    for c in counts)
            and isinstance(stats, list)
            and len(stats) == len(files)
        )  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    else:
        detail = "unexpected content"
    if not ok:
        warnings.warn(
            f"class weight cache {cache} is corrupt or of another format ({detail}); recomputing the counts",
            stacklevel=3,
        )
        return None
    if data["inputs"].get("paths") != paths_digest:
        warnings.warn(f"class weight cache {cache} was made from other files; recomputing the counts", stacklevel=3)
        return None
    missing: list[Path] = []
    for path, recorded in zip(files, stats, strict=True):
        now = _stat(path)
        if now is None:
            missing.append(path)
        elif now != recorded:
            warnings.warn(
                f"class weight cache {cache} is stale: {path} changed since the counts were cached (size/mtime); "
                "recomputing the counts",
                stacklevel=3,
            )
            return None
    if missing:
        warnings.warn(
            f"class weight cache {cache}: {len(missing)} input file(s) are missing (first: {missing[0]}); using the "
            "counts cached when they existed",
            stacklevel=3,
        )
    return torch.tensor(counts, dtype=torch.float64)


def _write_cache(cache: Path, content: dict[str, Any]) -> None:
    """Write ``content`` atomically (a temporary file renamed over the cache): readers never see half a file."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(content), encoding="utf-8")
        os.replace(tmp, cache)
    except OSError as exc:
        warnings.warn(f"cannot write the class weight cache {cache}: {exc}", stacklevel=3)
        tmp.unlink(missing_ok=True)


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
            None disables caching. The cache also records the size and modification time of every mask file (the
            image for samples without mask): when one changed, the counts are recomputed (with a warning), and a
            corrupt cache file is recomputed too (with a warning naming it), never reused. Missing input files
            cannot be recounted: the cached counts are used with a warning naming the first.
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
    cache = _cache_file(dataset, Path(cache_dir).expanduser()) if cache_dir is not None else None
    counts: torch.Tensor | None = None
    files, paths_digest = _inputs(dataset) if cache is not None else ([], "")
    if cache is not None and cache.is_file():
        counts = _read_cache(cache, meta.num_classes, files, paths_digest)
    if counts is None:
        stats = [_stat(f) for f in files]  # before reading: a file changed while counting makes the cache stale
        counts = class_histogram(
            (dataset.load_mask(i) for i in range(len(dataset))), meta.num_classes, meta.ignore_index
        )
        if cache is not None:
            _write_cache(cache, {
                "version": _CACHE_VERSION, "dataset": meta.name, "split": getattr(dataset, "split", ""),
                "mapping": getattr(dataset, "mapping_id", ""), "counts": counts.tolist(),
                "inputs": {"paths": paths_digest, "stats": stats},
            })  # fmt: skip
    return weights_from_counts(counts, method, beta=beta)
