"""The packages' import structure: no cycles inside a package, no reach into another package's private modules.

Every import counts, including those inside functions and under ``TYPE_CHECKING``:
a cycle hidden in a function is still a cycle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
SOURCES = sorted(PACKAGES.glob("*/src/*/**/*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.with_suffix("").parts[path.parts.index("src") + 1 :])
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a.b import c`` counts ``a.b`` and ``a.b.c``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(p): p for p in SOURCES}


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        package = name.split(".")[0]
        graph[name] = {
            imported
            for imported in _imports(path)
            if imported in MODULES
            and imported.split(".")[0] == package
            and imported != name
            # a package's __init__ is entered by importing any of its modules: only its own edges count
            and not (imported == package and name.startswith(package + "."))
        }
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checker_sees_the_modules() -> None:
    assert "seg_core.model" in MODULES and "seg_decoders.unet" in MODULES
    assert "seg_core.building" in _graph()["seg_core.model"]  # function-level imports count


def test_a_cycle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", sorted({name.split(".")[0] for name in MODULES}))
def test_no_import_cycles(package: str) -> None:
    graph = {k: v for k, v in _graph().items() if k.split(".")[0] == package}
    assert _cycles(graph) == []


def test_no_private_cross_package_imports() -> None:
    packages = {m.split(".")[0] for m in MODULES}
    offenders = []
    for name, path in MODULES.items():
        for imported in _imports(path):
            top, *rest = imported.split(".")
            private = any(part.startswith("_") and not part.startswith("__") for part in rest)
            if top in packages and top != name.split(".")[0] and private:
                offenders.append(f"{name} imports {imported}")
    assert offenders == []
