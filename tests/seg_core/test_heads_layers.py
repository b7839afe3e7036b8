from __future__ import annotations

import pytest
import torch
from torch import nn

from seg_core.activations import get_activation
from seg_core.errors import ConfigError
from seg_core.heads import ClassificationHead, SegmentationHead
from seg_core.layers import LayerNormNd, get_norm, interpolation_mode


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, nn.Identity),
        ("identity", nn.Identity),
        ("sigmoid", nn.Sigmoid),
        ("softmax", nn.Softmax),
        ("logsoftmax", nn.LogSoftmax),
        (nn.Tanh, nn.Tanh),
    ],
)
def test_activation_by_name_or_class(spec, expected) -> None:
    assert isinstance(get_activation(spec), expected)


def test_activation_instance_and_function() -> None:
    inst = nn.Sigmoid()
    assert get_activation(inst) is inst  # smp calls instances with no arguments and fails
    fn = get_activation(torch.sigmoid)
    torch.testing.assert_close(fn(torch.zeros(1)), torch.full((1,), 0.5))
    softmax = get_activation("softmax")
    assert torch.allclose(softmax(torch.randn(2, 4, 3, 3)).sum(1), torch.ones(2, 3, 3))
    assert get_activation("argmax")(torch.randn(2, 4, 3, 3)).shape == (2, 3, 3)


@pytest.mark.parametrize("bad", ["gelu2", 3, dict])
def test_activation_errors(bad) -> None:
    with pytest.raises(ConfigError):
        get_activation(bad)


@pytest.mark.parametrize("norm", ["batchnorm", "groupnorm", "layernorm", "instancenorm", "identity", True, False, None])
@pytest.mark.parametrize("dims", [2, 3])
def test_every_norm_runs_forward_backward(norm, dims) -> None:
    layer = get_norm(norm, 32, dims)
    x = torch.randn(2, 32, *([4] * dims), requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None


def test_layernorm_normalises_channels_of_nchw() -> None:
    x = torch.randn(2, 6, 5, 7)
    ours = LayerNormNd(6)(x)
    ref = nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,), eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(ours, ref)


def test_norm_errors() -> None:
    with pytest.raises(
        ConfigError, match="groupnorm with num_groups=32 needs a channel count divisible by it, got 100"
    ):
        get_norm("groupnorm", 100)
    assert isinstance(get_norm({"type": "groupnorm", "num_groups": 4}, 100), nn.GroupNorm)
    with pytest.raises(ConfigError, match="unknown norm 'batchnorm2'"):
        get_norm("batchnorm2", 8)
    with pytest.raises(ConfigError, match="needs a 'type' key"):
        get_norm({"num_groups": 4}, 8)
    assert get_norm("instancenorm", 8).affine  # smp's non-affine default crashes at init


def test_interpolation_modes() -> None:
    assert interpolation_mode("bilinear", 3) == "trilinear"
    assert interpolation_mode("trilinear", 2) == "bilinear"
    with pytest.raises(ConfigError, match="bicubic' works only in 2D"):
        interpolation_mode("bicubic", 3)
    with pytest.raises(ConfigError, match="unknown interpolation mode 'cubic'"):
        interpolation_mode("cubic", 2)


def test_segmentation_head_layout_and_upsampling() -> None:
    head = SegmentationHead(8, 3, activation="sigmoid", upsampling=4)
    assert list(head.state_dict()) == ["0.weight", "0.bias"]  # smp's key layout
    out = head(torch.randn(1, 8, 8, 8))
    assert out.shape == (1, 3, 32, 32) and float(out.min()) >= 0
    head3d = SegmentationHead(8, 2, upsampling=(1, 2, 2), spatial_dims=3)
    assert head3d(torch.randn(1, 8, 4, 4, 4)).shape == (1, 2, 4, 8, 8)
    with pytest.raises(ConfigError, match="classes must be >= 1"):
        SegmentationHead(8, 0)


def test_classification_head() -> None:
    head = ClassificationHead(16, 4, pooling="max", dropout=0.5)
    assert head(torch.randn(2, 16, 3, 3)).shape == (2, 4)
    assert "3.weight" in head.state_dict()  # smp's key layout
    with pytest.raises(ConfigError, match="dropout must be in"):
        ClassificationHead(16, 4, dropout=1.5)
