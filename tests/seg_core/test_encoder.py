from __future__ import annotations

import pytest
import torch
from torch import nn

from seg_core.basic_encoder import BasicCNNEncoder
from seg_core.encoder import EncoderMixin, patch_first_conv
from seg_core.errors import ConfigError


def _rgb_conv() -> nn.Conv2d:
    torch.manual_seed(0)
    return nn.Conv2d(3, 4, 3, bias=False)


def test_one_channel_is_sum_of_rgb_kernels() -> None:
    conv = _rgb_conv()
    rgb = conv.weight.detach().clone()
    patch_first_conv(conv, 1, pretrained=True)
    assert conv.in_channels == 1
    torch.testing.assert_close(conv.weight, rgb.sum(1, keepdim=True))


@pytest.mark.parametrize("n", [2, 4, 6, 7])
def test_more_channels_repeat_rgb_and_rescale(n: int) -> None:
    conv = _rgb_conv()
    rgb = conv.weight.detach().clone()
    patch_first_conv(conv, n, pretrained=True)
    assert conv.weight.shape == (4, n, 3, 3)
    for i in range(n):
        torch.testing.assert_close(conv.weight[:, i], rgb[:, i % 3] * 3 / n)
    # an image repeated RGBRGB... gives the same response as the RGB image
    x = torch.randn(1, 3, 8, 8)
    if n % 3 == 0:
        tiled = x.repeat(1, n // 3, 1, 1)
        torch.testing.assert_close(conv(tiled), nn.functional.conv2d(x, rgb), rtol=1e-5, atol=1e-5)


def test_without_weights_the_stem_is_reinitialised() -> None:
    conv = _rgb_conv()
    patch_first_conv(conv, 5, pretrained=False)
    assert conv.weight.shape == (4, 5, 3, 3)
    assert conv(torch.randn(1, 5, 6, 6)).shape == (1, 4, 4, 4)


def test_grouped_stem_is_rejected() -> None:
    with pytest.raises(ConfigError, match="grouped stem"):
        patch_first_conv(nn.Conv2d(3, 3, 3, groups=3), 4)


def test_set_in_channels_on_an_encoder_updates_contract() -> None:
    enc = BasicCNNEncoder(depth=3)
    enc.set_in_channels(4, pretrained=False)
    assert enc.in_channels == 4 and enc.out_channels[0] == 4
    assert enc(torch.randn(1, 4, 32, 32))[-1].shape == (1, 64, 4, 4)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_set_in_channels_rejects_bad_values(bad) -> None:
    with pytest.raises(ConfigError, match="in_channels must be an int >= 1"):
        BasicCNNEncoder(depth=2).set_in_channels(bad)


class _Minimal(nn.Module, EncoderMixin):
    def __init__(self, out_channels, depth, reductions=None) -> None:
        super().__init__()
        self._out_channels = out_channels
        self._depth = depth
        self._reductions = reductions
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)

    def forward(self, x):
        return [x, self.conv(x)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"out_channels": [3, 8], "depth": 3}, "depth 3 needs 4 entries in `_out_channels`"),
        ({"out_channels": [3, -1], "depth": 1}, "non-negative ints"),
        ({"out_channels": [3, 8], "depth": 0}, "positive int"),
        ({"out_channels": [3, 8, 8], "depth": 2, "reductions": [1, 2, 3]}, "multiple of the previous"),
        ({"out_channels": [3, 8], "depth": 1, "reductions": [2, 4]}, "level 0 is the input"),
    ],
)
def test_validate_encoder_messages(kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        _Minimal(**kwargs).validate_encoder()


def test_properties_and_capabilities() -> None:
    enc = _Minimal([3, 8], 1)
    enc.validate_encoder()
    assert enc.reductions == [1, 2] and enc.output_stride == 2 and enc.depth == 1
    caps = enc.capabilities
    assert caps.out_channels == (3, 8) and caps.spatial_dims == 2 and caps.supports_dilation


def test_get_stages_not_implemented_message() -> None:
    enc = _Minimal([3, 8, 8, 8, 8, 8], 5)
    with pytest.raises(NotImplementedError, match="does not implement get_stages"):
        enc.make_dilated(16)


@pytest.mark.parametrize("stride", [16, 8])
def test_make_dilated_keeps_resolution(stride: int) -> None:
    enc = BasicCNNEncoder(depth=5, output_stride=stride)
    assert enc.output_stride == stride
    assert enc.reductions == [min(2**i, stride) for i in range(6)]
    feats = enc(torch.randn(1, 3, 64, 64))
    assert feats[-1].shape[-1] == 64 // stride
    dilations = [m.dilation for m in enc.stages[-1].modules() if isinstance(m, nn.Conv2d)]
    assert all(d == (32 // stride,) * 2 for d in dilations)


def test_make_dilated_rejects_other_strides() -> None:
    with pytest.raises(ConfigError, match="output_stride must be 8, 16 or 32"):
        BasicCNNEncoder(depth=5).make_dilated(4)


def test_make_dilated_rejects_pooling_stages() -> None:
    class Pooled(BasicCNNEncoder):
        def get_stages(self):
            return {32: [nn.Sequential(nn.MaxPool2d(2))]}

    with pytest.raises(ConfigError, match="downsamples with MaxPool2d; this encoder cannot be dilated"):
        Pooled(depth=5).make_dilated(16)


def test_basic_cnn_anisotropic_3d() -> None:
    enc = BasicCNNEncoder(depth=3, spatial_dims=3, strides=[(1, 2, 2), 2, (2, 2, 1)])
    assert enc.axis_reductions == [(1, 1, 1), (1, 2, 2), (2, 4, 4), (4, 8, 4)]
    feats = enc(torch.randn(1, 3, 8, 16, 16))
    assert [tuple(f.shape[2:]) for f in feats] == [(8, 16, 16), (8, 8, 8), (4, 4, 4), (2, 2, 4)]


def test_basic_cnn_errors() -> None:
    with pytest.raises(ConfigError, match="depth must be in 1..5"):
        BasicCNNEncoder(depth=6)
    with pytest.raises(ConfigError, match="one entry per level"):
        BasicCNNEncoder(depth=2, strides=[2])
    with pytest.raises(ConfigError, match="no published pretrained weights"):
        BasicCNNEncoder(weights="imagenet")


def test_basic_cnn_loads_local_weights_and_adapts_stem(tmp_path) -> None:
    from seg_core._safetensors import save_bytes

    source = BasicCNNEncoder(depth=2)
    path = tmp_path / "enc.safetensors"
    path.write_bytes(save_bytes(source.state_dict()))
    same = BasicCNNEncoder(depth=2, weights=path)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(same.state_dict()[key], value)
    gray = BasicCNNEncoder(depth=2, weights=path, in_channels=1)
    stem = source.stages[0][0].weight.detach()
    torch.testing.assert_close(gray.stages[0][0].weight, stem.sum(1, keepdim=True))
