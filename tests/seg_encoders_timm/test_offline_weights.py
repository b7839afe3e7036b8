"""encoder_weights='imagenet' on a machine without network fails within seconds, with the offline message."""

from __future__ import annotations

import socket
import time

import pytest

import seg_core
from seg_core.errors import CheckpointError
from seg_encoders_timm._weights import hub_reachable


def test_unreachable_hub_fails_fast(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    constants = pytest.importorskip("huggingface_hub.constants")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # as on a user's machine: offline is not declared
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # nothing cached
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    attempts: list[object] = []

    def no_network(address: object, *args: object, **kwargs: object) -> socket.socket:
        attempts.append(address)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    start = time.monotonic()
    with pytest.raises(CheckpointError, match="offline") as err:
        seg_core.create_encoder("tu-test_resnet", weights="imagenet")
    assert time.monotonic() - start < 10
    assert "encoder_weights='/path/to/model.safetensors'" in str(err.value)
    assert attempts, "the Hub's reachability was not checked"
    assert constants.HF_HUB_OFFLINE is False  # restored after the build


def test_reachability_check_has_a_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    def record(address: object, timeout: float | None = None, *args: object) -> socket.socket:
        seen["timeout"] = timeout
        raise OSError("refused")

    monkeypatch.setattr(socket, "create_connection", record)
    assert hub_reachable() is False and seen["timeout"] == 3.0
