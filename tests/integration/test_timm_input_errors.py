"""timm encoders inside seg-decoders models: fixed-size ViT inputs and broken timm options get seg's errors."""

from __future__ import annotations

import pytest
import torch

import seg_core
from seg_core.errors import ConfigError, InputShapeError


def test_fixed_size_vit_model_reports_the_input_size() -> None:
    model = seg_core.create_model(
        "fpn", encoder_name="test_vit", encoder_params={"dynamic_img_size": False}, encoder_depth=4
    ).eval()  # timm's default size for test_vit: 160
    with pytest.raises(InputShapeError, match=r"height=64, width=64: .*takes only \(160, 160\)") as err:
        model(torch.randn(1, 3, 64, 64))
    assert "img_size" in str(err.value) and "dynamic_img_size" in str(err.value)
    assert model.predict(torch.randn(1, 3, 70, 90), pad=True).shape == (1, 1, 70, 90)  # padded to 160


def test_layernorm_through_the_model_arguments() -> None:
    with pytest.raises(ConfigError, match="norm_layer"):
        seg_core.create_model("unet", encoder_name="test_resnet", encoder_params={"norm_layer": "layernorm"})
