"""On-disk support cache, keyed by the installed timm (version and files) and the probe format. Imports neither torch nor timm.

The cache is a small JSON file ``$SEG_CACHE_DIR/timm-encoders-<timm version>.json``
(default folder ``~/.cache/seg``) holding the timm model names and the result
of every probe run so far, so listing names never has to import timm again.

A file written for another timm version, another timm install of the same version
(:func:`timm_fingerprint`) or another probe layout
(:data:`~seg_encoders_timm._probe.PROBE_FORMAT`) is stale: it is ignored as a whole
and rewritten on the next update. A file that is not what this module writes (not
JSON, JSON of another shape, probe entries that do not read back as a
:class:`~seg_encoders_timm._probe.Probe`) is reported once with its path, what it
holds that is usable is kept, and it is rewritten at once; the rest is probed again.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import threading
import warnings
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from seg_encoders_timm._probe import PROBE_FORMAT, Probe

__all__ = ["SupportCache", "cache_dir", "timm_fingerprint", "timm_version"]

_warned: set[str] = set()  # cache files already reported as invalid (once per process)


@functools.lru_cache(maxsize=1)
def timm_version() -> str:
    """Return the installed timm version without importing timm (``"none"`` if absent)."""
    try:
        return metadata.version("timm")
    except metadata.PackageNotFoundError:
        return "none"


def _timm_init() -> Path | None:
    """The ``timm/__init__.py`` that ``import timm`` would run (found without importing it)."""
    try:
        spec = importlib.util.find_spec("timm")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.has_location:
        return None
    return Path(spec.origin)


def _record(init: Path) -> tuple[bytes, int] | None:
    """The RECORD of the timm distribution that installed ``init``, and its mtime (ns).

    None when timm was not installed from a wheel listing its sources (a source
    checkout on ``sys.path``, an editable install) or the files do not belong together.
    """
    try:
        dist = metadata.distribution("timm")
        files = dist.files or []
        text = dist.read_text("RECORD")
        listed = next((f for f in files if f.as_posix() == "timm/__init__.py"), None)
        record = next((f for f in files if f.name == "RECORD" and f.parent.name.endswith(".dist-info")), None)
        if text is None or listed is None or Path(str(dist.locate_file(listed))).resolve() != init.resolve():
            return None
        mtime = Path(str(dist.locate_file(record))).stat().st_mtime_ns if record is not None else 0
    except Exception:  # unreadable metadata: fall back to the files themselves
        return None
    return text.encode("utf-8"), mtime


@functools.lru_cache(maxsize=1)
def _timm_install() -> tuple[str, int]:
    """``(fingerprint, mtime in ns of the newest file looked at)`` of the installed timm."""
    init = _timm_init()
    if init is None:
        return "none", 0
    digest = hashlib.sha256()
    newest = 0
    try:
        newest = init.stat().st_mtime_ns
        found = _record(init)
        if found is not None:  # a wheel install: RECORD holds the hash of every file it installed
            digest.update(b"record\0" + found[0])
            newest = max(newest, found[1])
        else:  # a checkout or editable install: the sources themselves
            for path in sorted(init.parent.rglob("*.py")):
                stat = path.stat()
                newest = max(newest, stat.st_mtime_ns)
                digest.update(f"{path.relative_to(init.parent)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    except OSError:
        return "unknown", 0
    return digest.hexdigest()[:16], newest


def timm_fingerprint() -> str:
    """Identify the installed timm files, not just the version string, without importing timm.

    A wheel install is identified by its ``RECORD`` (the hash of every file it
    installed), so reinstalling the same wheel keeps the cache and any other build
    of the same version invalidates it. A source checkout or editable install, whose
    ``RECORD`` does not list the sources, is identified by the size and modification
    time of each of its ``.py`` files.

    Returns:
        A short hex digest; ``"none"`` without timm.
    """
    return _timm_install()[0]


def cache_dir() -> Path:
    """Return the cache folder: ``$SEG_CACHE_DIR`` or ``~/.cache/seg``."""
    env = os.environ.get("SEG_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "seg"


def _faithful(raw: Any, written: Any) -> bool:
    """True if every value of ``raw`` reads back unchanged in ``written`` (no silent coercion)."""
    if isinstance(raw, dict):
        return isinstance(written, dict) and all(
            (value is None and key not in written) or (key in written and _faithful(value, written[key]))
            for key, value in raw.items()
        )
    if isinstance(raw, list):
        return (
            isinstance(written, list)
            and len(raw) == len(written)
            and all(_faithful(a, b) for a, b in zip(raw, written))
        )
    return type(raw) is type(written) and raw == written


def _read_probe(entry: Any) -> Probe | None:
    """The :class:`Probe` a cache entry holds, or None if it is not one written by this format."""
    try:
        probe = Probe.from_dict(entry)
        return probe if _faithful(entry, probe.to_dict()) else None
    except Exception:  # wrong types, unknown fields, absurd nesting: not a probe of ours
        return None


def _read_probes(raw: Any) -> dict[str, Probe]:
    """The entries of ``raw`` that read as probes of this format (the others are dropped)."""
    probes: dict[str, Probe] = {}
    for name, entry in raw.items() if isinstance(raw, Mapping) else ():
        probe = _read_probe(entry)
        if probe is not None:
            probes[str(name)] = probe
    return probes


class SupportCache:
    """Model names and probe results of one timm install, persisted as JSON.

    Args:
        path: The JSON file (default: from :func:`cache_dir` and :func:`timm_version`).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.version = timm_version()
        self.fingerprint = timm_fingerprint()
        self.path = path or cache_dir() / f"timm-encoders-{self.version}.json"
        self._lock = threading.Lock()
        self._loaded = False
        self._models: list[str] | None = None
        self._probes: dict[str, Probe] = {}

    def _invalid(self, reason: str) -> None:
        """Report (once per file and process) a file this module did not write, and rewrite it."""
        key = str(self.path)
        if key not in _warned:
            _warned.add(key)
            warnings.warn(
                f"seg-encoders-timm: the support cache {self.path} {reason}; the invalid part is "
                "ignored and the file is rebuilt (delete it if this keeps happening)",
                UserWarning,
                stacklevel=5,
            )
        self._save()

    def _read(self) -> dict[str, Any] | None:
        """The file's content if it is current (this timm install, this probe format), else None."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._invalid(f"cannot be read ({type(exc).__name__}: {exc})")
            return None
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            self._invalid("is not valid JSON")
            return None
        if not isinstance(data, dict):
            self._invalid(f"holds a JSON {type(data).__name__} instead of an object")
            return None
        if data.get("format") != PROBE_FORMAT or data.get("timm_version") != self.version:
            return None  # another probe layout or timm version: stale, rewritten on the next update
        if "timm_fingerprint" in data:
            return data if data["timm_fingerprint"] == self.fingerprint else None  # another timm install
        # Written without a fingerprint (by an older seg, or by hand): trust it only if it is
        # newer than the timm install, i.e. it cannot describe an earlier install.
        try:
            newer = self.path.stat().st_mtime_ns >= _timm_install()[1]
        except OSError:
            newer = False
        return data if newer else None

    def _load(self) -> None:
        if self._loaded:
            return
        self._models, self._probes = None, {}
        self._loaded = True
        data = self._read()
        if data is None:
            return
        problems: list[str] = []
        models = data.get("models")
        if isinstance(models, list) and all(isinstance(m, str) for m in models):
            self._models = list(models)
        elif models is not None:
            problems.append("'models' is not a list of names")
        raw = data.get("probes")
        if raw is not None and not isinstance(raw, dict):
            problems.append("'probes' is not an object")
        elif raw:
            self._probes = _read_probes(raw)
            bad = sorted(str(name) for name in raw if name not in self._probes)
            if bad:
                shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
                problems.append(f"probe entries of another shape ({shown})")
        if problems:
            self._invalid("holds " + "; ".join(problems))

    def _save(self) -> None:
        from seg_core.io import atomic_write_bytes

        data = {
            "format": PROBE_FORMAT,
            "timm_version": self.version,
            "timm_fingerprint": self.fingerprint,
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
