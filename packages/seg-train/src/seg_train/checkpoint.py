"""Training checkpoints: one file per checkpoint, written atomically, read with ``weights_only=True``.

A checkpoint holds everything an exact resume needs: the model, optimizer, scheduler, grad
scaler, EMA, every RNG state (as tensors), the epoch and step, the metric history, and the
best-metric and early-stopping state.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import torch

from seg_core.errors import CheckpointError
from seg_core.io import atomic_write_bytes

__all__ = ["FORMAT", "load_checkpoint", "periodic_checkpoints", "prune_periodic", "save_checkpoint"]

#: Marks a seg-train checkpoint (and its version) inside the file.
FORMAT = ("seg-train-checkpoint", 1)
_PERIODIC = re.compile(r"^epoch_(\d+)\.pt$")


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (a crash leaves the old file or the new one, whole).

    Args:
        path: The file (``.pt``).
        state: Tensors, numbers, strings and containers of them.

    Returns:
        The path.
    """
    buffer = io.BytesIO()
    torch.save({"format": list(FORMAT), **state}, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`, with ``torch.load(weights_only=True)``.

    Raises:
        CheckpointError: The file is missing, corrupt, or not a seg-train checkpoint (named in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt zip, truncated file, unsafe pickle
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or tuple(state.get("format", ())) != FORMAT:
        raise CheckpointError(
            f"{str(path)!r} is not a seg-train checkpoint (for weights saved with save_pretrained, use "
            "seg_core.from_pretrained)"
        )
    return state


def periodic_checkpoints(directory: Path) -> list[Path]:
    """The periodic checkpoints (``epoch_NNNN.pt``) in ``directory``, oldest first."""
    found = [(int(m.group(1)), p) for p in directory.glob("epoch_*.pt") if (m := _PERIODIC.match(p.name))]
    return [p for _, p in sorted(found)]


def prune_periodic(directory: Path, keep_last: int | None) -> list[Path]:
    """Delete all but the last ``keep_last`` periodic checkpoints; return what was deleted."""
    if keep_last is None:
        return []
    old = periodic_checkpoints(directory)[:-keep_last]
    for path in old:
        path.unlink(missing_ok=True)
    return old
