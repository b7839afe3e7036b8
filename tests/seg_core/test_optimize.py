"""optimize_for_inference: BatchNorm folding found from the executed graph, layouts, dtypes, quantization."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import seg_core
from seg_core.errors import ConfigError
from seg_core.optimize import optimize_for_inference


def _randomise(model: nn.Module) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, so a wrong fold changes the output."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=gen))
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(n, generator=gen))
    return model.eval()


class _BatchNormAct(nn.BatchNorm2d):
    """Like timm's BatchNormAct2d: normalises, then an activation inside the same module."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(super().forward(x))


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.plain = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.shared_conv = nn.Conv2d(8, 8, 3, padding=1)
        self.shared_bn = nn.BatchNorm2d(8)  # its conv's output is also added back: must not fold
        self.act_conv = nn.Conv2d(8, 8, 1)
        self.act_bn = _BatchNormAct(8)  # does more than normalise: must not fold
        self.after_add = nn.BatchNorm2d(8)  # fed by an addition, not a convolution
        self.no_stats = nn.BatchNorm2d(8, track_running_stats=False)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.up_bn = nn.BatchNorm2d(4)
        self.unused = nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.plain(x)
        y = self.shared_conv(x)
        x = self.shared_bn(y) + y
        x = self.act_bn(self.act_conv(x))
        x = self.after_add(x + 1.0)
        x = self.no_stats(x)
        return self.up_bn(self.up(x))


def test_folds_exactly_the_safe_pairs_and_matches_eager() -> None:
    torch.manual_seed(0)
    model = _randomise(_Net())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)
    fast = optimize_for_inference(model, example_input=x)
    report = fast.optimization_report
    assert report.folded == [("plain.0", "plain.1"), ("up", "up_bn")]
    assert set(report.not_folded) == {"shared_bn", "act_bn", "after_add", "no_stats", "unused"}
    assert "also used elsewhere" in report.not_folded["shared_bn"]
    assert "more than normalise" in report.not_folded["act_bn"]
    assert "not the output of one convolution" in report.not_folded["after_add"]
    assert isinstance(model.plain[1], nn.BatchNorm2d)  # the original is untouched (a copy was optimized)
    with torch.no_grad():
        got = fast(x)
    assert got.is_contiguous() and got.dtype == expected.dtype
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert not any(p.requires_grad for p in fast.parameters())


def test_a_wrong_fold_would_be_caught() -> None:
    """Folding shared_bn by hand changes the output: the test above is not vacuous."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model = _randomise(_Net())
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)
        model.shared_conv = fuse_conv_bn_eval(model.shared_conv, model.shared_bn)
        model.shared_bn = nn.Identity()  # type: ignore[assignment]
        assert not torch.allclose(model(x), expected, atol=1e-3)


@pytest.mark.parametrize("dims", [2, 3])
def test_basic_cnn_encoder_in_2d_and_3d(dims: int) -> None:
    encoder = _randomise(seg_core.create_encoder("basic_cnn", depth=3, spatial_dims=dims, widths=[4, 8, 8]))
    x = torch.randn(1, 3, *([16] * dims))

    class Deepest(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, inp: torch.Tensor) -> torch.Tensor:
            return self.encoder(inp)[-1]

    model = Deepest().eval()
    fast = optimize_for_inference(model, example_input=x)
    assert len(fast.optimization_report.folded) == 6 and fast.optimization_report.channels_last  # 2 per level
    with torch.no_grad():
        torch.testing.assert_close(fast(x), model(x), atol=1e-4, rtol=1e-4)


def test_bfloat16_reports_its_deviation() -> None:
    model = _randomise(_Net())
    x = torch.randn(2, 3, 16, 16)
    fast = optimize_for_inference(model, example_input=x, dtype=torch.bfloat16)
    report = fast.optimization_report
    assert report.dtype == "bfloat16" and 0 < report.max_deviation < 0.5
    with torch.no_grad():
        assert fast(x).dtype == torch.float32
    with pytest.raises(ConfigError, match="floating torch dtype"):
        optimize_for_inference(model, dtype=torch.int8)


def test_dynamic_quantization_of_linear_layers() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 4)).eval()
    x = torch.randn(2, 3, 4, 4)
    fast = optimize_for_inference(model, example_input=x, quantize=True)
    report = fast.optimization_report
    assert report.quantized == ["1", "3"] and 0 < report.max_deviation < 0.1
    assert "quantized" in type(fast.model[1]).__module__
