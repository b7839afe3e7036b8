"""Decoding of image and mask files to numpy arrays (the first stage of a sample); every failure names the file.

No torch here: :func:`seg_data.convert.to_tensors` converts the decoded arrays once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from seg_data.errors import DatasetError


def read_image(path: Path) -> NDArray[np.uint8]:
    """Decode an image file to a uint8 RGB array (H, W, 3).

    Raises:
        DatasetError: Missing, corrupt or truncated file (names it).
    """
    try:
        with Image.open(path) as im:
            im.draft("RGB", im.size)  # no-op except for JPEG: decode at full size, RGB directly
            arr = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"cannot decode image {path}: {type(exc).__name__}: {exc}") from exc
    return arr


def read_mask(path: Path) -> NDArray[np.integer]:
    """Decode a mask file to a numpy array: (H, W) values for index/palette PNGs, (H, W, 3) for RGB masks.

    Palette ("P" mode) PNGs give their palette indices, not colors.

    Raises:
        DatasetError: Missing, corrupt or truncated file (names it).
    """
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
                arr = np.asarray(im)
            elif im.mode in ("RGB", "RGBA"):
                arr = np.asarray(im.convert("RGB"))
            elif im.mode == "LA":
                arr = np.asarray(im)[..., 0]
            else:
                arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"cannot decode mask {path}: {type(exc).__name__}: {exc}") from exc
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    return arr
