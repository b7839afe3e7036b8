"""Fixtures for seg-core tests: strict plugins, and real dist-info plugins on sys.path."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seg_core.testing import write_distribution

os.environ.setdefault("SEG_STRICT_PLUGINS", "1")


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget discovered plugins before and after the test."""
    from seg_core.plugins import reset_plugin_manager

    reset_plugin_manager()
    yield
    reset_plugin_manager()


MakeDist = Callable[..., Path]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None) -> MakeDist:
    """Write a real installed distribution (modules + .dist-info) into a folder on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    created: list[str] = []

    def make(name: str, version: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
        created.extend(module.split(".")[0] for module in modules)
        return write_distribution(site, name, version, entry_points, modules)

    yield make
    for top in set(created):
        for mod in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[mod]
