"""The real-time model tests build at encoder depth 5 by default (the papers' output stride 32)."""

from __future__ import annotations

from typing import Any

from ._common import REALTIME, n_params
from ._common import build as _build

__all__ = ["REALTIME", "build", "n_params"]


def build(arch: str, depth: int = 5, **kwargs: Any) -> Any:
    """A tiny real-time ``arch`` (see ``_common.build``) at ``depth``."""
    return _build(arch, depth, kwargs.pop("encoder_params", None), **kwargs)
