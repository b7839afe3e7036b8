"""``checkpointing=True`` on a model: encoder levels and decoder blocks recomputed, nothing else changes."""

from __future__ import annotations

import copy

import pytest
import torch

import seg_core
from seg_core.errors import ConfigError

STRIDES = [(1, 2, 2), (2, 2, 2), (2, 2, 2)]


def _model(checkpointing: bool, arch: str = "unet") -> torch.nn.Module:
    torch.manual_seed(0)
    return seg_core.create_model(
        arch, encoder_name="resnet18_3d", encoder_depth=3, encoder_strides=STRIDES, decoder_channels=[32, 16, 8],
        in_channels=1, classes=2, checkpointing=checkpointing,
    )  # fmt: skip


@pytest.mark.parametrize("arch", ["unet", "manet"])
def test_outputs_gradients_and_norm_statistics_are_unchanged(arch: str) -> None:
    plain, checked = _model(False, arch), _model(True, arch)
    assert checked.encoder.checkpointing and checked.decoder.checkpointing
    assert not plain.encoder.checkpointing and not plain.decoder.checkpointing
    x, y = torch.randn(2, 1, 8, 32, 32), torch.randint(0, 2, (2, 8, 32, 32))
    for model in (plain, checked):
        torch.nn.functional.cross_entropy(model.train()(x), y).backward()
    for (name, a), (_, b) in zip(plain.named_parameters(), checked.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
    for (name, a), (_, b) in zip(plain.named_buffers(), checked.named_buffers()):
        torch.testing.assert_close(a, b, msg=name)  # running statistics moved once, not twice
    with torch.no_grad():
        torch.testing.assert_close(plain.eval()(x), checked.eval()(x))


def test_set_checkpointing_switches_and_refuses_where_nothing_supports_it() -> None:
    model = _model(False)
    assert model.set_checkpointing(True) == ["encoder", "decoder"]
    assert model.encoder.checkpointing and model.decoder.checkpointing
    model.set_checkpointing(False)
    assert not model.encoder.checkpointing and not model.decoder.checkpointing
    copy.deepcopy(model)  # still a plain module
    with pytest.raises(ConfigError, match="has no stage that supports checkpointing"):
        seg_core.create_model("fpn", encoder_name="basic_cnn", checkpointing=True)
