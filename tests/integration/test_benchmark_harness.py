"""The benchmarks' verdict logic (benchmarks/_harness.py): ratios, intervals, ties and unresolved cases."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "_harness.py"
    spec = importlib.util.spec_from_file_location("_bench_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_verdicts(harness: ModuleType) -> None:
    summary = harness.ratio_summary
    assert summary([0.80, 0.82, 0.81, 0.79, 0.80])["verdict"] == "faster"
    assert summary([1.04, 1.05, 1.05])["verdict"] == "cannot resolve 3%"  # three close rounds do not decide
    assert summary([0.49, 0.49, 0.50])["verdict"] == "faster"  # ... unless far outside any drift
    assert summary([1.10, 1.12, 1.11, 1.09, 1.10])["verdict"] == "slower"
    assert summary([1.002, 1.004, 1.003, 1.005, 1.004])["verdict"] == "tie"  # narrow, but under 1%
    assert summary([0.85, 1.15, 0.90, 1.10, 1.00])["verdict"] == "cannot resolve 3%"
    out = summary([0.9, 1.0, 1.1])
    assert out["median"] == pytest.approx(1.0) and out["p10"] == pytest.approx(0.92) and out["rounds"] == 3


def test_interleave_rotates_and_stops_when_resolved(harness: ModuleType) -> None:
    calls: list[str] = []
    result = harness.interleave(
        {"a": lambda: calls.append("a") or sum(range(20000)), "b": lambda: calls.append("b") or sum(range(20000))},
        baseline="b",
        min_rounds=3,
        max_rounds=50,
        budget_s=30,
    )
    assert calls[:2] == ["a", "b"]  # the warm-up
    timed = calls[2:]
    assert timed[:4] == ["a", "b", "b", "a"]  # each variant takes every position in turn
    assert result["rounds"] == len(timed) // 2 >= 3
    assert set(result["cpu"]) == {"a", "b"} and "ratio" in result["cpu"]["a"] and "ratio" not in result["cpu"]["b"]


def test_markdown_table(harness: ModuleType) -> None:
    assert harness.table(["x", "y"], [[1, 2]]) == "| x | y |\n|---|---|\n| 1 | 2 |"
