from __future__ import annotations

import pytest
import torch
from torch import nn

from seg_core.errors import ConfigError, IncompatibleEncoderError
from seg_core.pyramid import FeaturePyramidAdapter, check_pyramid, plan_pyramid
from seg_core.testing import check_encoder


class _Backbone(nn.Module):
    """Produces maps with given channels/reductions from strided convs (real gradients)."""

    def __init__(self, channels, reductions, channels_last: bool = False) -> None:
        super().__init__()
        self.channels_last = channels_last
        self.convs = nn.ModuleList(nn.Conv2d(3, c, kernel_size=r, stride=r) for c, r in zip(channels, reductions))

    def forward(self, x):
        outs = [conv(x) for conv in self.convs]
        return [o.permute(0, 2, 3, 1) for o in outs] if self.channels_last else outs


def _adapter(channels, reductions, **kwargs) -> FeaturePyramidAdapter:
    names = [f"stage{i}" for i in range(len(channels))]
    return FeaturePyramidAdapter(_Backbone(channels, reductions), channels, reductions, module_names=names, **kwargs)


def _emitted(adapter, size=64):
    x = torch.randn(2, adapter.in_channels, size, size)
    feats = adapter(x)
    assert [f.shape[1] for f in feats] == adapter.out_channels
    assert [size // f.shape[-1] for f in feats] == adapter.reductions
    return feats


def test_classic_five_levels_is_untouched() -> None:
    adapter = _adapter([16, 24, 32, 48, 64], [2, 4, 8, 16, 32])
    assert adapter.out_channels == [3, 16, 24, 32, 48, 64]
    assert adapter.reductions == [1, 2, 4, 8, 16, 32]
    assert all(r.resample is None and r.projection is None for r in adapter.features_info)
    _emitted(adapter)


def test_stride4_stem_pads_level_one_with_zero_channels() -> None:
    adapter = _adapter([8, 16, 32, 64], [4, 8, 16, 32])
    assert adapter.out_channels == [3, 0, 8, 16, 32, 64]
    info = adapter.features_info
    assert info[0].padded and info[0].level == 1 and info[0].channels == 0
    feats = _emitted(adapter)
    assert feats[1].shape == (2, 0, 32, 32)
    lines = adapter.features_info_str.splitlines()
    assert lines[0].split(" | ")[:3] == ["index / module", "backbone feature", "selected"]
    assert "level 1: 0 ch, hw/2 (zero-channel)" in lines[2]
    assert "0 / stage0" in lines[3] and "level 2: 8 ch, hw/4" in lines[3]


def test_depth_follows_log2_of_deepest_reduction_not_sqrt() -> None:
    adapter = _adapter([8, 16], [4, 8], depth=5)
    assert adapter.depth == 3  # log2(8); smp's unmerged attempt used sqrt(8) -> 2
    assert adapter.reductions == [1, 2, 4, 8]
    _emitted(adapter)


def test_three_equal_stride_maps_are_resampled_and_declared() -> None:
    adapter = _adapter([12, 12, 12], [16, 16, 16])
    assert adapter.depth == 4
    assert adapter.out_channels == [3, 0, 12, 12, 12]
    info = [r for r in adapter.features_info if not r.padded]
    assert [r.reduction for r in info] == [4, 8, 16]
    assert info[0].resample == "bilinear x4 up (stride 16 -> 4)"
    assert info[1].resample == "bilinear x2 up (stride 16 -> 8)"
    assert info[2].resample is None
    assert "bilinear x4 up" in adapter.features_info_str
    _emitted(adapter)


def test_indices_first_last_and_list() -> None:
    chans, reds = [16, 24, 32, 48, 64], [2, 4, 8, 16, 32]
    first = _adapter(chans, reds, depth=3, indices="first")
    assert first.out_channels == [3, 16, 24, 32]
    last = _adapter(chans, reds, depth=3, indices="last")
    assert last.depth == 5 and last.out_channels == [3, 0, 0, 32, 48, 64]
    assert [r.selected for r in last.features_info if not r.padded] == [False, False, True, True, True]
    picked = _adapter(chans, reds, indices=[0, 2, -1])
    assert picked.out_channels == [3, 16, 0, 32, 0, 64]
    for adapter in (first, last, picked):
        _emitted(adapter)


def test_not_selected_rows_say_so() -> None:
    adapter = _adapter([16, 24, 32, 48, 64], [2, 4, 8, 16, 32], depth=3, indices="last")
    rows = adapter.features_info_str.splitlines()
    assert any(row.startswith("0 / stage0") and "| no " in row for row in rows)


def test_channel_reduction_with_1x1_convs() -> None:
    adapter = _adapter([8, 16, 32, 64], [4, 8, 16, 32], encoder_channels=[8, 8, 8, 8])
    assert adapter.out_channels == [3, 0, 8, 8, 8, 8]
    assert len(adapter.projections) == 3  # the first map already has 8 channels
    assert "1x1 conv 64->8" in adapter.features_info_str
    _emitted(adapter)


def test_channel_list_per_level_needs_zero_at_padding() -> None:
    ok = _adapter([8, 16, 32, 64], [4, 8, 16, 32], encoder_channels=[0, 4, 4, 4, 4])
    assert ok.out_channels == [3, 0, 4, 4, 4, 4]
    with pytest.raises(ConfigError, match="level 1 has no backbone map"):
        _adapter([8, 16, 32, 64], [4, 8, 16, 32], encoder_channels=[16, 4, 4, 4, 4])
    with pytest.raises(ConfigError, match="one value per selected map \\(4\\) or per pyramid level \\(5\\), got 2"):
        _adapter([8, 16, 32, 64], [4, 8, 16, 32], encoder_channels=[4, 4])


def test_channels_last_backbones_are_converted() -> None:
    backbone = _Backbone([8, 16], [2, 4], channels_last=True)
    adapter = FeaturePyramidAdapter(backbone, [8, 16], [2, 4], feature_format="NHWC")
    _emitted(adapter)


@pytest.mark.parametrize(
    ("indices", "message"),
    [
        ([7], r"encoder_indices \[7\] out of range: the backbone has 5 feature maps"),
        ([1, 1], "must not repeat"),
        ([], "must not be empty"),
        ("middle", "must be 'first', 'last' or a list of ints"),
    ],
)
def test_bad_indices(indices, message) -> None:
    with pytest.raises(ConfigError, match=message):
        plan_pyramid([2, 4, 8, 16, 32], 5, indices)


def test_stride_one_maps_cannot_be_selected_explicitly() -> None:
    with pytest.raises(ConfigError, match="select stride-1 maps"):
        plan_pyramid([1, 2, 4], 3, [0, 1])
    # "first" skips the stride-1 map (VGG-style backbones)
    assert plan_pyramid([1, 2, 4, 8, 16, 32], 5, "first") == (5, [1, 2, 3, 4, 5], [2, 4, 8, 16, 32])


def test_too_many_maps_for_the_levels() -> None:
    with pytest.raises(ConfigError, match="cannot place 5 maps"):
        plan_pyramid([8, 8, 8, 8, 8], 5, [0, 1, 2, 3, 4])


def test_adapter_passes_the_conformance_kit() -> None:
    def factory(depth=5, in_channels=3, **_):
        if in_channels < 1:
            raise ConfigError("in_channels must be >= 1")
        backbone = _Backbone([8, 16, 32, 64], [4, 8, 16, 32])
        if in_channels != 3:
            backbone.convs = nn.ModuleList(
                nn.Conv2d(in_channels, c, r, r) for c, r in zip([8, 16, 32, 64], [4, 8, 16, 32])
            )
        return FeaturePyramidAdapter(backbone, [8, 16, 32, 64], [4, 8, 16, 32], depth=depth, in_channels=in_channels)

    report = check_encoder(factory, check_compile=False)
    assert "torch.export" in report.checks


@pytest.mark.parametrize(
    ("channels", "reductions", "kwargs", "message"),
    [
        ([3, 8, 8], [1, 16, 16], {}, "repeat stride 16 before the deepest level"),
        ([3, 8, 8], [1, 2, 3], {}, "not a pyramid"),
        ([3, 8], [1, 2], {"min_depth": 3}, "needs encoder_depth >= 3"),
        ([3, 0, 8], [1, 2, 4], {"nonzero_levels": [1]}, "needs features at level 1"),
        ([3, 8], [2, 4], {}, "first map must be the input"),
    ],
)
def test_check_pyramid_explains(channels, reductions, kwargs, message) -> None:
    with pytest.raises(IncompatibleEncoderError, match=message):
        check_pyramid(channels, reductions, consumer="TestDecoder", **kwargs)


def test_check_pyramid_accepts_dilated_tail() -> None:
    check_pyramid([3, 8, 8, 8, 8, 8], [1, 2, 4, 8, 8, 8], consumer="DeepLab")


def test_equal_stride_maps_honour_a_smaller_requested_depth() -> None:
    adapter = _adapter([12, 12, 12], [16, 16, 16], depth=3)
    assert adapter.depth == 3 and adapter.reductions == [1, 2, 4, 8]
    assert "bilinear x2 up (stride 16 -> 8)" in adapter.features_info_str
    _emitted(adapter)


def test_dilated_backbone_keeps_resolution_of_deep_levels() -> None:
    class Dilated(nn.Module):
        def forward(self, x):
            h, w = x.shape[2:]
            return [torch.randn(x.shape[0], c, h // r, w // r) for c, r in zip([8, 16, 32, 64], [4, 8, 16, 16])]

    adapter = FeaturePyramidAdapter(Dilated(), [8, 16, 32, 64], [4, 8, 16, 32], output_stride=16)
    assert adapter.reductions == [1, 2, 4, 8, 16, 16] and adapter.output_stride == 16
    feats = adapter(torch.randn(1, 3, 64, 64))
    assert [f.shape[-1] for f in feats] == [64, 32, 16, 8, 4, 4]
    with pytest.raises(ConfigError, match="output_stride must be 8, 16 or 32"):
        FeaturePyramidAdapter(Dilated(), [8], [4], output_stride=4)
