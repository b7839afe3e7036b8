"""Decoding of image and mask files to numpy arrays (the first stage of a sample); every failure names the file.

No torch here: :func:`seg_data.convert.to_tensors` converts the decoded arrays once.

Decompression bombs: a file whose header announces more pixels than PIL's ``Image.MAX_IMAGE_PIXELS`` (PIL's default,
about 89 megapixels; None disables the limit) is a :class:`~seg_data.errors.DatasetError` naming it, before any
pixel is decoded; PIL's own ``DecompressionBombError`` (and its ``DecompressionBombWarning`` where warnings are
errors) become that error too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from seg_data.errors import DatasetError

_DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, MemoryError)


def _bomb(path: Path, what: str, detail: str) -> DatasetError:
    return DatasetError(
        f"cannot decode {what} {path}: it has more pixels than PIL.Image.MAX_IMAGE_PIXELS={Image.MAX_IMAGE_PIXELS} "
        f"allows ({detail}), a possible decompression bomb; if the file is trusted, raise the limit: "
        "PIL.Image.MAX_IMAGE_PIXELS = <pixels> (None disables it)"
    )


@contextlib.contextmanager
def _open(path: Path, what: str) -> Iterator[Image.Image]:
    """Open ``path`` with PIL, refusing decompression bombs and naming the file in every error."""
    # No warnings.catch_warnings() here (it is not thread-safe): PIL may emit its DecompressionBombWarning, then
    # the size check below refuses the file; where warnings are errors, the warning itself is converted.
    try:
        with Image.open(path) as im:
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and im.size[0] * im.size[1] > limit:
                raise _bomb(path, what, f"{im.size[0]}x{im.size[1]}")
            yield im
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _bomb(path, what, f"{type(exc).__name__}: {exc}") from exc
    except DatasetError:
        raise
    except _DECODE_ERRORS as exc:
        raise DatasetError(f"cannot decode {what} {path}: {type(exc).__name__}: {exc}") from exc


def read_image(path: Path) -> NDArray[np.uint8]:
    """Decode an image file to a uint8 RGB array (H, W, 3).

    Raises:
        DatasetError: Missing, corrupt or truncated file, or more pixels than ``PIL.Image.MAX_IMAGE_PIXELS``
            (names it).
    """
    with _open(path, "image") as im:
        im.draft("RGB", im.size)  # no-op except for JPEG: decode at full size, RGB directly
        return np.asarray(im.convert("RGB"))


def read_mask(path: Path) -> NDArray[np.integer]:
    """Decode a mask file to a numpy array: (H, W) values for index/palette PNGs, (H, W, 3) for RGB masks.

    Palette ("P" mode) PNGs give their palette indices, not colors.

    Raises:
        DatasetError: Missing, corrupt or truncated file, or more pixels than ``PIL.Image.MAX_IMAGE_PIXELS``
            (names it).
    """
    with _open(path, "mask") as im:
        im.load()
        if im.mode in ("P", "L", "I", "I;16", "I;16B", "I;16L", "1"):
            arr = np.asarray(im)
        elif im.mode in ("RGB", "RGBA"):
            arr = np.asarray(im.convert("RGB"))
        elif im.mode == "LA":
            arr = np.asarray(im)[..., 0]
        else:
            arr = np.asarray(im)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    return arr
