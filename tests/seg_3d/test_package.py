"""seg-3d is installed as a real distribution and plugs into seg-core."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import seg_3d


def test_version_matches_distribution_metadata() -> None:
    assert seg_3d.__version__ == metadata.version("seg-3d")


def test_plugin_entry_point_is_discovered() -> None:
    from seg_core.plugins import PluginManager

    plugins = {p.name: p for p in PluginManager(strict=True).plugins()}
    assert plugins["seg_3d"].distribution == "seg-3d"
    assert plugins["seg_3d"].status == "loaded"
    assert plugins["seg_3d"].builtin


def test_hook_module_is_light() -> None:
    code = "import seg_3d._plugin, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_typed_marker_is_shipped() -> None:
    from importlib import resources

    assert resources.files("seg_3d").joinpath("py.typed").is_file()
