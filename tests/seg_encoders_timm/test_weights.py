"""Weights: offline local files through timm's pretrained machinery, stem adaptation, clear failures."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import timm
import torch

import seg_core
from seg_core.errors import CheckpointError, ConfigError
from seg_encoders_timm._names import parse_name
from seg_encoders_timm._weights import resolve_weights


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(1)
    state = timm.create_model("test_resnet").state_dict()
    path = tmp_path_factory.mktemp("w") / "test_resnet.safetensors"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path, state


def _param(encoder: torch.nn.Module, key: str) -> torch.Tensor:
    state = encoder.state_dict()
    prefix = "backbone.model." if "backbone.model." + key in state else "model."
    return state[prefix + key]


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_local_file_loads_exact_tensors(
    resnet_file: tuple[Path, dict[str, torch.Tensor]], tmp_path: Path, suffix: str
) -> None:
    path, state = resnet_file
    if suffix == ".pth":
        path = tmp_path / "test_resnet.pth"
        torch.save(state, path)
    encoder = seg_core.create_encoder("tu-test_resnet", weights=str(path))
    for key in ("conv1.0.weight", "layer1.0.conv1.weight", "layer4.0.bn1.running_mean", "layer3.0.conv2.weight"):
        assert torch.equal(_param(encoder, key), state[key]), key
    random = seg_core.create_encoder("tu-test_resnet")
    assert not torch.equal(_param(random, "layer1.0.conv1.weight"), state["layer1.0.conv1.weight"])


def test_in_channels_adapts_pretrained_stem(resnet_file: tuple[Path, dict[str, torch.Tensor]]) -> None:
    path, state = resnet_file
    rgb = state["conv1.0.weight"]
    one = seg_core.create_encoder("test_resnet", weights=path, in_channels=1)
    torch.testing.assert_close(_param(one, "conv1.0.weight"), rgb.sum(dim=1, keepdim=True))
    five = seg_core.create_encoder("test_resnet", weights=path, in_channels=5)
    expected = torch.cat([rgb, rgb], dim=1)[:, :5] * (3 / 5)
    torch.testing.assert_close(_param(five, "conv1.0.weight"), expected)
    assert five.out_channels[0] == 5
    assert five(torch.randn(1, 5, 64, 64))[-1].shape == (1, 96, 2, 2)


def test_vit_local_file_with_other_img_size(tmp_path: Path) -> None:
    torch.manual_seed(2)
    state = timm.create_model("test_vit").state_dict()  # trained size 160, position embedding for 10x10 tokens
    path = tmp_path / "vit.pth"
    torch.save(state, path)
    encoder = seg_core.create_encoder("test_vit", weights=str(path), img_size=64)
    assert torch.equal(_param(encoder, "blocks.0.attn.qkv.weight"), state["blocks.0.attn.qkv.weight"])
    assert _param(encoder, "pos_embed").shape[1] == 1 + 4 * 4  # resampled by timm on load
    feats = encoder(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in feats] == [64, 32, 16, 8, 4, 2]


def test_missing_or_wrong_local_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        seg_core.create_encoder("test_resnet", weights=str(tmp_path / "absent.safetensors"))
    bad = tmp_path / "other.pth"
    torch.save({"unrelated.weight": torch.zeros(2)}, bad)
    with pytest.raises(CheckpointError, match="cannot load"):
        seg_core.create_encoder("test_resnet", weights=bad)


def test_weights_argument_resolution() -> None:
    parsed = parse_name("tu-convnext_tiny.fb_in22k")
    assert (parsed.base, parsed.tag) == ("convnext_tiny", "fb_in22k")
    assert resolve_weights(parsed, None).pretrained is False
    assert resolve_weights(parsed, "imagenet").model_name == "convnext_tiny.fb_in22k"
    assert resolve_weights(parse_name("convnext_tiny"), "fb_in1k").model_name == "convnext_tiny.fb_in1k"
    with pytest.raises(ConfigError, match="contradicts"):
        resolve_weights(parsed, "fb_in1k")
    with pytest.raises(ConfigError, match="encoder_weights"):
        resolve_weights(parsed, 3)


def test_unknown_tag_is_rejected_before_any_download() -> None:
    with pytest.raises(ConfigError, match="no pretrained tag 'nope'.*test_resnet.r160_in1k"):
        seg_core.create_encoder("test_resnet", weights="nope")


def test_offline_download_failure_says_to_pass_a_file(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import os, seg_core
        from seg_core.errors import CheckpointError
        try:
            seg_core.create_encoder("test_resnet", weights=True)
        except CheckpointError as exc:
            print("MESSAGE", exc)
        else:
            print("LOADED")
        """
    )
    env = {
        **__import__("os").environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "TORCH_HOME": str(tmp_path / "torch"),
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "MESSAGE" in done.stdout, done.stdout + done.stderr
    assert "cannot be fetched" in done.stdout
    assert "encoder_weights='/path/to/model.safetensors'" in done.stdout
    assert "faq/#offline-weights" in done.stdout
