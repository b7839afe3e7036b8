"""Helpers writing tiny images and masks with real label encodings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

H, W = 6, 8


def write_image(path: Path, seed: int, size: tuple[int, int] = (H, W)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)


def write_mask(path: Path, arr: np.ndarray, *, palette: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.asarray(arr, dtype=np.uint8), mode="L")
    if palette:
        from seg_data.metadata import default_palette

        im = im.convert("P")
        im.putpalette([v for c in default_palette(256) for v in c])
    im.save(path)


def raw_mask(values: list[int], size: tuple[int, int] = (H, W)) -> np.ndarray:
    """A mask whose first pixels are ``values`` (one each), the rest filled with ``values[0]``."""
    flat = np.full(size[0] * size[1], values[0], dtype=np.uint8)
    flat[: len(values)] = values
    return flat.reshape(size)
