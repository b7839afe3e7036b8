"""What the loggers share: optional imports, flattened configs, run ids kept in the run folder,
guarded calls to tracking services and snapshot grids."""

from __future__ import annotations

import importlib
import io
import math
import numbers
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seg_core.io import atomic_write_bytes

__all__ = [
    "SECRET_KEY",
    "display_metadata",
    "final_metrics",
    "flatten_config",
    "guarded",
    "import_extra",
    "is_number",
    "png_bytes",
    "png_to_array",
    "run_id",
    "scalar_config",
    "snapshot_grid",
]

#: Config keys whose values are never sent to a tracking service (API keys belong in the environment).
SECRET_KEY = re.compile(r"api[_-]?key|token|secret|passw(or)?d|credential", re.IGNORECASE)
#: Snapshot grids are scaled down to at most this many pixels on their longer side.
MAX_GRID_SIDE = 2048


def import_extra(module: str, extra: str, logger: str) -> ModuleType:
    """Import an optional dependency, or say which extra installs it.

    Raises:
        ImportError: The module is missing (or broken); the message names the extra.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the {logger} logger needs the {extra!r} extra: "
            f'pip install "./packages/seg-train[{extra}]" (from a seg checkout) ({exc})'
        ) from exc


def flatten_config(config: Mapping[str, Any], *, sep: str = ".") -> dict[str, Any]:
    """Flatten nested tables into ``{"model.architecture": "unet", ...}``, leaving out secrets.

    Keys that look like credentials (`SECRET_KEY`: ``api_key``, ``token``, ``password``...) are
    dropped at any depth, whatever the config validator let through.
    """
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if SECRET_KEY.search(str(key)):
                    continue
                walk(f"{prefix}{sep}{key}" if prefix else str(key), item)
        else:
            flat[prefix] = value

    walk("", config)
    return flat


def scalar_config(config: Mapping[str, Any]) -> dict[str, bool | int | float | str]:
    """The flattened config's scalar values (bool, int, float, str): lists and None are left out."""
    return {
        key: value
        for key, value in flatten_config(config).items()
        if isinstance(value, (bool, int, float, str)) and not isinstance(value, bytes)
    }


def is_number(value: Any) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def final_metrics(history: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each metric's last finite value over the history (``epoch``, ``step`` and ``time`` included)."""
    final: dict[str, float] = {}
    for record in history:
        for key, value in record.items():
            if is_number(value):
                final[key] = float(value)
    return final


def run_id(path: Path, make: Callable[[], str]) -> str:
    """The id stored in ``path``, or a new one from ``make`` written there (atomically) for a resume."""
    if path.is_file():
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            return stored
    new = make()
    atomic_write_bytes(path, (new + "\n").encode("utf-8"))
    return new


@contextmanager
def guarded(logger: str, action: str) -> Iterator[None]:
    """Turn an error of a tracking service into a warning: a failing logger must not stop training."""
    try:
        yield
    except Exception as exc:  # the hook contract: warn, never raise
        warnings.warn(f"{logger} logger: {action} failed: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=3)


def display_metadata(metadata: Any, *label_maps: Any) -> Any:
    """The metadata to color label maps with: ``metadata`` itself, or one with enough colors.

    A binary model predicts 0/1 for one-class metadata, and a trainer may have no metadata at
    all; then the colors come from the default palette.
    """
    from seg_data import DatasetMetadata

    ignore = int(getattr(metadata, "ignore_index", 255))
    highest = -1
    for labels in label_maps:
        arr = np.asarray(labels)
        valid = arr[(arr >= 0) & (arr != ignore)]
        if valid.size:
            highest = max(highest, int(valid.max()))
    if metadata is not None and highest < metadata.num_classes:
        return metadata
    count = max(highest + 1, 1 if metadata is None else metadata.num_classes)
    if 0 <= ignore < count:
        ignore = 255 if count <= 255 else -100
    name = "run" if metadata is None else metadata.name
    return DatasetMetadata(name, count, ignore_index=ignore)


def snapshot_grid(samples: Any, metadata: Any, count: int) -> NDArray[np.uint8] | None:
    """Rows of image / ground truth / prediction (metadata colors) from an evaluation's ``samples``.

    Args:
        samples: ``(images, targets, predictions)``: (K, 3, H, W) images, (K, H, W) label maps; or None.
        metadata: The dataset's `seg_data.DatasetMetadata` (or None).
        count: At most this many rows.

    Returns:
        An (H, W, 3) uint8 array (longer side at most `MAX_GRID_SIDE`), or None when there is
        nothing to draw.
    """
    if samples is None or count < 1:
        return None
    from seg_data.visualize import make_grid

    images, targets, predictions = samples
    rows = min(count, len(images))
    if rows == 0:
        return None
    images, targets, predictions = list(images[:rows]), list(targets[:rows]), list(predictions[:rows])
    grid = make_grid(images, targets, display_metadata(metadata, *targets, *predictions), predictions)
    longest = max(grid.shape[:2])
    if longest > MAX_GRID_SIDE:
        from PIL import Image

        scale = MAX_GRID_SIDE / longest
        size = (max(1, round(grid.shape[1] * scale)), max(1, round(grid.shape[0] * scale)))
        grid = np.asarray(Image.fromarray(grid).resize(size, Image.Resampling.BILINEAR))
    return grid


def png_bytes(array: NDArray[np.uint8]) -> bytes:
    """Encode an (H, W, 3) uint8 array as PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_to_array(data: bytes) -> NDArray[np.uint8]:
    """Decode PNG bytes into an (H, W, 3) uint8 array."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
