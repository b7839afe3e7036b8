"""Meta-test: the nox sessions' test selections together run every collected test.

smp's CI silently skipped 28 of its tests through marker filters; here no
session may deselect by marker or keyword, and every collected test must sit
under some session's paths (and not under that session's ignores).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def _selections() -> dict[str, dict[str, list[str]]]:
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "TEST_SELECTIONS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("noxfile.py defines no TEST_SELECTIONS")


def _covered(nodeid: str, selection: dict[str, list[str]]) -> bool:
    path = nodeid.split("::")[0]
    inside = any(path == p or path.startswith(p.rstrip("/") + "/") for p in selection["paths"])
    ignored = any(path == p or path.startswith(p.rstrip("/") + "/") for p in selection["ignore"])
    return inside and not ignored


def test_selections_only_use_paths() -> None:
    for name, selection in _selections().items():
        assert set(selection) == {"paths", "ignore"}, f"{name} must select by paths only"


def test_pytest_config_deselects_nothing() -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    joined = " ".join(options.get("addopts", []))
    for flag in ("-m", "-k", "--deselect", "--ignore"):
        assert flag not in joined.split(), f"pyproject addopts must not contain {flag}"


def test_every_collected_test_is_run_by_some_session() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"SEG_STRICT_PLUGINS": "1", "PATH": "", "HOME": str(Path.home())},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    nodeids = [line for line in result.stdout.splitlines() if "::" in line]
    assert len(nodeids) > 100
    selections = _selections()
    orphans = [n for n in nodeids if not any(_covered(n, s) for s in selections.values())]
    assert not orphans, f"{len(orphans)} tests are run by no nox session, e.g. {orphans[:5]}"


def test_every_test_folder_has_a_session() -> None:
    selections = _selections()
    for folder in sorted(
        p for p in (ROOT / "tests").iterdir() if p.is_dir() and p.name not in {"fixtures", "__pycache__"}
    ):
        rel = f"tests/{folder.name}"
        assert any(
            rel in s["paths"] or any(p.startswith(rel + "/") for p in s["paths"]) for s in selections.values()
        ), rel
