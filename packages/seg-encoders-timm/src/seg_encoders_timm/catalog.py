"""The catalogue of timm encoders: which timm models exist, how each one is used, what its weights expect.

Names and probes (meta-device builds, see :func:`~seg_encoders_timm._probe.probe_model`)
come from the on-disk cache of the installed timm version; the first listing reads the names
from timm's sources. Listing imports neither torch nor timm, cold or warm. :func:`list_encoders`, :func:`encoder_metadata`
and :func:`get_preprocessing_params` are the public queries (exported by
``seg_encoders_timm``); the other functions serve the provider and the factory.
"""

from __future__ import annotations

import fnmatch
import sys
import threading
from collections.abc import Iterable
from typing import Any

from seg_encoders_timm._cache import SupportCache
from seg_encoders_timm._names import PREFIX, parse_name
from seg_encoders_timm._probe import KIND_UNSUPPORTED, Probe

__all__ = ["encoder_metadata", "get_preprocessing_params", "list_encoders"]

_shared: SupportCache | None = None
_memo: dict[str, Probe] = {}  # probes with timm kwargs (not persisted)
_lock = threading.Lock()
_known: tuple[str, frozenset[str]] | None = None


def shared_cache() -> SupportCache:
    """The process-wide :class:`~seg_encoders_timm._cache.SupportCache` (re-created if SEG_CACHE_DIR changed)."""
    global _shared
    with _lock:
        fresh = SupportCache()
        if _shared is None or _shared.path != fresh.path:
            _shared = fresh
        return _shared


def model_names() -> list[str]:
    """All timm model names: from the cache, else from timm's sources (no torch), else from timm itself.

    The first listing on a machine reads the ``@register_model`` functions of timm's model
    modules (`seg_core.source_names.registered_names`, milliseconds, no torch; equal to
    ``timm.list_models()``, tested). Only a timm whose sources have another layout is
    imported to list its models, with a one-line notice on stderr (seconds).
    """
    cache = shared_cache()
    models = cache.models()
    if models is None:
        from seg_core.source_names import registered_names

        models = registered_names("timm")
        if models is None:
            print(
                "seg-encoders-timm: indexing timm's models (imports timm once per timm install; a few seconds)...",
                file=sys.stderr,
                flush=True,
            )
            import timm

            models = list(timm.list_models())
        cache.set_models(models)
    return models


def known_names() -> frozenset[str]:
    """The timm model names as a set (memoised per cache file)."""
    global _known
    key = str(shared_cache().path)
    if _known is None or _known[0] != key:
        _known = (key, frozenset(model_names()))
    return _known[1]


def _usable(probes: dict[str, Probe], name: str) -> bool:
    """False only for a name whose probe (if any) says unsupported."""
    probe = probes.get(parse_name(name).base)
    return probe is None or probe.kind != KIND_UNSUPPORTED


def match(pattern: str | None, *, include_unsupported: bool = False) -> list[str]:
    """Timm names matching ``pattern`` (fnmatch, case-insensitive; a ``tu-`` prefix is kept in the results)."""
    probes = shared_cache().probes()
    names = [n for n in model_names() if include_unsupported or _usable(probes, n)]
    if pattern is None:
        return names
    low = pattern.lower()
    if low.startswith(PREFIX):
        base = low[len(PREFIX) :]
        return [PREFIX + n for n in names if fnmatch.fnmatchcase(n.lower(), base)]
    return [n for n in names if fnmatch.fnmatchcase(n.lower(), low)]


def get_probe(name: str, **timm_kwargs: Any) -> Probe:
    """The probe result of a timm architecture; cached on disk when ``timm_kwargs`` is empty.

    Args:
        name: Encoder name (``tu-`` prefix and tag are ignored).
        **timm_kwargs: ``timm.create_model`` arguments that may change the model's shape.

    Returns:
        See :func:`seg_encoders_timm._probe.probe_model`.

    Raises:
        UnknownNameError: ``name`` is not a timm model.
    """
    from seg_encoders_timm._probe import probe_model

    base = parse_name(name).base
    known = model_names()
    registered_later = False
    if base not in known:
        import timm

        if not timm.is_model(base):  # not even registered at run time after the cache was written
            from seg_core.errors import UnknownNameError
            from seg_core.suggest import close_matches

            raise UnknownNameError("encoders", name, close_matches(base, known))
        registered_later = True
    if timm_kwargs or registered_later:
        key = f"{base}|{sorted(timm_kwargs.items())!r}"
        if key not in _memo:
            _memo[key] = probe_model(base, **timm_kwargs)
        return _memo[key]
    cache = shared_cache()
    found = cache.probe(base)
    if found is None:
        found = probe_model(base)
        cache.set_probes({base: found})
    return found


def list_encoders(pattern: str | None = None, *, verify: bool = False) -> list[str]:
    """List timm models usable as encoders.

    Args:
        pattern: fnmatch pattern (``"convnext*"``, ``"tu-resnet*"``), case-insensitive.
        verify: Probe every matching model that has not been probed yet (meta device,
            no weights; results are cached per timm version) and drop unsupported ones.
            Without it, models not probed yet are listed optimistically.

    Returns:
        Sorted names (imports neither torch nor timm when the cache is warm and ``verify`` is False).

    Example:
        >>> import seg_encoders_timm
        >>> seg_encoders_timm.list_encoders("convnext_at*")  # doctest: +SKIP
        ['convnext_atto', 'convnext_atto_ols', 'convnext_atto_rms']
    """
    names = match(pattern)
    if not verify:
        return names
    cache = shared_cache()
    done = cache.probes()
    todo = sorted({parse_name(n).base for n in names} - set(done))
    if todo:
        from seg_encoders_timm._probe import probe_model

        results = {}
        for base in _progress(todo, "probing timm encoders (meta device, cached per timm install)"):
            results[base] = probe_model(base)
        cache.set_probes(results)
    probes = cache.probes()
    return [n for n in names if _usable(probes, n)]


def _progress(items: list[str], what: str) -> Iterable[str]:
    """``items`` with a tqdm progress bar on stderr when there are many (tqdm comes with timm's hub client)."""
    if len(items) < 20:
        return items
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - timm depends on huggingface_hub, which depends on tqdm
        print(f"seg-encoders-timm: {what}: {len(items)} models...", file=sys.stderr, flush=True)
        return items
    return tqdm(items, desc=f"seg-encoders-timm: {what}", unit="model", file=sys.stderr, leave=False)


def encoder_metadata(name: str) -> dict[str, Any]:
    """Describe a timm encoder without building its weights (a meta-device probe, cached).

    Args:
        name: Encoder name (``tu-`` prefix and tag allowed).

    Returns:
        ``kind`` (``"features"``, ``"vit"`` or ``"unsupported"``) and, for feature models,
        ``channels``, ``reductions``, ``modules`` (timm module names), ``feature_indices``,
        ``feature_format`` and ``dilation`` (output stride 8/16 supported); for ViTs
        ``blocks``, ``patch_size``, ``width``, ``num_prefix_tokens``; else ``reason``.

    Raises:
        UnknownNameError: ``name`` is not a timm model.

    Example:
        >>> from seg_encoders_timm import encoder_metadata
        >>> encoder_metadata("resnet18")["reductions"]  # doctest: +SKIP
        [2, 4, 8, 16, 32]
    """
    meta = get_probe(name).to_dict()
    if "out_indices" in meta:
        meta["feature_indices"] = meta.pop("out_indices")
    meta["name"] = parse_name(name).base
    return meta


def get_preprocessing_params(name: str, weights: Any = True) -> dict[str, Any]:
    """Input normalisation the pretrained weights expect (from timm's ``pretrained_cfg``; nothing is downloaded).

    Args:
        name: Encoder name, optionally with a pretrained tag (``"convnext_tiny.fb_in22k"``).
        weights: A timm tag to look up instead of the name's tag (True/"imagenet": the default tag).

    Returns:
        ``mean``, ``std``, ``input_range`` ((0, 1)), ``input_space`` ("RGB"),
        ``interpolation``, ``input_size`` and ``crop_pct``.

    Raises:
        UnknownNameError: Unknown model.
        ConfigError: Unknown tag.

    Example:
        >>> from seg_encoders_timm import get_preprocessing_params
        >>> get_preprocessing_params("resnet18")["mean"]  # doctest: +SKIP
        (0.485, 0.456, 0.406)
    """
    from timm.models import get_pretrained_cfg, is_model

    from seg_core.errors import ConfigError, UnknownNameError

    parsed = parse_name(name)
    if not is_model(parsed.base):
        raise UnknownNameError("encoders", name)
    tag = parsed.tag
    if isinstance(weights, str) and weights.lower() != "imagenet":
        tag = weights
    full = f"{parsed.base}.{tag}" if tag else parsed.base
    cfg = get_pretrained_cfg(full, allow_unregistered=False) if tag else get_pretrained_cfg(parsed.base)
    if cfg is None:
        raise ConfigError(f"timm has no pretrained configuration {full!r}")
    return {
        "input_space": "RGB",
        "input_range": (0, 1),
        "mean": tuple(cfg.mean),
        "std": tuple(cfg.std),
        "interpolation": cfg.interpolation,
        "input_size": tuple(cfg.input_size),
        "crop_pct": cfg.crop_pct,
    }
