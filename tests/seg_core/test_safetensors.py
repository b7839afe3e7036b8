"""seg-core's safetensors reader and writer: round trips, interop with the official package, corrupt files."""

from __future__ import annotations

import json

import pytest
import torch

from seg_core.errors import CheckpointError
from seg_core.io import load_safetensors as load_file
from seg_core.io import safetensors_bytes as save_bytes


def test_safetensors_round_trip_all_dtypes(tmp_path) -> None:
    tensors = {
        "f32": torch.randn(3, 4),
        "f16": torch.randn(5).half(),
        "bf16": torch.randn(2, 2).bfloat16(),
        "i64": torch.arange(7),
        "u8": torch.arange(3, dtype=torch.uint8),
        "b": torch.tensor([True, False]),
        "empty": torch.empty(0, 3),
        "scalar": torch.tensor(3.5),
    }
    path = tmp_path / "x.safetensors"
    path.write_bytes(save_bytes(tensors, {"k": "v"}))
    loaded = load_file(path)
    assert set(loaded) == set(tensors)
    for key, value in tensors.items():
        assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value)


def test_safetensors_interoperates_with_the_official_package(tmp_path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    tensors = {"a": torch.randn(4, 4), "b": torch.arange(6).reshape(2, 3)}
    ours = tmp_path / "ours.safetensors"
    ours.write_bytes(save_bytes(tensors))
    theirs = safetensors_torch.load_file(str(ours))
    assert all(torch.equal(theirs[k], tensors[k]) for k in tensors)
    official = tmp_path / "official.safetensors"
    safetensors_torch.save_file(tensors, str(official))
    assert all(torch.equal(load_file(official)[k], tensors[k]) for k in tensors)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x01", "shorter than its 8-byte header"),
        ((10**6).to_bytes(8, "little") + b"{}", "header claims"),
        ((4).to_bytes(8, "little") + b"nope", "header is not JSON"),
        (
            (64).to_bytes(8, "little")
            + json.dumps({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode().ljust(64),
            "does not fit its declared shape",
        ),
    ],
)
def test_corrupt_safetensors_names_file_and_reason(tmp_path, data, reason) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=reason) as err:
        load_file(path)
    assert "bad.safetensors" in str(err.value)
