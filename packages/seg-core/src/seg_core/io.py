"""File helpers every package shares: atomic writes, safe weight loading, safetensors bytes.

This is public API: first-party and third-party packages write caches and
checkpoints with `atomic_write_bytes` and read weight files with
`load_state_file` (which never unpickles arbitrary objects).

Example:
    >>> from seg_core.io import atomic_write_bytes
    >>> atomic_write_bytes("/tmp/seg-io-example.txt", b"ok")
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from seg_core.errors import CheckpointError

__all__ = ["atomic_write_bytes", "load_safetensors", "load_state_file", "safetensors_bytes"]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, rename).

    A crash never leaves a half-written file under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def load_state_file(path: str | Path) -> dict[str, Any]:
    """Load a state dict from ``.safetensors`` or a torch pickle (``.pth``/``.pt``/``.bin``).

    Pickles are read with ``torch.load(weights_only=True)``: no arbitrary objects
    are ever unpickled. A ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper is unwrapped.

    Raises:
        CheckpointError: Missing, corrupt or non-tensor content, with the file named.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist")
    if path.suffix == ".safetensors":
        return load_safetensors(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, zip errors, unsafe globals
        raise CheckpointError(
            f"cannot load {path} with torch.load(weights_only=True): {type(exc).__name__}: {exc}. "
            "The file is corrupt, truncated, or contains objects other than tensors."
        ) from exc
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return obj


def load_safetensors(path: str | Path) -> dict[str, Any]:
    """Read a ``.safetensors`` file into a dict of CPU tensors (no dependency on ``safetensors``).

    Raises:
        CheckpointError: The file is missing, truncated or malformed (the file is named).
    """
    from seg_core._safetensors import load_file

    return dict(load_file(path))


def safetensors_bytes(tensors: Any, metadata: dict[str, str] | None = None) -> bytes:
    """Serialize a mapping of names to tensors in the safetensors format (readable by ``safetensors``).

    Args:
        tensors: Mapping of names to tensors.
        metadata: Optional string metadata stored in the header.

    Returns:
        The file's bytes, to write with `atomic_write_bytes`.
    """
    from seg_core._safetensors import save_bytes

    return save_bytes(tensors, metadata)
