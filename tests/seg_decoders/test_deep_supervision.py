"""Deep supervision: Unet's decoder stages get 1x1 heads; extra outputs in training mode only."""

from __future__ import annotations

import pytest
import torch

import seg_core
from seg_core.errors import ConfigError


@pytest.mark.parametrize("dims", [2, 3])
def test_unet_returns_the_stage_logits_in_training_mode(dims: int) -> None:
    shape = (1, 1, *([16] * dims))
    model = seg_core.create_model(
        "unet", in_channels=1, classes=3, encoder_depth=3, decoder_channels=[16, 8, 4], deep_supervision=True,
        encoder_params={"spatial_dims": dims},
    )  # fmt: skip
    x = torch.randn(*shape)
    out = model.train()(x)
    assert set(out) == {"out", "deep_supervision"}
    assert out["out"].shape == (1, 3, *([16] * dims))
    # two extra stages (all blocks but the last), finest first: reductions 2 and 4
    assert [tuple(t.shape) for t in out["deep_supervision"]] == [(1, 3, *([8] * dims)), (1, 3, *([4] * dims))]
    sum(t.sum() for t in [out["out"], *out["deep_supervision"]]).backward()
    assert all(h.weight.grad is not None for h in model.deep_supervision_heads)
    model.eval()
    with torch.no_grad():
        plain = model(x)
        assert isinstance(plain, torch.Tensor) and torch.equal(plain, model.predict(x))
        model.return_aux = True
        again = model(x)
    assert torch.equal(again["out"], plain)  # the main output does not depend on the extras


def test_stage_heads_follow_anisotropic_strides() -> None:
    model = seg_core.create_model(
        "unet", in_channels=1, classes=2, encoder_depth=3, decoder_channels=[16, 8, 4], deep_supervision=True,
        encoder_strides=[(1, 2, 2), (2, 2, 2), (2, 2, 2)], encoder_params={"spatial_dims": 3},
    )  # fmt: skip
    out = model.train()(torch.randn(1, 1, 8, 32, 32))
    assert [tuple(t.shape[2:]) for t in out["deep_supervision"]] == [(8, 16, 16), (4, 8, 8)]


def test_architectures_without_stage_outputs_say_so() -> None:
    with pytest.raises(ConfigError, match="FPN has no decoder stage outputs for deep_supervision=True"):
        seg_core.create_model("fpn", deep_supervision=True)
    with pytest.raises(ConfigError, match="deep_supervision must be True or False"):
        seg_core.create_model("unet", deep_supervision="yes")
