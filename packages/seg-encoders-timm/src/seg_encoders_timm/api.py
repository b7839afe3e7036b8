"""Listing and metadata helpers: which timm encoders exist and what they give."""

from __future__ import annotations

from typing import Any

from seg_encoders_timm._names import parse_name
from seg_encoders_timm.support import get_probe, match, shared_cache

__all__ = ["encoder_metadata", "get_preprocessing_params", "list_encoders"]


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
    todo = [n for n in names if parse_name(n).base not in done]
    if todo:
        from seg_encoders_timm._probe import probe_model

        cache.set_probes({parse_name(n).base: probe_model(parse_name(n).base) for n in todo})
    probes = cache.probes()
    return [n for n in names if probes.get(parse_name(n).base, {}).get("kind") != "unsupported"]


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
    probe = dict(get_probe(name))
    if "out_indices" in probe:
        probe["feature_indices"] = probe.pop("out_indices")
    probe["name"] = parse_name(name).base
    return probe


def get_preprocessing_params(name: str, weights: Any = True) -> dict[str, Any]:
    """Input normalisation the pretrained weights expect (from timm's ``pretrained_cfg``; nothing is downloaded).

    Args:
        name: Encoder name, optionally with a pretrained tag (``"convnext_tiny.fb_in22k"``).
        weights: A timm tag to look up instead of the name's tag (True/"imagenet": the default tag).

    Returns:
        ``mean``, ``std``, ``input_range`` ((0, 1)), ``input_space`` ("RGB"),
        ``interpolation``, ``input_size`` and ``crop_pct``.

    Raises:
        UnknownNameError: Unknown model. ConfigError: Unknown tag.

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
