"""Shared setup of the deployment-path tests (run by the ``deploy`` nox session)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("SEG_STRICT_PLUGINS", "1")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: compiles or exports a model (seconds each); selected by path in the deploy nox session"
    )


@pytest.fixture(autouse=True)
def _fresh_compiler_state() -> Iterator[None]:
    """Start every test with empty dynamo caches, so one test's guards never serve another."""
    import torch

    torch.compiler.reset()
    yield
    torch.compiler.reset()
