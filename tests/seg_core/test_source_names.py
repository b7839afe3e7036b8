"""registered_names: decorated names from a package's sources, without importing it."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from seg_core.source_names import registered_names


def _package(root: Path, name: str, init: str, modules: dict[str, str]) -> None:
    models = root / name / "models"
    models.mkdir(parents=True)
    (root / name / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (models / "__init__.py").write_text(textwrap.dedent(init))
    for module, text in modules.items():
        (models / f"{module}.py").write_text(textwrap.dedent(text))


def test_reads_star_imported_modules_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _package(
        tmp_path,
        "fakezoo",
        """
        from .nets import *
        from .more import *
        from ._helpers import build  # not a star import: not a model module
        """,
        {
            "nets": """
            @register_model
            def alpha_net(pretrained=False, **kwargs):
                pass

            def not_registered():
                pass

            @register_model
            def beta_net(
                pretrained=False,
            ):
                pass
            """,
            "more": """
            class Holder:
                @register_model
                def gamma_net(self):
                    pass
            """,
            "_helpers": """
            @register_model
            def hidden_net():
                pass
            """,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registered_names("fakezoo") == ["alpha_net", "beta_net", "gamma_net"]
    assert "fakezoo" not in sys.modules


def test_unknown_layouts_return_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _package(tmp_path, "emptyzoo", "from .nets import *\n", {"nets": "def plain():\n    pass\n"})
    (tmp_path / "flatzoo").mkdir()
    (tmp_path / "flatzoo" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registered_names("emptyzoo") is None  # nothing registered: let the caller import it
    assert registered_names("flatzoo") is None  # no models/ subpackage
    assert registered_names("no_such_package_here") is None
