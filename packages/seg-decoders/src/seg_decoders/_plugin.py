"""seg-decoders's plugin hook module (light: imports neither torch nor heavy dependencies).

The registrations come from the architectures' own declarations (``@architecture(ArchitectureSpec(...))``
next to each class), through the generated table ``_catalog.json``
(``python -m seg_core.spec seg_decoders`` rewrites it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.hookspecs import hookimpl
from seg_core.spec import load_catalog, register_catalog

if TYPE_CHECKING:
    from seg_core.registry import Registrar


@hookimpl
def seg_register_architectures(registry: Registrar) -> None:
    """Register the architectures declared in this package (2D and 3D)."""
    register_catalog(registry, load_catalog("seg_decoders"), family="seg_decoders")
