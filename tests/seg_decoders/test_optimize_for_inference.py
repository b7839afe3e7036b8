"""seg_core.optimize_for_inference on every architecture: folded, channels-last, equal to eager within 1e-4."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import seg_core

from ._common import ARCHS, TINY_3D, build


def _randomise(model: nn.Module) -> nn.Module:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.5)
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                if module.affine:
                    module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                    module.bias.copy_(torch.randn(n, generator=gen) * 0.5)
    return model.eval()


@pytest.mark.parametrize("arch", ARCHS)
def test_equal_to_eager_2d(arch: str) -> None:
    torch.manual_seed(0)
    model = _randomise(build(arch, 5 if arch != "enet" else 3, classes=3))
    fast = seg_core.optimize_for_inference(model)
    report = fast.optimization_report
    assert report.folded, report  # every architecture has conv -> BatchNorm pairs
    x = torch.randn(2, 3, *[max(s, m) for s, m in zip((64, 96), model.min_input_size)])  # PAN: >= 128
    with torch.no_grad():
        expected = model(x)
        got = fast(x)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", ["unet", "fpn", "deeplabv3plus", "segformer"])
def test_equal_to_eager_3d(arch: str) -> None:
    model = _randomise(build(arch, 3, TINY_3D, classes=2))
    fast = seg_core.optimize_for_inference(model)
    assert fast.optimization_report.channels_last and fast.optimization_report.folded
    x = torch.randn(1, 3, 16, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), atol=1e-4, rtol=1e-4)


def test_the_original_is_untouched_and_inplace_is_available() -> None:
    model = _randomise(build("unet", 3))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    seg_core.optimize_for_inference(model)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    same = seg_core.optimize_for_inference(model, inplace=True, channels_last=False)
    assert same is model and not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
