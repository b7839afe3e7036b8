"""Names a package registers with a decorator, read from its sources without importing it (no torch).

timm and timm_3d register each model with ``@register_model`` on a function in one of the
modules that ``models/__init__.py`` star-imports. Reading those files gives the registry's
names in a few milliseconds, where ``import timm`` costs seconds (torch, torchvision and
every model module). Providers use this to list names cheaply and import the package only
to build.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

__all__ = ["registered_names"]

_STAR_IMPORT = re.compile(r"^from\s+\.(\w+)\s+import\s+\*", re.MULTILINE)


def registered_names(package: str, subpackage: str = "models", decorator: str = "register_model") -> list[str] | None:
    """The function names decorated with ``@decorator`` in the modules ``package.subpackage`` star-imports.

    Args:
        package: Top-level package (``"timm"``), located with ``importlib.util.find_spec``
            (not imported).
        subpackage: The package whose ``__init__.py`` star-imports the model modules.
        decorator: The registering decorator's name, written alone on its line.

    Returns:
        The sorted names; None when the package is not installed or its layout is not this
        one (no ``__init__.py`` with star imports, or no decorated function found), so the
        caller can fall back to importing it.

    Example:
        >>> from seg_core.source_names import registered_names
        >>> registered_names("not_a_package") is None
        True
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / subpackage
    init = folder / "__init__.py"
    try:
        modules = _STAR_IMPORT.findall(init.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    pattern = re.compile(rf"^[ \t]*@{re.escape(decorator)}\s*\n\s*def\s+(\w+)\s*\(", re.MULTILINE)
    names: set[str] = set()
    for module in modules:
        try:
            names.update(pattern.findall((folder / f"{module}.py").read_text(encoding="utf-8", errors="replace")))
        except OSError:
            continue  # a star-imported subpackage or a missing file: not a model module of this layout
    return sorted(names) if names else None
