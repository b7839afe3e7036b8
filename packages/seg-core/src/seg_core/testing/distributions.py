"""Write a real installed distribution (modules + ``.dist-info``) into a folder, for plugin tests.

A folder on ``sys.path`` holding ``<name>-<version>.dist-info/entry_points.txt`` is an installed
distribution to ``importlib.metadata``, so plugin discovery can be tested for real without pip.

Example:
    >>> import sys, tempfile
    >>> from pathlib import Path
    >>> site = Path(tempfile.mkdtemp())
    >>> info = write_distribution(site, "my-plugin", "0.1.0", {"my_plugin": "my_plugin._plugin"},
    ...                           {"my_plugin._plugin": "from seg_core import hookimpl\\n"})
    >>> info.name
    'my_plugin-0.1.0.dist-info'
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

__all__ = ["write_distribution"]


def write_distribution(
    site: Path, name: str, version: str, entry_points: Mapping[str, str], modules: Mapping[str, str]
) -> Path:
    """Write modules and a ``.dist-info`` with ``seg_core.plugins`` entry points into ``site``.

    Args:
        site: A folder that is (or will be) on ``sys.path``.
        name: The distribution's name.
        version: Its version.
        entry_points: Entry-point name -> hook module, in the ``seg_core.plugins`` group.
        modules: Dotted module name -> source (dedented); packages get their folders.

    Returns:
        The ``.dist-info`` folder.
    """
    for module, source in modules.items():
        path = site / (module.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[seg_core.plugins]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return info
