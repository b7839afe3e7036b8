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
import secrets
import shutil
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from seg_core.errors import CheckpointError

__all__ = [
    "STAGING_PREFIX",
    "WRAPPER_PREFIXES",
    "atomic_write_bytes",
    "atomic_write_files",
    "current_file",
    "finish_interrupted_writes",
    "load_safetensors",
    "load_state_file",
    "safetensors_bytes",
    "strip_wrapper_prefixes",
    "sync_directory",
]

#: Name prefix of the staging folders `atomic_write_files` creates inside the target folder.
STAGING_PREFIX = ".seg-staging-"
_PENDING = ".pending"
_COMMITTED = ".committed"

#: Key prefixes that model wrappers put on every key: DataParallel/DistributedDataParallel and torch.compile.
WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def sync_directory(path: str | Path) -> None:
    """Flush a folder's entries (created, renamed, removed files) to disk, where the platform allows it.

    A rename is durable only once its folder is synced; Windows cannot open folders
    and does not need it, so there this does nothing.
    """
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _create_temporary(path: Path) -> tuple[int, Path]:
    """Create a new, empty, uniquely named file next to ``path``, with the mode a plain ``open()`` gives.

    ``tempfile.mkstemp`` would create it with mode 0600 whatever the umask; opening with
    0o666 lets the kernel apply the user's umask exactly as for any new file.
    """
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, rename, folder sync).

    A crash never leaves a half-written file under the final name. The file gets the
    permissions a plain ``open(path, "wb")`` would give a new file (``0o666`` minus the umask).

    Args:
        path: The file to write (its folder is created if needed).
        data: The complete content.

    Example:
        >>> atomic_write_bytes("/tmp/seg-io-example.txt", b"ok")  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temporary(path)
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
    sync_directory(path.parent)


def atomic_write_files(directory: str | Path, files: Mapping[str, bytes]) -> None:
    """Replace several files of ``directory`` as one unit: a crash leaves all the old ones or all the new ones.

    The files are written and fsynced into a fresh staging folder inside ``directory``;
    renaming that folder to ``*.committed`` is the commit point; then each file is moved
    into place and the staging folder removed. Readers that open the files through
    `current_file` see the complete old set before the commit point and the complete
    new set after it, whenever a crash happens. The next call finishes a committed
    write a crash interrupted and discards an uncommitted one (`finish_interrupted_writes`).
    Other files in ``directory`` are left alone. One writer at a time per folder.

    Args:
        directory: The target folder (created if needed).
        files: File name (no folder part) -> complete content.

    Raises:
        ValueError: A name is not a plain file name.

    Example:
        >>> atomic_write_files("runs/unet", {"config.json": b"{}", "model.safetensors": data})  # doctest: +SKIP
    """
    for name in files:
        if not name or name.startswith(".") or Path(name).name != name:
            raise ValueError(f"atomic_write_files: {name!r} is not a plain file name")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    finish_interrupted_writes(directory, files)
    stage = directory / f"{STAGING_PREFIX}{time.time_ns():020d}-{secrets.token_hex(4)}{_PENDING}"
    os.mkdir(stage)
    try:
        for name, data in files.items():
            atomic_write_bytes(stage / name, data)
        committed = stage.with_name(stage.name[: -len(_PENDING)] + _COMMITTED)
        os.replace(stage, committed)  # the commit point
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    sync_directory(directory)
    _apply(committed, directory)


def _apply(stage: Path, directory: Path) -> None:
    """Move a committed staging folder's files into ``directory``, then remove the folder."""
    for entry in sorted(stage.iterdir()):
        if not entry.name.startswith("."):  # "." names are temporary files of an interrupted write
            os.replace(entry, directory / entry.name)
    sync_directory(directory)
    shutil.rmtree(stage, ignore_errors=True)


def _latest_committed(directory: Path) -> Path | None:
    stages = [p for p in directory.glob(f"{STAGING_PREFIX}*{_COMMITTED}") if p.is_dir()]
    return max(stages, key=lambda p: p.name) if stages else None


def current_file(directory: str | Path, name: str) -> Path:
    """The path to read ``name`` from in a folder written with `atomic_write_files`.

    Normally ``directory / name``; while a committed write is not yet in place (a crash
    interrupted it), the staged copy, so that readers see one complete set of files.
    Reading never modifies the folder.

    Args:
        directory: The folder.
        name: The file name.

    Returns:
        The path (it may not exist).

    Example:
        >>> current_file("runs/unet", "config.json")  # doctest: +SKIP
        PosixPath('runs/unet/config.json')
    """
    directory = Path(directory)
    stage = _latest_committed(directory)
    if stage is not None and (stage / name).is_file():
        return stage / name
    return directory / name


def finish_interrupted_writes(directory: str | Path, names: Collection[str] = ()) -> None:
    """Complete the committed writes and discard the uncommitted ones a crash left in ``directory``.

    Also removes the temporary files `atomic_write_bytes` leaves for ``names`` when interrupted.
    `atomic_write_files` calls this first; call it yourself to tidy a folder.

    Args:
        directory: The folder.
        names: File names whose stray temporary files (``.<name>.*.tmp``) are removed.
    """
    directory = Path(directory)
    for stage in sorted(directory.glob(f"{STAGING_PREFIX}*")):
        if not stage.is_dir():
            continue
        if stage.name.endswith(_COMMITTED):
            _apply(stage, directory)
        else:
            shutil.rmtree(stage, ignore_errors=True)
    for name in names:
        for tmp in directory.glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
            except OSError:
                pass


def strip_wrapper_prefixes(state: Mapping[str, Any], expected: Collection[str] = ()) -> dict[str, Any]:
    """Remove the ``module.``/``_orig_mod.`` prefix that a wrapped model puts on every key.

    A state dict saved from ``nn.DataParallel``/``DistributedDataParallel`` or from a
    ``torch.compile`` model names ``conv.weight`` as ``module.conv.weight`` or
    ``_orig_mod.conv.weight`` (nested wrappers stack them). A prefix is removed only
    while every key carries it and none of the ``expected`` keys (the target model's) does.

    Args:
        state: The loaded state dict.
        expected: The target model's keys, if known.

    Returns:
        The state dict with the wrapper prefixes removed (a new dict).

    Example:
        >>> strip_wrapper_prefixes({"module.conv.weight": 1})
        {'conv.weight': 1}
    """
    out = dict(state)
    while out:
        prefix = next((p for p in WRAPPER_PREFIXES if all(k.startswith(p) for k in out)), None)
        if prefix is None or any(k.startswith(prefix) for k in expected):
            break
        out = {k[len(prefix) :]: v for k, v in out.items()}
    return out


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
