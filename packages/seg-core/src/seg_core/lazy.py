"""Lazy package exports: names are imported on first attribute access (PEP 562).

Every seg package exposes its torch-based classes this way, so that importing the
package stays cheap; plugin packages can do the same.

Example:
    >>> # in my_package/__init__.py
    >>> from seg_core.lazy import lazy_exports
    >>> _LAZY = {"MyEncoder": "my_package.encoders"}  # doctest: +SKIP
    >>> __getattr__, __dir__ = lazy_exports(__name__, _LAZY)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(module_name: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build a package's ``__getattr__`` and ``__dir__`` for lazily imported names.

    Args:
        module_name: The package (``__name__``).
        exports: Exported name -> module that defines it.

    Returns:
        ``(__getattr__, __dir__)`` to assign at module level. A resolved name is cached
        in the package namespace, so later lookups cost nothing.
    """
    namespace = sys.modules[module_name].__dict__

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(target), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
