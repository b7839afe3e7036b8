"""timm encoders: fixed-size ViTs get seg's input error, broken timm options are rejected when built."""

from __future__ import annotations

import pytest
import torch

import seg_core
from seg_core.errors import ConfigError, InputShapeError
from seg_encoders_timm import create_timm_encoder


def test_fixed_size_vit_names_img_size_and_dynamic_img_size() -> None:
    enc = create_timm_encoder("test_vit", img_size=64, dynamic_img_size=False, depth=2)
    assert enc.capabilities.fixed_input_size == (64, 64)
    with pytest.raises(InputShapeError, match=r"fixed input size \(64, 64\), got an input of size \(96, 96\)") as err:
        enc(torch.randn(1, 3, 96, 96))
    assert 'encoder_params={"img_size": (H, W)}' in str(err.value)
    assert 'encoder_params={"dynamic_img_size": True}' in str(err.value)
    assert [f.shape[2:] for f in enc(torch.randn(1, 3, 64, 64))][1:] == [(32, 32), (16, 16)]


@pytest.mark.parametrize("name", ["test_resnet", "test_efficientnet"])
def test_layernorm_on_a_cnn_is_rejected_at_construction(name: str) -> None:
    with pytest.raises(ConfigError, match=r"encoder_params=\{'norm_layer': 'layernorm'\} cannot run") as err:
        create_timm_encoder(name, norm_layer="layernorm")
    assert "norm_layer='layernorm2d'" in str(err.value)
    assert "normalized_shape" in str(err.value)  # the underlying error, shortened
    enc = create_timm_encoder(name, norm_layer="layernorm2d", depth=3)
    assert len(enc(torch.randn(1, 3, 64, 64))) == 4


def test_the_dry_run_leaves_the_encoder_usable() -> None:
    enc = create_timm_encoder("test_resnet", depth=3, drop_path_rate=0.1)
    assert all(p.device.type == "cpu" for p in enc.parameters())
    assert all(b.device.type == "cpu" for b in enc.buffers())
    enc.train()
    feats = enc(torch.randn(2, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(3, 64, 64), (32, 32, 32), (32, 16, 16), (48, 8, 8)]
    vit = create_timm_encoder("test_vit", img_size=64, depth=2, drop_path_rate=0.1)
    assert all(p.device.type == "cpu" for p in vit.parameters())
    assert len(vit(torch.randn(1, 3, 64, 64))) == 3


@pytest.mark.parametrize("channels", [[0, 8, 8, 8, 8], [8, -1, 8, 8, 8]])
def test_non_positive_encoder_channels(channels: list[int]) -> None:
    with pytest.raises(ConfigError, match="encoder_channels must be >= 1"):
        create_timm_encoder("test_resnet", channels=channels)


def test_missing_timm_encoder_name() -> None:
    with pytest.raises(ConfigError, match="encoder_name must be the name of a registered encoder"):
        seg_core.create_encoder(None)  # type: ignore[arg-type]
