"""Small helpers shared by the dataset modules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from seg_core.errors import ConfigError


def resolve_split(name: str, split: str, allowed: Sequence[str], aliases: Mapping[str, str] | None = None) -> str:
    """Return the on-disk split name for ``split`` or raise a ConfigError listing the allowed ones."""
    real = (aliases or {}).get(split, split)
    if real not in allowed:
        shown = list(allowed) + [a for a in (aliases or {}) if a not in allowed]
        raise ConfigError(f"{name}: split={split!r} is unknown; use one of {shown}")
    return real
