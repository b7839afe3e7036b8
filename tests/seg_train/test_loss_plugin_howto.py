"""The how-to "Write a loss plugin" works as written: its files, installed as a real distribution."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from seg_core.plugins import reset_plugin_manager
from seg_core.testing import write_distribution
from seg_train.testing import check_loss

HOWTO = Path(__file__).parents[2] / "docs" / "howto" / "write-a-loss-plugin.md"


def _block(title: str) -> str:
    match = re.search(rf'```\w+ title="{re.escape(title)}"\n(.*?)```', HOWTO.read_text(), re.S)
    assert match, f"the how-to has no code block titled {title}"
    return match.group(1)


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    site = tmp_path / "site"
    write_distribution(
        site,
        "my-losses",
        "0.1.0",
        {"my_losses": "my_losses._plugin"},
        {
            "my_losses.__init__": "",
            "my_losses._plugin": _block("src/my_losses/_plugin.py"),
            "my_losses.boundary": _block("src/my_losses/boundary.py"),
        },
    )
    monkeypatch.syspath_prepend(str(site))
    reset_plugin_manager()
    yield site
    reset_plugin_manager()
    for name in [m for m in sys.modules if m == "my_losses" or m.startswith("my_losses.")]:
        del sys.modules[name]


def test_the_howto_plugin_registers_and_conforms(installed) -> None:
    from seg_core import get_registry

    reg = get_registry("losses")
    assert reg.source("boundary_dice").distribution == "my-losses"
    assert reg.get("BoundaryDiceLoss") is reg.get("boundary_dice")
    report = check_loss("boundary_dice", mode="multiclass")
    assert "ignore_invariance" in report.checks
    namespace: dict[str, object] = {}
    exec(_block("tests/test_boundary.py"), namespace)  # the how-to's own test
    namespace["test_boundary_dice_conforms"]()  # type: ignore[operator]
