"""depth / indices / channels / output_stride / timm kwargs behave as documented and as reported."""

from __future__ import annotations

import logging

import pytest
import torch

import seg_core
from seg_core.errors import ConfigError, IncompatibleEncoderError, UnknownNameError
from seg_encoders_timm import TimmUniversalEncoder, TimmViTEncoder, create_timm_encoder


def _shapes(encoder: torch.nn.Module, size: int = 64) -> list[tuple[int, ...]]:
    with torch.no_grad():
        return [tuple(f.shape[1:]) for f in encoder(torch.randn(1, encoder.in_channels, size, size))]


def test_prefix_and_tag_forms_build_the_same_encoder() -> None:
    for name in ("test_resnet", "tu-test_resnet", "test_resnet.r160_in1k", "TU-test_resnet"):
        enc = seg_core.create_encoder(name, depth=3)
        assert isinstance(enc, TimmUniversalEncoder)
        assert enc.out_channels == [3, 32, 32, 48]


@pytest.mark.parametrize("depth", [0, 6, True, "3"])
def test_depth_range_is_checked(depth: object) -> None:
    with pytest.raises(ConfigError, match="encoder_depth"):
        create_timm_encoder("test_resnet", depth=depth)  # type: ignore[arg-type]


def test_depth_truncates_and_only_builds_what_is_used() -> None:
    enc = create_timm_encoder("test_efficientnet", depth=3)
    assert _shapes(enc) == [(3, 64, 64), (16, 32, 32), (24, 16, 16), (32, 8, 8)]
    sum(f.sum() for f in enc(torch.randn(1, 3, 64, 64))[1:]).backward()
    assert [n for n, p in enc.named_parameters() if p.grad is None] == []
    deep = create_timm_encoder("test_resnet", depth=2)
    assert not any("layer3" in n or "layer4" in n for n, _ in deep.named_parameters())


def test_stride4_stem_pads_level_one_and_reports_it() -> None:
    enc = create_timm_encoder("test_convnext", depth=4)
    assert enc.out_channels == [3, 0, 24, 32, 48]
    assert _shapes(enc)[1] == (0, 32, 32)
    table = enc.features_info_str
    assert "level 1: 0 ch, hw/2 (zero-channel)" in table
    assert "0 / stages.0" in table and "level 2: 24 ch, hw/4" in table
    assert "3 / stages.3" in table.splitlines()[-1] and "| no" in table.splitlines()[-1]


def test_indices_last_and_list_follow_the_selected_levels(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="seg_core.pyramid"):
        enc = create_timm_encoder("test_resnet", depth=3, indices="last")
    assert enc.depth == 5 and enc.out_channels == [3, 0, 0, 48, 192, 96]
    assert "adjusted from 3 to 5" in caplog.text
    rows = {line.split("|")[0].strip(): line for line in enc.features_info_str.splitlines()}
    assert "| no" in rows["0 / act1"] and "| yes" in rows["2 / layer2"]
    picked = create_timm_encoder("test_resnet", indices=[1, 3])
    assert picked.depth == 4 and picked.out_channels == [3, 0, 32, 0, 192]
    assert _shapes(picked)[1:] == [(0, 32, 32), (32, 16, 16), (0, 8, 8), (192, 4, 4)]
    with pytest.raises(ConfigError, match="out of range"):
        create_timm_encoder("test_resnet", indices=[7])
    with pytest.raises(ConfigError, match="'first', 'last'"):
        create_timm_encoder("test_resnet", indices="middle")


def test_channels_add_projections() -> None:
    enc = create_timm_encoder("test_resnet", depth=3, channels=[8, 16, 48])
    assert enc.out_channels == [3, 8, 16, 48]
    assert _shapes(enc)[1:] == [(8, 32, 32), (16, 16, 16), (48, 8, 8)]
    assert "1x1 conv 32->8" in enc.features_info_str and "48->48" not in enc.features_info_str
    with pytest.raises(ConfigError, match="encoder_channels"):
        create_timm_encoder("test_resnet", depth=3, channels=[8, 16])


def test_output_stride() -> None:
    enc = create_timm_encoder("test_resnet", output_stride=8)
    assert enc.reductions == [1, 2, 4, 8, 8, 8] and enc.output_stride == 8
    assert _shapes(enc)[-1] == (96, 8, 8)
    with pytest.raises(ConfigError, match="does not support encoder_output_stride=16"):
        create_timm_encoder("densenet121", output_stride=16, growth_rate=8, block_config=(1, 1, 1, 1))
    with pytest.raises(ConfigError, match="None, 8, 16 or 32"):
        create_timm_encoder("test_resnet", output_stride=4)
    vit = create_timm_encoder("test_vit", output_stride=16, img_size=64)
    assert vit.reductions == [1, 2, 4, 8, 16, 16] and vit.output_stride == 16
    assert [s[1:] for s in _shapes(vit)] == [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4), (4, 4)]
    assert "level 5: " in vit.features_info_str and "hw/16" in vit.features_info_str.splitlines()[-1]
    with pytest.raises(ConfigError, match="must be None, 8, 16 or 32"):
        create_timm_encoder("test_vit", output_stride=4, img_size=64)
    with pytest.raises(ConfigError, match="encoder_output_stride=16"):
        enc.make_dilated(16)


def test_timm_kwargs_reach_timm_and_reserved_ones_are_named() -> None:
    enc = create_timm_encoder("test_resnet", depth=2, act_layer="gelu", drop_path_rate=0.1)
    assert any(type(m).__name__ == "GELU" for m in enc.modules())
    assert not any(type(m).__name__ == "GELU" for m in create_timm_encoder("test_resnet", depth=2).modules())
    with pytest.raises(ConfigError, match="'features_only'"):
        create_timm_encoder("test_resnet", features_only=False)
    with pytest.raises(ConfigError, match="in_chans.*in_channels="):
        create_timm_encoder("test_resnet", in_chans=4)
    with pytest.raises(ConfigError, match="not_an_arg"):
        create_timm_encoder("test_resnet", not_an_arg=1)


def test_unknown_name_suggests() -> None:
    with pytest.raises(UnknownNameError, match="test_resnet"):
        seg_core.create_encoder("test_resnett")


def test_vit_taps_scale_factors_and_errors() -> None:
    enc = create_timm_encoder("test_vit", img_size=64)  # 6 blocks, patch 16
    assert isinstance(enc, TimmViTEncoder)
    assert enc._taps == [0, 1, 2, 3, 5] and enc.reductions == [1, 2, 4, 8, 16, 32]
    assert "bilinear x8 (stride 16 -> 2)" in enc.features_info_str
    assert enc._fixed_input_size is None and enc.capabilities.has_prefix_tokens  # test_vit is dynamic by default
    fixed = create_timm_encoder("test_vit", img_size=64, dynamic_img_size=False, depth=2)
    assert fixed.capabilities.fixed_input_size == (64, 64)
    last = create_timm_encoder("test_vit", img_size=64, depth=3, indices="last")
    assert last._taps == [3, 4, 5] and _shapes(last)[-1] == (64, 8, 8)
    coarse = create_timm_encoder("test_vit", img_size=64, scale_factors=(4, 2, 1, 0.5))
    assert coarse.out_channels == [3, 0, 64, 64, 64, 64] and coarse._taps == [0, 2, 3, 5]
    assert _shapes(coarse)[1:] == [(0, 32, 32), (64, 16, 16), (64, 8, 8), (64, 4, 4), (64, 2, 2)]
    picked = create_timm_encoder("test_vit", img_size=64, depth=4, indices=[-1, 2])
    assert picked._taps == [2, 5] and picked.out_channels == [3, 0, 0, 64, 64]
    with pytest.raises(ConfigError, match="one value per tapped block"):
        create_timm_encoder("test_vit", img_size=64, indices=[1, 2], scale_factors=(2, 1, 0.5))
    with pytest.raises(ConfigError, match="decrease strictly"):
        create_timm_encoder("test_vit", img_size=64, scale_factors=(1, 2))


def test_vit_dynamic_size_and_prefix_tokens() -> None:
    enc = create_timm_encoder("test_vit", dynamic_img_size=True, depth=4)
    assert enc._fixed_input_size is None
    assert _shapes(enc, 96)[1:] == [(64, 48, 48), (64, 24, 24), (64, 12, 12), (64, 6, 6)]
    _maps, tokens = enc.forward_with_prefix_tokens(torch.randn(1, 3, 64, 64))
    assert tokens is not None and len(tokens) == 4 and tokens[0].shape == (1, 1, 64)
    reg = create_timm_encoder("vit_small_patch14_reg4_dinov2", img_size=56, embed_dim=32, num_heads=2, depth=3)
    _, reg_tokens = reg.forward_with_prefix_tokens(torch.randn(1, 3, 56, 56))
    assert reg_tokens is not None and reg_tokens[0].shape == (1, 5, 32)  # class + 4 registers dropped from maps
    assert _shapes(reg, 56)[1:] == [(32, 28, 28), (32, 14, 14), (32, 7, 7)]


def test_adapter_choice() -> None:
    feats = create_timm_encoder("test_vit", adapter="features", img_size=64, depth=4)
    assert isinstance(feats, TimmUniversalEncoder) and feats.out_channels == [3, 0, 64, 64, 64]
    assert "bilinear x4 up (stride 16 -> 4)" in feats.features_info_str
    with pytest.raises(IncompatibleEncoderError, match="not a plain transformer"):
        create_timm_encoder("test_resnet", adapter="vit")
    with pytest.raises(ConfigError, match="scale_factors/norm"):
        create_timm_encoder("test_resnet", scale_factors=(1,))


def test_maps_off_their_declared_stride_are_resized_and_reported() -> None:
    # legacy_xception's unpadded stem gives 31x31 instead of 32x32 at 64x64 (and 125 at 256).
    enc = create_timm_encoder("legacy_xception", depth=2)
    assert _shapes(enc, 64)[1:] == [(64, 32, 32), (128, 16, 16)]
    assert "hw/2: 125 instead of 128" in enc.features_info_str
    assert "note:" not in create_timm_encoder("test_resnet", depth=2).features_info_str


def test_vit_honours_encoder_channels() -> None:
    """encoder_channels projects each tap (it used to be dropped silently, leaving the ViT width)."""
    enc = create_timm_encoder("test_vit", img_size=64, channels=[8, 16, 32, 48, 64])
    assert enc.out_channels == [3, 8, 16, 32, 48, 64]
    assert [s[0] for s in _shapes(enc)] == [3, 8, 16, 32, 48, 64]
    picked = create_timm_encoder("test_vit", img_size=64, depth=4, indices=[-1, 2], channels=[0, 0, 16, 32])
    assert picked.out_channels == [3, 0, 0, 16, 32]
    with pytest.raises(ConfigError, match="one value per tapped block"):
        create_timm_encoder("test_vit", img_size=64, channels=[8, 16])
    through_core = seg_core.create_encoder("test_vit", img_size=64, channels=[8, 16, 32, 48, 64])
    assert through_core.out_channels == [3, 8, 16, 32, 48, 64]  # what a model's encoder_channels reaches
