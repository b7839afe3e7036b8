"""seg-core + seg-decoders alone: no timm/torchvision, a user-defined encoder drives a decoder."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

import seg_core
from seg_core import EncoderMixin


def test_heavy_optional_dependencies_are_absent() -> None:
    for name in ("timm", "torchvision", "huggingface_hub"):
        assert importlib.util.find_spec(name) is None, f"{name} must not be installed in the slim session"


class UserEncoder(nn.Module, EncoderMixin):
    """What a user writes: three strided convs, the EncoderMixin attributes, nothing else."""

    def __init__(self, *, in_channels: int = 3, depth: int = 3, weights=None, output_stride=None) -> None:
        super().__init__()
        if depth != 3:
            raise seg_core.ConfigError(f"UserEncoder supports depth 3 only, got {depth}")
        self._out_channels = [in_channels, 8, 16, 24]
        self._depth = 3
        self._in_channels = in_channels
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cin, cout, 3, stride=2, padding=1), nn.ReLU())
            for cin, cout in zip(self._out_channels[:-1], self._out_channels[1:])
        )
        if output_stride is not None:
            self.make_dilated(output_stride)  # DeepLab/PAN ask for one; EncoderMixin does the work

    def get_stages(self):
        return {2 ** (i + 1): [conv] for i, conv in enumerate(self.convs)}

    def forward(self, x):
        features = [x]
        for conv in self.convs:
            features.append(conv(features[-1]))
        return features


@pytest.fixture
def user_encoder():
    reg = seg_core.get_registry("encoders")
    reg.add("user_encoder", UserEncoder, override=True)
    yield "user_encoder"
    reg.remove("user_encoder")


def test_user_encoder_with_every_architecture(user_encoder) -> None:
    architectures = seg_core.list_architectures()
    assert "unet" in architectures
    for arch in architectures:
        if arch == "enet":  # keeps its own backbone, and says so
            with pytest.raises(seg_core.ConfigError, match="ENet has its own encoder"):
                seg_core.create_model(arch, encoder_name=user_encoder)
            continue
        model = seg_core.create_model(arch, encoder_name=user_encoder, encoder_depth=3, classes=2)
        x = torch.randn(1, 3, 64, 64)
        out = model.predict(x)
        assert out.shape == (1, 2, 64, 64), arch
