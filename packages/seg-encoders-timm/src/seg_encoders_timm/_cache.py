"""On-disk support cache, keyed by the installed timm version. Imports neither torch nor timm.

The cache is a small JSON file ``$SEG_CACHE_DIR/timm-encoders-<timm version>.json``
(default folder ``~/.cache/seg``) holding the timm model names and the result
of every probe run so far, so listing names never has to import timm again.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["SupportCache", "cache_dir", "timm_version"]

_FORMAT = 1


@functools.lru_cache(maxsize=1)
def timm_version() -> str:
    """Return the installed timm version without importing timm (``"none"`` if absent)."""
    try:
        return metadata.version("timm")
    except metadata.PackageNotFoundError:
        return "none"


def cache_dir() -> Path:
    """Return the cache folder: ``$SEG_CACHE_DIR`` or ``~/.cache/seg``."""
    env = os.environ.get("SEG_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "seg"


class SupportCache:
    """Model names and probe results of one timm version, persisted as JSON.

    Args:
        path: The JSON file (default: from :func:`cache_dir` and :func:`timm_version`).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.version = timm_version()
        self.path = path or cache_dir() / f"timm-encoders-{self.version}.json"
        self._lock = threading.Lock()
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            data: dict[str, Any] = {}
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}
            if data.get("format") != _FORMAT or data.get("timm_version") != self.version:
                data = {"format": _FORMAT, "timm_version": self.version, "models": None, "probes": {}}
            self._data = data
        return self._data

    def _save(self) -> None:
        from seg_core.io import atomic_write_bytes

        try:
            atomic_write_bytes(self.path, json.dumps(self._load(), sort_keys=True).encode("utf-8"))
        except OSError:  # a read-only home must not break listing
            pass

    def models(self) -> list[str] | None:
        """The cached timm model names, or None when not cached yet."""
        models = self._load().get("models")
        return list(models) if models is not None else None

    def set_models(self, models: list[str]) -> None:
        """Store the timm model names."""
        with self._lock:
            self._load()["models"] = sorted(models)
            self._save()

    def probe(self, name: str) -> dict[str, Any] | None:
        """The cached probe result of ``name`` (a timm architecture), or None."""
        result = self._load()["probes"].get(name)
        return dict(result) if result is not None else None

    def probes(self) -> dict[str, dict[str, Any]]:
        """All cached probe results."""
        return dict(self._load()["probes"])

    def set_probes(self, results: dict[str, dict[str, Any]]) -> None:
        """Store probe results (re-reading the file first, so concurrent writers merge)."""
        with self._lock:
            self._data = None
            self._load()["probes"].update(results)
            self._save()
