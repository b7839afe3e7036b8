from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from seg_core._safetensors import load_file, save_bytes
from seg_core.cli import main
from seg_core.errors import CheckpointError


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


def test_cli_list_info_plugins(capsys) -> None:
    assert main(["list", "encoders", "basic*"]) == 0
    assert capsys.readouterr().out.split() == ["basic_cnn", "basic_cnn_s4"]
    assert main(["info", "encoders", "basic_cnn"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["distribution"] == "seg-core" and info["target"] == "seg_core.basic_encoder:basic_cnn"
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["plugin", "distribution", "version", "status", "error"]
    assert "seg_core" in out and "loaded" in out


def test_cli_errors_exit_2_with_message(capsys) -> None:
    assert main(["list", "encoderz"]) == 2
    assert "unknown registry kind 'encoderz'. Did you mean: 'encoders'" in capsys.readouterr().err
    assert main(["info", "encoders", "basic_cn"]) == 2
    assert "Did you mean: 'basic_cnn'" in capsys.readouterr().err


def _heavy_after(code: str) -> list[str]:
    probe = code + "\nimport sys\nprint(','.join(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_seg_core_imports_no_torch() -> None:
    assert _heavy_after("import seg_core; seg_core.hookimpl; seg_core.__version__") == []


def test_listing_imports_no_torch() -> None:
    assert _heavy_after("import seg_core; seg_core.list_encoders(); seg_core.list_architectures()") == []


def test_seg_list_command_imports_no_torch() -> None:
    code = "import io, contextlib\nfrom seg_core.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n    main(['list', 'encoders'])"
    assert _heavy_after(code) == []


def test_seg_console_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "seg_core.cli", "list", "encoders"], capture_output=True, text=True, check=True
    )
    assert "basic_cnn" in out.stdout


def test_lazy_exports_resolve_once_and_list_names() -> None:
    import seg_core

    assert "EncoderMixin" in dir(seg_core) and "get_registry" in dir(seg_core)
    first = seg_core.FeaturePyramidAdapter
    assert seg_core.__dict__["FeaturePyramidAdapter"] is first  # cached in the namespace
    with pytest.raises(AttributeError, match="module 'seg_core' has no attribute 'Nope'"):
        _ = seg_core.Nope
