"""Every adapter path passes seg-core's encoder conformance kit (random weights, 64x64)."""

from __future__ import annotations

from typing import Any

import pytest

import seg_core
from seg_core.testing import check_encoder

# (name, timm kwargs, check_encoder options). Tiny configurations keep the module fast.
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("resnet18", {}, {"depths": (5,), "in_channels": (4,), "check_dilation": False}),
    ("test_resnet", {}, {}),
    ("efficientnet_b0", {}, {"depths": (5,), "in_channels": (1,), "check_dilation": False}),
    ("tu-test_efficientnet", {}, {}),
    ("mobilenetv3_small_050", {}, {"in_channels": (1,)}),
    ("convnext_atto", {}, {"depths": (3, 5), "in_channels": (1,), "check_dilation": False}),
    ("test_convnext", {}, {}),
    ("regnetx_002", {}, {"depths": (4,), "in_channels": (1,), "check_dilation": False}),
    ("densenet121", {"growth_rate": 8, "block_config": (1, 1, 1, 1)}, {"in_channels": (1,)}),
    (
        "swin_tiny_patch4_window7_224",
        {"img_size": 64, "embed_dim": 16, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 1, 1), "window_size": 2},
        {"depths": (3, 5), "in_channels": (1,)},
    ),
    (
        "levit_128s",
        {"img_size": 64, "embed_dim": (32, 48, 64), "num_heads": (1, 1, 1)},
        {"depths": (5,), "in_channels": (1,)},
    ),
    (
        "xcit_nano_12_p16_224",
        {"img_size": 64, "embed_dim": 32, "num_heads": 2, "adapter": "features"},
        {"depths": (4, 5)},
    ),
    ("vit_tiny_patch16_224", {"img_size": 64}, {"depths": (5,), "in_channels": (1,)}),
    ("test_vit", {"dynamic_img_size": True}, {"input_size": 48}),
    ("vit_small_patch14_reg4_dinov2", {"img_size": 64, "embed_dim": 32, "num_heads": 2}, {"in_channels": (4,)}),
]


@pytest.mark.parametrize(("name", "timm_kwargs", "options"), CASES, ids=[c[0] for c in CASES])
def test_check_encoder(name: str, timm_kwargs: dict[str, Any], options: dict[str, Any]) -> None:
    def factory(**kwargs: Any) -> Any:
        return seg_core.create_encoder(name, **kwargs, **timm_kwargs)

    factory.__name__ = name
    report = check_encoder(factory, check_compile=False, check_export=False, **options)
    assert any("in_channels=0 rejected" in c for c in report.checks)


@pytest.mark.parametrize("name", ["test_resnet", "test_vit"])
def test_compile_and_export(name: str) -> None:
    def factory(**kwargs: Any) -> Any:
        extra = {"img_size": 64} if "vit" in name else {}
        return seg_core.create_encoder(name, **kwargs, **extra)

    factory.__name__ = name
    report = check_encoder(factory, depths=(4,), in_channels=(3,), check_dilation=False)
    assert "torch.compile(fullgraph=True)" in report.checks
    assert "torch.export" in report.checks


def test_model_without_features_only_has_clear_error() -> None:
    # Every model of timm 1.0.x builds with features_only=True, so register one that does not.
    from timm.models import is_model, register_model
    from torch import nn

    from seg_core.errors import IncompatibleEncoderError
    from seg_encoders_timm import create_timm_encoder

    if not is_model("seg_test_mlp_only"):

        @register_model
        def seg_test_mlp_only(pretrained: bool = False, **kwargs: Any) -> nn.Module:
            return nn.Sequential(nn.Flatten(), nn.LazyLinear(10))

    with pytest.raises(IncompatibleEncoderError, match="'seg_test_mlp_only' cannot be used.*features_only=True fails"):
        create_timm_encoder("seg_test_mlp_only")
