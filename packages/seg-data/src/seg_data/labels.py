"""Label utilities: id -> train-id lookup tables, palette encode/decode, reduce-zero-label.

Generic tools only: each dataset's own tables (Cityscapes labelIds, COCO-Stuff ids...) live in its module
under ``seg_data.datasets``. All functions work on numpy arrays (and torch tensors through ``numpy()``);
none imports torch.

Example:
    >>> import numpy as np
    >>> lut = build_lut({7: 0, 8: 1}, size=256, ignore_index=255)
    >>> apply_lut(np.array([[7, 8, 0]], dtype=np.uint8), lut).tolist()
    [[0, 1, 255]]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from seg_data.errors import DatasetError

__all__ = [
    "apply_lut",
    "as_label_array",
    "build_lut",
    "check_labels",
    "check_raw_labels",
    "defined_values",
    "identity_lut",
    "palette_decode",
    "palette_encode",
    "reduce_zero_label",
]


def build_lut(mapping: Mapping[int, int], *, size: int = 256, ignore_index: int = 255) -> NDArray[np.int64]:
    """Build a lookup table ``lut[raw_id] = train_id``; ids not in ``mapping`` map to ``ignore_index``.

    Args:
        mapping: Raw id -> train id.
        size: Table length (256 for 8-bit masks, 65536 for 16-bit).
        ignore_index: Value for unmapped ids.

    Returns:
        An int64 array of length ``size``.

    Raises:
        ValueError: A raw id is outside ``[0, size)``.
    """
    lut = np.full(size, ignore_index, dtype=np.int64)
    for raw, train in mapping.items():
        if not 0 <= raw < size:
            raise ValueError(f"raw id {raw} is outside the lookup table of size {size}")
        lut[raw] = train
    return lut


def identity_lut(num_classes: int, *, size: int = 256, ignore_index: int = 255) -> NDArray[np.int64]:
    """Lookup table keeping ``0..num_classes-1`` and ``ignore_index``; every other value -> ``ignore_index``."""
    return build_lut({i: i for i in range(num_classes)}, size=size, ignore_index=ignore_index)


def as_label_array(mask: object, *, source: str = "mask") -> NDArray[np.int64]:
    """Return ``mask`` as int64 class values, refusing values that are not whole numbers (never truncates).

    Integer and boolean arrays convert directly; float arrays only when every value is a finite whole number.

    Args:
        mask: Array-like of label values.
        source: File name used in error messages.

    Returns:
        An int64 array of the same shape.

    Raises:
        DatasetError: Non-integer, non-finite or non-numeric values (names ``source`` and some values).

    Example:
        >>> as_label_array(np.array([0.0, 3.0])).tolist()
        [0, 3]
    """
    arr = np.asarray(mask)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.round(arr)) & (np.abs(arr) < 2.0**62)
        if bool(whole.all()):
            return arr.astype(np.int64)
        values = np.unique(arr[~whole])[:5].tolist()
        raise DatasetError(
            f"{source}: label values must be whole numbers (class indices), got {values} (dtype {arr.dtype}); "
            "a label file with fractional values was resampled or saved with interpolation: re-export it with "
            "nearest-neighbour sampling and integer values"
        )
    raise DatasetError(
        f"{source}: label values must be integers, got dtype {arr.dtype}; store masks as integer arrays "
        "(index PNGs, uint8/uint16 values)"
    )


def apply_lut(mask: NDArray[np.integer], lut: NDArray[np.int64], *, source: str = "mask") -> NDArray[np.int64]:
    """Map raw mask values through ``lut``.

    Args:
        mask: Integer array of raw ids (float arrays of whole numbers are accepted).
        lut: Table from :func:`build_lut`.
        source: File name used in error messages.

    Returns:
        An int64 array of the same shape.

    Raises:
        DatasetError: A raw value is negative, beyond the table or not a whole number (names ``source``).
    """
    arr = as_label_array(mask, source=source)
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= len(lut)):
        raise DatasetError(
            f"{source}: raw label values span [{int(arr.min())}, {int(arr.max())}], outside the lookup table "
            f"[0, {len(lut)})"
        )
    return lut[arr]


def defined_values(lut: NDArray[np.int64], ignore_index: int = 255, *, void: Iterable[int] = ()) -> NDArray[np.bool_]:
    """Table of the raw values a label encoding defines: those ``lut`` maps to a class, ``ignore_index`` and ``void``.

    ``void`` lists the raw values the official format defines as unlabeled (VOC's 255 border, ADE20K's 0, the
    Cityscapes ids its trainId table sends to 255...); they map to ``ignore_index`` like undefined values, but only
    undefined values are an error for :func:`check_raw_labels`.

    Args:
        lut: The lookup table of the encoding.
        ignore_index: The value ``lut`` gives ignored ids; as a raw value it is defined too (stays ignored).
        void: Raw values defined as unlabeled.

    Returns:
        A boolean table of the length of ``lut``: True where the raw value is defined.

    Raises:
        ValueError: A ``void`` value is outside the table.

    Example:
        >>> table = defined_values(build_lut({1: 0, 2: 1}, size=5), void=[0])
        >>> np.flatnonzero(table).tolist()
        [0, 1, 2]
    """
    table = np.asarray(lut) != ignore_index
    if 0 <= ignore_index < len(table):
        table[ignore_index] = True
    for value in void:
        if not 0 <= value < len(table):
            raise ValueError(f"void raw value {value} is outside the lookup table of size {len(table)}")
        table[value] = True
    return table


def _spans(values: Iterable[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0..2, 5"``."""
    parts: list[str] = []
    run: list[int] = []
    for v in sorted(values):
        if run and v == run[-1] + 1:
            run.append(v)
            continue
        if run:
            parts.append(f"{run[0]}..{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
        run = [v]
    if run:
        parts.append(f"{run[0]}..{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)))
    return ", ".join(parts)


def check_raw_labels(
    raw: NDArray[np.integer],
    defined: NDArray[np.bool_],
    *,
    source: str = "mask",
    encoding: str = "the dataset's",
    ignore_index: int = 255,
) -> None:
    """Raise if ``raw`` (values as stored in a mask file, before any lookup) holds a value ``defined`` does not allow.

    Run this before mapping: a lookup table sends undefined values to ``ignore_index`` like void ones, so after the
    lookup a wrong file (a palette mask saved as grayscale, another dataset's ids) would silently become ignore.

    Args:
        raw: The stored values.
        defined: Table from :func:`defined_values`.
        source: File name used in error messages.
        encoding: Name of the label encoding (the dataset), for the message.
        ignore_index: Named in the message (what ``check=False`` maps undefined values to).

    Raises:
        DatasetError: Names ``source``, the undefined values and the defined ones.

    Example:
        >>> check_raw_labels(np.array([[0, 2]]), np.array([True, True, True]))
    """
    arr = as_label_array(raw, source=source)
    if not arr.size:
        return
    lo, hi = int(arr.min()), int(arr.max())
    if lo >= 0 and hi < len(defined):
        present = np.bincount(arr.ravel(), minlength=len(defined)) > 0
        bad = np.flatnonzero(present & ~defined)
    else:
        values = np.unique(arr)
        inside = (values >= 0) & (values < len(defined))
        ok = np.zeros(len(values), dtype=bool)
        ok[inside] = defined[values[inside]]
        bad = values[~ok]
    if len(bad):
        shown = bad[:10].tolist()
        raise DatasetError(
            f"{source}: label values {shown} as stored in the file are not defined by {encoding} label encoding "
            f"(defined: {_spans(np.flatnonzero(defined).tolist())}); the file does not hold that encoding (a palette "
            "mask saved as grayscale or RGB, another dataset's ids, a resampled mask). Re-export the mask with its "
            f"original values, or pass check=False to map undefined values to ignore_index={ignore_index}"
        )


def reduce_zero_label(mask: NDArray[np.integer], *, ignore_index: int = 255) -> NDArray[np.int64]:
    """Shift labels down by one and send 0 to ``ignore_index`` (ADE20K's "other" class).

    ``ignore_index`` values stay ``ignore_index``.

    Example:
        >>> reduce_zero_label(np.array([0, 1, 150, 255])).tolist()
        [255, 0, 149, 255]
    """
    arr = np.asarray(mask).astype(np.int64)
    out = arr - 1
    out[(arr == 0) | (arr == ignore_index)] = ignore_index
    return out


def check_labels(mask: NDArray[np.integer], num_classes: int, ignore_index: int, *, source: str = "mask") -> None:
    """Raise if ``mask`` holds a value outside ``[0, num_classes) | {ignore_index}``.

    Raises:
        DatasetError: Names ``source`` and the offending values (also for values that are not whole numbers).
    """
    arr = as_label_array(mask, source=source)
    bad = (arr != ignore_index) & ((arr < 0) | (arr >= num_classes))
    if bad.any():
        values = np.unique(arr[bad])[:10].tolist()
        raise DatasetError(
            f"{source}: label values {values} are outside [0, {num_classes}) and are not ignore_index={ignore_index}"
        )


def palette_encode(mask: NDArray[np.integer], colors: Sequence[Sequence[int]], *, ignore_index: int = 255,
                   ignore_color: Sequence[int] = (255, 255, 255)) -> NDArray[np.uint8]:  # fmt: skip
    """Turn an index mask (H, W) into an RGB image (H, W, 3) with ``colors[i]`` for class ``i``.

    Values that are not classes (``ignore_index`` or out of range) get ``ignore_color``.
    """
    arr = np.asarray(mask).astype(np.int64)
    table = np.asarray(list(colors), dtype=np.uint8).reshape(-1, 3)
    out = np.empty((*arr.shape, 3), dtype=np.uint8)
    out[...] = np.asarray(ignore_color, dtype=np.uint8)
    valid = (arr >= 0) & (arr < len(table)) & (arr != ignore_index)
    out[valid] = table[arr[valid]]
    return out


def palette_decode(rgb: NDArray[np.integer], colors: Iterable[Sequence[int]], *, ignore_index: int = 255,
                   source: str = "mask", strict: bool = False) -> NDArray[np.int64]:  # fmt: skip
    """Turn an RGB mask (H, W, 3) into class indices by exact color match.

    Args:
        rgb: Color mask.
        colors: Color of class ``i`` at position ``i``.
        ignore_index: Value for colors that match no class.
        source: File name used in error messages.
        strict: Raise instead of ignoring unknown colors.

    Returns:
        int64 (H, W) indices.

    Raises:
        DatasetError: ``rgb`` is not (H, W, 3), or (``strict``) it has a color of no class.
    """
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise DatasetError(f"{source}: expected an RGB mask (H, W, 3), got shape {arr.shape}")
    arr = arr[..., :3].astype(np.int64)
    key = (arr[..., 0] << 16) | (arr[..., 1] << 8) | arr[..., 2]
    out = np.full(key.shape, ignore_index, dtype=np.int64)
    known = np.zeros(key.shape, dtype=bool)
    for index, color in enumerate(colors):
        r, g, b = (int(v) for v in color[:3])
        hit = key == ((r << 16) | (g << 8) | b)
        out[hit & ~known] = index
        known |= hit
    if strict and not known.all():
        k = int(key[~known][0])
        raise DatasetError(f"{source}: color {(k >> 16, (k >> 8) & 255, k & 255)} is not in the palette")
    return out
