"""Which timm models work as encoders: probes (meta device) remembered in the on-disk cache."""

from __future__ import annotations

import fnmatch
import threading
from typing import Any

from seg_encoders_timm._cache import SupportCache
from seg_encoders_timm._names import PREFIX, parse_name

__all__ = ["get_probe", "model_names", "shared_cache"]

_shared: SupportCache | None = None
_memo: dict[str, dict[str, Any]] = {}  # probes with timm kwargs (not persisted)
_lock = threading.Lock()


def shared_cache() -> SupportCache:
    """The process-wide :class:`~seg_encoders_timm._cache.SupportCache` (re-created if SEG_CACHE_DIR changed)."""
    global _shared
    with _lock:
        fresh = SupportCache()
        if _shared is None or _shared.path != fresh.path:
            _shared = fresh
        return _shared


def model_names() -> list[str]:
    """All timm model names (from the cache; timm is imported only to fill it)."""
    cache = shared_cache()
    models = cache.models()
    if models is None:
        import timm

        models = list(timm.list_models())
        cache.set_models(models)
    return models


def match(pattern: str | None, *, include_unsupported: bool = False) -> list[str]:
    """Timm names matching ``pattern`` (fnmatch, case-insensitive; a ``tu-`` prefix is kept in the results)."""
    cache = shared_cache()
    probes = cache.probes()
    names = [n for n in model_names() if include_unsupported or probes.get(n, {}).get("kind") != "unsupported"]
    if pattern is None:
        return names
    low = pattern.lower()
    if low.startswith(PREFIX):
        base = low[len(PREFIX) :]
        return [PREFIX + n for n in names if fnmatch.fnmatchcase(n.lower(), base)]
    return [n for n in names if fnmatch.fnmatchcase(n.lower(), low)]


def get_probe(name: str, **timm_kwargs: Any) -> dict[str, Any]:
    """The probe result of a timm architecture; cached on disk when ``timm_kwargs`` is empty.

    Args:
        name: Encoder name (``tu-`` prefix and tag are ignored).
        **timm_kwargs: ``timm.create_model`` arguments that may change the model's shape.

    Returns:
        See :func:`seg_encoders_timm._probe.probe_model`.
    """
    from seg_encoders_timm._probe import probe_model

    base = parse_name(name).base
    known = model_names()
    registered_later = False
    if base not in known:
        import timm

        if not timm.is_model(base):  # not even registered at run time after the cache was written
            from seg_core.suggest import close_matches
            from seg_core.errors import UnknownNameError

            raise UnknownNameError("encoders", name, close_matches(base, known))
        registered_later = True
    if timm_kwargs or registered_later:
        key = f"{base}|{sorted(timm_kwargs.items())!r}"
        if key not in _memo:
            _memo[key] = probe_model(base, **timm_kwargs)
        return dict(_memo[key])
    cache = shared_cache()
    found = cache.probe(base)
    if found is None:
        found = probe_model(base)
        cache.set_probes({base: found})
    return found


_known: tuple[str, frozenset[str]] | None = None


def known_names() -> frozenset[str]:
    """The timm model names as a set (memoised per cache file)."""
    global _known
    cache = shared_cache()
    key = str(cache.path)
    if _known is None or _known[0] != key:
        _known = (key, frozenset(model_names()))
    return _known[1]
