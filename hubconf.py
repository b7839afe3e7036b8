"""torch.hub entry points: one per registered seg architecture.

    >>> import torch
    >>> torch.hub.list("<owner>/<repo>")                     # doctest: +SKIP
    >>> model = torch.hub.load("<owner>/<repo>", "unet", encoder_name="resnet34", classes=3)  # doctest: +SKIP

The entry points are generated from seg-core's architecture registry when torch.hub imports
this file, so every installed architecture (seg-decoders' and any plugin's) is listed, with
its registry description as help (``torch.hub.help``). Keyword arguments go to
``seg_core.create_model``; ``pretrained="hf-hub:org/name"`` (or a local folder) loads a model
saved with ``save_pretrained``/``push_to_hub`` instead, applying the keyword arguments as overrides.

seg's packages are found through their entry points, so they must be installed (from a
checkout: ``pip install ./packages/seg-core ./packages/seg-decoders``); torch.hub reports
the missing ones from ``dependencies``.
"""

from __future__ import annotations

import re as _re
from typing import Any as _Any

#: Checked by torch.hub before an entry point is called (import names).
dependencies = ["torch", "seg_core", "seg_decoders"]


def _entry_name(name: str) -> str:
    """A Python identifier for a registry name (``"unet++"`` -> ``"unet__"``)."""
    ident = _re.sub(r"\W", "_", name)
    return ident if ident.isidentifier() and not ident.startswith("_") else f"arch_{ident.lstrip('_')}"


def _make_entry(name: str, description: str) -> _Any:
    def entry(pretrained: str | None = None, **kwargs: _Any) -> _Any:
        import seg_core

        if pretrained is not None:
            model = seg_core.from_pretrained(pretrained, **kwargs)
            if model.architecture_name != name:
                raise seg_core.ConfigError(
                    f"pretrained={pretrained!r} holds a {model.architecture_name!r} model, not {name!r}; "
                    f"load it with torch.hub.load(..., {model.architecture_name!r}, pretrained=...)"
                )
            return model
        return seg_core.create_model(name, **kwargs)

    entry.__name__ = entry.__qualname__ = _entry_name(name)
    entry.__doc__ = (
        f"{description or name}\n\n"
        f"Builds ``seg_core.create_model({name!r}, **kwargs)`` (``encoder_name``, ``classes``, ...; see\n"
        f'``seg describe {name}``), or with ``pretrained="hf-hub:org/name"`` (or a save_pretrained folder)\n'
        "loads that model, the keyword arguments overriding the saved ones."
    )
    return entry


def _register_entries() -> list[str]:
    try:
        import seg_core
    except ImportError:  # torch.hub then reports the missing packages from `dependencies`
        return []
    registry = seg_core.get_registry("architectures")
    names = []
    for name in registry.names():
        ident = _entry_name(name)
        if ident in globals():
            continue
        globals()[ident] = _make_entry(name, str(registry.info(name).get("description") or ""))
        names.append(ident)
    return names


_ENTRY_POINTS = _register_entries()
