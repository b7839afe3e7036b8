"""On-disk support cache, keyed by the installed timm version and the probe format. Imports neither torch nor timm.

The cache is a small JSON file ``$SEG_CACHE_DIR/timm-encoders-<timm version>.json``
(default folder ``~/.cache/seg``) holding the timm model names and the result
of every probe run so far, so listing names never has to import timm again.

A file written by another timm version or with another probe layout
(:data:`~seg_encoders_timm._probe.PROBE_FORMAT`) is ignored as a whole, and a probe
entry that does not read as a :class:`~seg_encoders_timm._probe.Probe` is dropped, so
stale probes are probed again instead of being used.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from seg_encoders_timm._probe import PROBE_FORMAT, Probe

__all__ = ["SupportCache", "cache_dir", "timm_version"]


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


def _read_probes(raw: Any) -> dict[str, Probe]:
    """The entries of ``raw`` that read as probes of this format (the others are dropped)."""
    probes: dict[str, Probe] = {}
    for name, entry in raw.items() if isinstance(raw, Mapping) else ():
        try:
            probes[str(name)] = Probe.from_dict(entry)
        except (TypeError, ValueError):
            continue
    return probes


class SupportCache:
    """Model names and probe results of one timm version, persisted as JSON.

    Args:
        path: The JSON file (default: from :func:`cache_dir` and :func:`timm_version`).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.version = timm_version()
        self.path = path or cache_dir() / f"timm-encoders-{self.version}.json"
        self._lock = threading.Lock()
        self._loaded = False
        self._models: list[str] | None = None
        self._probes: dict[str, Probe] = {}

    def _load(self) -> None:
        if self._loaded:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict) or data.get("format") != PROBE_FORMAT or data.get("timm_version") != self.version:
            data = {}
        models = data.get("models")
        self._models = [str(m) for m in models] if isinstance(models, list) else None
        self._probes = _read_probes(data.get("probes"))
        self._loaded = True

    def _save(self) -> None:
        from seg_core.io import atomic_write_bytes

        data = {
            "format": PROBE_FORMAT,
            "timm_version": self.version,
            "models": self._models,
            "probes": {name: probe.to_dict() for name, probe in self._probes.items()},
        }
        try:
            atomic_write_bytes(self.path, json.dumps(data, sort_keys=True).encode("utf-8"))
        except OSError:  # a read-only home must not break listing
            pass

    def models(self) -> list[str] | None:
        """The cached timm model names, or None when not cached yet."""
        self._load()
        return list(self._models) if self._models is not None else None

    def set_models(self, models: list[str]) -> None:
        """Store the timm model names."""
        with self._lock:
            self._load()
            self._models = sorted(models)
            self._save()

    def probe(self, name: str) -> Probe | None:
        """The cached probe result of ``name`` (a timm architecture), or None."""
        self._load()
        return self._probes.get(name)

    def probes(self) -> dict[str, Probe]:
        """All cached probe results."""
        self._load()
        return dict(self._probes)

    def set_probes(self, results: Mapping[str, Probe]) -> None:
        """Store probe results (re-reading the file first, so concurrent writers merge)."""
        with self._lock:
            self._loaded = False
            self._load()
            self._probes.update(results)
            self._save()
