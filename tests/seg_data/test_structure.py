"""seg_data's module structure: no import cycle, lazy exports mirrored, light dataset and metadata modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import seg_data

PACKAGE = Path(seg_data.__file__).parent


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package."""
    out: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of the package that ``name`` imports anywhere: top level, in functions, under TYPE_CHECKING."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets += [f"{base}.{alias.name}" for alias in node.names]
    found = set()
    for target in targets:
        while target and target not in modules:  # `from pkg import submodule` names the submodule
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_import_graph_of_seg_data_is_acyclic() -> None:
    modules = _modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    assert graph["seg_data.base"] >= {"seg_data.metadata", "seg_data.labels", "seg_data.seeding", "seg_data.convert"}
    assert "seg_data.base" in graph["seg_data.datasets._layout"]  # function-level imports are edges too
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_cycle_finder_sees_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_metadata_keeps_only_the_type_and_resolution() -> None:
    from seg_data import metadata

    assert set(metadata.__all__) == {
        "Color", "DatasetMetadata", "MetadataBuilder", "default_palette", "list_metadata", "register_metadata",
        "resolve_metadata",
    }  # fmt: skip
    imports = _imported("seg_data.metadata", PACKAGE / "metadata.py", _modules())
    assert imports == set()  # builders are found through the registry, never imported by name


def test_lazy_exports_match_their_type_checking_mirror() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    mirror = {
        alias.name: node.module
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert mirror == seg_data._LAZY
    for name, module in seg_data._LAZY.items():
        assert getattr(seg_data, name).__module__ == module


def test_dataset_modules_and_every_metadata_builder_do_not_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys, importlib, seg_data;"
        "from seg_data._plugin import _DATASETS;"
        "from seg_data.metadata import resolve_metadata;"
        "own = [n for n, _ in _DATASETS];"  # seg-data's own (other installed plugins may add datasets)
        "[importlib.import_module(f'seg_data.datasets.{n}') for n in own];"
        f"metas = [resolve_metadata(n, root={str(tmp_path)!r}, num_classes=3) for n in own if n != 'mapillary'];"
        "print(len(metas), sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "9 []"
