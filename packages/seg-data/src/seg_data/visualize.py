"""Mask overlays with the metadata colors and image / ground truth / prediction grids saved as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from seg_data.labels import palette_encode
from seg_data.metadata import DatasetMetadata

__all__ = ["colorize", "make_grid", "overlay", "save_grid"]

#: Default color of ignored pixels: magenta, distinct from every class color of the built-in palettes' use.
IGNORE_COLOR = (255, 0, 255)


def _image_uint8(image: torch.Tensor) -> np.ndarray:
    img = torch.as_tensor(image).detach().cpu()
    if img.ndim != 3:
        raise ValueError(f"image must be (C, H, W), got shape {tuple(img.shape)}")
    if img.is_floating_point():
        lo, hi = float(img.min()), float(img.max())
        if lo < 0 or hi > 1:  # normalized input: rescale for display
            img = (img - lo) / max(hi - lo, 1e-8)
        img = (img * 255).round().clamp(0, 255)
    arr = img.to(torch.uint8).numpy()
    if arr.shape[0] == 1:
        arr = np.repeat(arr, 3, axis=0)
    return np.ascontiguousarray(arr[:3].transpose(1, 2, 0))


def colorize(mask: torch.Tensor, metadata: DatasetMetadata, *, ignore_color: Sequence[int] = IGNORE_COLOR
             ) -> np.ndarray:  # fmt: skip
    """Return the RGB (H, W, 3) uint8 rendering of ``mask``; ignored/out-of-range pixels get ``ignore_color``."""
    arr = torch.as_tensor(mask).detach().cpu().numpy()
    return palette_encode(arr, metadata.colors, ignore_index=metadata.ignore_index, ignore_color=ignore_color)


def overlay(image: torch.Tensor, mask: torch.Tensor, metadata: DatasetMetadata, *, alpha: float = 0.5,
            ignore_color: Sequence[int] = IGNORE_COLOR) -> np.ndarray:  # fmt: skip
    """Blend the colored mask over the image.

    Args:
        image: (C, H, W) uint8 or float image (normalized images are rescaled for display).
        mask: (H, W) class indices.
        metadata: Colors and ignore index.
        alpha: Opacity of the mask.
        ignore_color: Color of ignored pixels (drawn fully opaque so they stand out).

    Returns:
        (H, W, 3) uint8 array.

    Example:
        >>> import torch
        >>> from seg_data.metadata import resolve_metadata
        >>> overlay(torch.zeros(3, 4, 4), torch.zeros(4, 4, dtype=torch.long), resolve_metadata("voc")).shape
        (4, 4, 3)
    """
    img = _image_uint8(image).astype(np.float32)
    col = colorize(mask, metadata, ignore_color=ignore_color).astype(np.float32)
    if img.shape[:2] != col.shape[:2]:
        raise ValueError(f"image is {img.shape[:2]} but mask is {col.shape[:2]}")
    out = img * (1 - alpha) + col * alpha
    ignored = np.asarray(torch.as_tensor(mask).cpu().numpy() == metadata.ignore_index)
    out[ignored] = col[ignored]
    return out.round().clip(0, 255).astype(np.uint8)


def make_grid(images: Sequence[torch.Tensor], targets: Sequence[torch.Tensor], metadata: DatasetMetadata,
              predictions: Sequence[torch.Tensor] | None = None, *, alpha: float = 0.5, pad: int = 2
              ) -> np.ndarray:  # fmt: skip
    """Rows of ``image | ground truth overlay | prediction overlay`` as one (H, W, 3) uint8 array.

    Raises:
        ValueError: Lists of different lengths or empty.
    """
    if not images or len(images) != len(targets) or (predictions is not None and len(predictions) != len(images)):
        raise ValueError("make_grid needs equally long, non-empty lists of images, targets (and predictions)")
    rows = []
    for i, (img, tgt) in enumerate(zip(images, targets, strict=True)):
        cells = [_image_uint8(img), overlay(img, tgt, metadata, alpha=alpha)]
        if predictions is not None:
            cells.append(overlay(img, predictions[i], metadata, alpha=alpha))
        rows.append(cells)
    ch = max(c.shape[0] for r in rows for c in r)
    cw = max(c.shape[1] for r in rows for c in r)
    ncol = len(rows[0])
    grid = np.full((len(rows) * (ch + pad) + pad, ncol * (cw + pad) + pad, 3), 255, dtype=np.uint8)
    for r, cells in enumerate(rows):
        for c, cell in enumerate(cells):
            y, x = pad + r * (ch + pad), pad + c * (cw + pad)
            grid[y : y + cell.shape[0], x : x + cell.shape[1]] = cell
    return grid


def save_grid(path: str | Path, images: Sequence[torch.Tensor], targets: Sequence[torch.Tensor],
              metadata: DatasetMetadata, predictions: Sequence[torch.Tensor] | None = None, *, alpha: float = 0.5
              ) -> Path:  # fmt: skip
    """Save :func:`make_grid` as a PNG and return its path.

    Example:
        >>> from seg_data import create_dataset
        >>> ds = create_dataset("synthetic", num_samples=2, size=32)
        >>> x, y = ds[0]
        >>> save_grid("/tmp/grid.png", [x], [y], ds.metadata, [y]).suffix
        '.png'
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(make_grid(images, targets, metadata, predictions, alpha=alpha)).save(out, format="PNG")
    return out
