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
    "build_lut",
    "check_labels",
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


def apply_lut(mask: NDArray[np.integer], lut: NDArray[np.int64], *, source: str = "mask") -> NDArray[np.int64]:
    """Map raw mask values through ``lut``.

    Args:
        mask: Integer array of raw ids.
        lut: Table from :func:`build_lut`.
        source: File name used in error messages.

    Returns:
        An int64 array of the same shape.

    Raises:
        DatasetError: A raw value is negative or beyond the table (names ``source``).
    """
    arr = np.asarray(mask)
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= len(lut)):
        raise DatasetError(
            f"{source}: raw label values span [{int(arr.min())}, {int(arr.max())}], outside the lookup table "
            f"[0, {len(lut)})"
        )
    return lut[arr.astype(np.int64, copy=False)]


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
        DatasetError: Names ``source`` and the offending values.
    """
    arr = np.asarray(mask)
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
