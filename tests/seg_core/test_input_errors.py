"""Model inputs get seg's errors, early: dtypes, numpy arrays, layouts before padding, encoder names and options."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import nn

import seg_core
from seg_core.errors import ConfigError, InputShapeError
from seg_core.model import SegmentationModel

from ._tiny_arch import TinyArch


class _Pick(nn.Module):
    """A decoder: a 1x1 convolution on one pyramid level."""

    def __init__(self, channels: int, level: int) -> None:
        super().__init__()
        self.conv, self.level = nn.Conv2d(channels, 8, 1), level

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.conv(features[self.level])  # type: ignore[no-any-return]


class _LevelArch(SegmentationModel):
    """The shared arguments and heads of real architectures, around the smallest decoder."""

    def __init__(self, encoder_name: str = "basic_cnn", *, output_level: int = 2, **kwargs: Any) -> None:
        super().__init__()
        encoder = self.build_encoder(encoder_name, kwargs)
        self.decoder = _Pick(encoder.out_channels[output_level], output_level)
        self.build_heads(8, kernel_size=1, output_level=output_level)
        self.initialize()


@pytest.fixture
def model() -> TinyArch:
    return TinyArch(encoder_depth=3).eval()


# -- dtypes ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_floating_dtype_other_than_the_weights_is_named(model: TinyArch, dtype: torch.dtype) -> None:
    with pytest.raises(InputShapeError, match=rf"dtype {dtype} but the model's weights are torch.float32") as err:
        model(torch.randn(1, 3, 32, 32, dtype=dtype))
    assert "x.to(torch.float32)" in str(err.value)
    if dtype != torch.float64:
        assert "torch.autocast" in str(err.value)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_integer_and_bool_images_are_rejected(model: TinyArch, dtype: torch.dtype) -> None:
    x = torch.zeros(1, 3, 32, 32, dtype=dtype)
    with pytest.raises(InputShapeError, match=rf"dtype {dtype} but the model computes in torch.float32"):
        model(x)
    with pytest.raises(InputShapeError, match="floating point"):
        model.predict(x, pad=True)


def test_lower_precision_is_allowed_under_autocast(model: TinyArch) -> None:
    x = torch.randn(1, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        assert model(x.bfloat16()).shape == (1, 1, 32, 32)
        assert model(x).shape == (1, 1, 32, 32)


def test_a_converted_model_takes_its_own_dtype(model: TinyArch) -> None:
    model.double()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(InputShapeError, match="model's weights are torch.float64"):
        model(torch.randn(1, 3, 32, 32))


# -- numpy and non-tensor inputs ---------------------------------------------------------------------------
def test_predict_converts_numpy_arrays(model: TinyArch) -> None:
    np = pytest.importorskip("numpy")
    array = np.random.default_rng(0).random((1, 3, 30, 45))  # float64, and not a valid size
    out = model.predict(array, pad=True)
    assert isinstance(out, torch.Tensor) and out.shape == (1, 1, 30, 45) and out.dtype == torch.float32
    expected = model.predict(torch.from_numpy(array).float(), pad=True)
    assert torch.allclose(out, expected)
    flipped = np.zeros((1, 3, 32, 32), dtype=np.float32)[..., ::-1]  # negative strides
    assert model.predict(flipped).shape == (1, 1, 32, 32)


def test_numpy_arrays_are_checked_like_tensors(model: TinyArch) -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(InputShapeError, match=r"got shape \(32, 32, 3\).*channels-last.*transpose\(2, 0, 1\)"):
        model.predict(np.zeros((32, 32, 3), dtype=np.float32))
    with pytest.raises(InputShapeError, match="dtype torch.uint8.*x.float\\(\\) / 255"):
        model.predict(np.zeros((1, 3, 32, 32), dtype=np.uint8))
    with pytest.raises(InputShapeError, match="expected a torch.Tensor input, got ndarray.*predict"):
        model(np.zeros((1, 3, 32, 32), dtype=np.float32))
    with pytest.raises(InputShapeError, match="expected a torch.Tensor input, got list"):
        model.predict([[0.0]])


# -- predict(pad=True) validates the caller's input ---------------------------------------------------------
@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((3, 30, 45), r"expected a 4D input \(N, C, H, W\), got shape \(3, 30, 45\).*unsqueeze\(0\)"),
        ((1, 3, 1, 30, 45), r"got shape \(1, 3, 1, 30, 45\)"),
        ((1, 30, 45, 3), r"input has 30 channels .*\(input shape \(1, 30, 45, 3\)\).*permute\(0, 3, 1, 2\)"),
        ((2, 4, 30, 45), r"input has 4 channels .*in_channels=3 \(input shape \(2, 4, 30, 45\)\)"),
    ],
)
def test_predict_pad_reports_the_callers_shape(model: TinyArch, shape: tuple[int, ...], expected: str) -> None:
    with pytest.raises(InputShapeError, match=expected):
        model.predict(torch.randn(*shape), pad=True)
    model.input_padding = True
    with pytest.raises(InputShapeError, match=expected):
        model(torch.randn(*shape))


def test_fixed_input_size_is_checked_and_padded_to(model: TinyArch) -> None:
    model.encoder._fixed_input_size = (32, 32)
    model.encoder._fixed_input_size_hint = "Pass encoder_params={'size': ...}."
    with pytest.raises(InputShapeError, match=r"height=64, width=64: .*takes only \(32, 32\)\. Pass encoder_params"):
        model(torch.randn(1, 3, 64, 64))
    assert model.predict(torch.randn(1, 3, 20, 27), pad=True).shape == (1, 1, 20, 27)
    with pytest.raises(InputShapeError, match=r"height=40, width=8: .*\(32, 32\) or smaller \(it is padded\)"):
        model.predict(torch.randn(1, 3, 40, 8), pad=True)
    with pytest.raises(InputShapeError, match=r"fixed input size \(32, 32\), got an input of size \(16, 16\)"):
        model.encoder.check_fixed_input_size(torch.randn(1, 3, 16, 16))


# -- encoder names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "shown"),
    [(None, "got None"), ("", "got an empty string"), (" ", "got a blank string"), (3, "got 3 of type int")],
)
def test_missing_or_non_string_encoder_name(name: Any, shown: str) -> None:
    with pytest.raises(ConfigError, match=rf"encoder_name must be the name of a registered encoder.*{shown}"):
        seg_core.create_encoder(name)
    with pytest.raises(ConfigError, match=rf"encoder_name .*{shown}.*list_encoders"):
        TinyArch(encoder_name=name)
    with pytest.raises(ConfigError, match=rf"encoder_name .*{shown}"):
        _LevelArch(name)
    with pytest.raises(ConfigError, match="encoder_name"):
        seg_core.build_encoder(name)


# -- encoder options that build a broken network -----------------------------------------------------------
@pytest.mark.parametrize("widths", [[0, 8, 16], [8, -4, 16], [8, 16, 2.5]])
def test_basic_cnn_rejects_non_positive_widths(widths: list[Any]) -> None:
    with pytest.raises(ConfigError, match=r"basic_cnn widths must be ints >= 1.*encoder_params=\{'widths'"):
        seg_core.create_encoder("basic_cnn", depth=3, widths=widths)
    with pytest.raises(ConfigError, match="widths"):
        TinyArch(encoder_params={"widths": widths})


def test_basic_cnn_s4_ignores_its_unused_first_width() -> None:
    encoder = seg_core.create_encoder("basic_cnn_s4", depth=3, widths=[0, 8, 16])
    assert encoder.out_channels == [3, 0, 8, 16]
    with pytest.raises(ConfigError, match="widths"):
        seg_core.create_encoder("basic_cnn_s4", depth=3, widths=[0, 0, 16])


# -- head_upsampling --------------------------------------------------------------------------------------
def test_explicit_head_upsampling_that_changes_the_output_size_warns_at_the_callers_line() -> None:
    with pytest.warns(UserWarning, match=r"head_upsampling=8 makes the output 2x the input size") as record:
        model = _LevelArch("basic_cnn_s4", encoder_depth=3, head_upsampling=8)  # a TorchSeg port
    assert len(record) == 1
    assert record[0].filename == __file__
    assert "None = automatic" in str(record[0].message)
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 1, 64, 64)
    with pytest.warns(UserWarning, match=r"makes the output \(0.5x, 1x\) the input size") as record:
        _LevelArch(head_upsampling=(2, 4))
    assert record[0].filename == __file__


def test_head_upsampling_that_keeps_the_input_size_is_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _LevelArch("basic_cnn_s4", encoder_depth=3)
        _LevelArch(head_upsampling=4)
        _LevelArch(head_upsampling=(4, 4))


def test_head_upsampling_warning_is_not_repeated_when_loading(fresh_plugins: None, tmp_path: Any) -> None:
    seg_core.get_registry("architectures").add("level_arch", _LevelArch)
    with pytest.warns(UserWarning, match="head_upsampling=2"):
        model = seg_core.create_model("level_arch", head_upsampling=2)
    model.save_pretrained(tmp_path / "run")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        loaded = seg_core.from_pretrained(tmp_path / "run")
    assert loaded.config["head_upsampling"] == 2
