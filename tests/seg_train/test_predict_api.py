"""`predict`: dispatch to forward / sliding window / TTA / both, eval mode, outputs; the CLI parsers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seg_core.errors import ConfigError, InputShapeError
from seg_train.inference import sliding_window_inference
from seg_train.inference.predict import parse_tta, parse_window, predict
from seg_train.inference.tta import PIXSEG_SCALES, TestTimeAugmentation


def _model(classes: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, classes, 1)).eval()


WINDOW = {"window_size": 8, "overlap": 0.5, "mode": "gaussian"}


@pytest.fixture
def x() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(2, 2, 13, 11)


def test_plain_forward(x) -> None:
    model = _model()
    with torch.no_grad():
        logits = model(x)
    torch.testing.assert_close(predict(model, x, output="logits"), logits)
    torch.testing.assert_close(predict(model, x, output="probabilities"), logits.softmax(1))
    torch.testing.assert_close(predict(model, x, output="probabilities", activation="sigmoid"), logits.sigmoid())
    labels = predict(model, x)
    assert labels.shape == (2, 13, 11) and labels.dtype == torch.uint8
    assert torch.equal(labels, logits.argmax(1).to(torch.uint8))
    multilabel = predict(model, x, activation="sigmoid")
    assert multilabel.shape == (2, 3, 13, 11) and multilabel.dtype == torch.uint8
    assert torch.equal(multilabel, (logits > 0).to(torch.uint8))


def test_many_classes_give_int64_labels(x) -> None:
    labels = predict(_model(classes=300), x)
    assert labels.dtype == torch.int64 and labels.shape == (2, 13, 11)


def test_sliding_window(x) -> None:
    model = _model()
    for output in ("logits", "probabilities", "labels"):
        expected = sliding_window_inference(x, model, output=output, **WINDOW)  # type: ignore[arg-type]
        result = predict(model, x, window=WINDOW, output=output)
        assert result.dtype == expected.dtype
        torch.testing.assert_close(result, expected)


@pytest.mark.parametrize("merge", ["mean_probabilities", "mean_logits"])
def test_tta_with_and_without_window(x, merge) -> None:
    model = _model()
    tta = TestTimeAugmentation.standard(2, scales=(0.75, 1.0), merge=merge)
    for output in ("probabilities", "labels"):
        torch.testing.assert_close(predict(model, x, tta=tta, output=output), tta(x, model, output=output))
        torch.testing.assert_close(
            predict(model, x, tta=tta, window=WINDOW, output=output), tta(x, model, window=WINDOW, output=output)
        )
    if merge == "mean_logits":
        torch.testing.assert_close(predict(model, x, tta=tta, output="logits"), tta(x, model, output="logits"))
    else:
        with pytest.raises(ConfigError, match="mean_logits"):
            predict(model, x, tta=tta, output="logits")


def test_output_key(x) -> None:
    model = _model()
    expected = predict(model, x)
    assert torch.equal(predict(lambda t: {"seg": model(t), "aux": t}, x, output_key="seg"), expected)
    assert torch.equal(predict(lambda t: (t, model(t)), x, output_key=1), expected)
    assert torch.equal(predict(lambda t: (model(t), t), x, window=WINDOW), predict(model, x, window=WINDOW))


class _Stochastic(nn.Module):
    """Dropout and BatchNorm: a train-mode forward differs from the eval-mode one."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.norm = nn.BatchNorm2d(3)
        self.drop = nn.Dropout(0.5)
        self.frozen = nn.BatchNorm2d(3)
        self.calls: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(self.training)
        return self.frozen(self.drop(self.norm(self.conv(x))))


def test_eval_mode_is_used_and_every_module_mode_restored(x) -> None:
    model = _Stochastic().train()
    model.frozen.eval()  # a mixed train / eval model
    statistics = model.norm.running_mean.clone()
    result = predict(model, x, output="logits")
    assert model.calls == [False]
    assert model.training and model.norm.training and model.drop.training and not model.frozen.training
    assert torch.equal(model.norm.running_mean, statistics)  # eval mode: no BatchNorm update
    with torch.no_grad():
        expected = model.eval()(x)
    torch.testing.assert_close(result, expected)


def test_mode_restored_after_an_error(x) -> None:
    class Failing(nn.Module):
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    model = Failing().train()
    with pytest.raises(RuntimeError, match="boom"):
        predict(model, x)
    assert model.training


def test_runs_under_inference_mode(x) -> None:
    seen: list[bool] = []

    def model(t: torch.Tensor) -> torch.Tensor:
        seen.append(torch.is_inference_mode_enabled())
        return _model()(t)

    result = predict(model, x.requires_grad_(), output="logits")
    assert seen == [True] and result.is_inference() and not result.requires_grad


def test_bad_arguments(x) -> None:
    model = _model()
    with pytest.raises(ConfigError, match="output="):
        predict(model, x, output="masks")
    with pytest.raises(ConfigError, match="activation="):
        predict(model, x, activation="tanh")
    with pytest.raises(ConfigError, match="must agree"):
        predict(model, x, tta=TestTimeAugmentation(activation="sigmoid"))
    with pytest.raises(ConfigError, match="TestTimeAugmentation"):
        predict(model, x, tta="flip")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="window_size"):
        predict(model, x, window={"overlap": 0.5})
    with pytest.raises(ConfigError, match="on the call itself"):
        predict(model, x, window={"window_size": 8, "activation": "sigmoid"})
    with pytest.raises(InputShapeError):
        predict(model, x[0, 0])
    with pytest.raises(InputShapeError, match="floating"):
        predict(model, x.long())


# --- parse_window ---------------------------------------------------------------------------------


def test_parse_window() -> None:
    assert parse_window("512", 0.25, "constant") == {"window_size": 512, "overlap": 0.25, "mode": "constant"}
    assert parse_window(" 96, 96,64 ", 0.5, "gaussian") == {
        "window_size": (96, 96, 64),
        "overlap": 0.5,
        "mode": "gaussian",
    }
    assert parse_window("96x96x64", 0.5, "gaussian")["window_size"] == (96, 96, 64)  # type: ignore[index]
    for empty in (None, "", "none", "None"):
        assert parse_window(empty, 0.5, "gaussian") is None


@pytest.mark.parametrize(
    ("spec", "overlap", "mode", "match"),
    [
        ("big", 0.5, "constant", "accepted"),
        ("96,,64", 0.5, "constant", "accepted"),
        ("1.5", 0.5, "constant", "accepted"),
        ("0", 0.5, "constant", "positive"),
        ("96,-1", 0.5, "constant", "positive"),
        ("96", 1.0, "constant", "overlap"),
        ("96", -0.1, "constant", "overlap"),
        ("96", 0.5, "cosine", "mode"),
    ],
)
def test_parse_window_errors(spec, overlap, mode, match) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_window(spec, overlap, mode)


# --- parse_tta ------------------------------------------------------------------------------------


def test_parse_tta_keywords() -> None:
    for empty in (None, "", "none", " NONE "):
        assert parse_tta(empty, 2) is None
    flip = parse_tta("flip", 2)
    assert flip == TestTimeAugmentation.standard(2)
    assert parse_tta("flip", 3) == TestTimeAugmentation.standard(3)
    assert len(parse_tta("flip", 3).views()) == 8  # type: ignore[union-attr]
    both = parse_tta("flip,scale", 2)
    assert both == TestTimeAugmentation.standard(2, scales=PIXSEG_SCALES) and len(both.views()) == 20
    assert parse_tta("scale", 3) == TestTimeAugmentation(scales=PIXSEG_SCALES)
    assert parse_tta("rot90", 2) == TestTimeAugmentation(rotations=(0, 1, 2, 3))
    assert parse_tta("hflip", 3) == TestTimeAugmentation(flips=((), (-1,)))
    assert parse_tta(" Flip , ROT90 ", 2) == TestTimeAugmentation.standard(2, rotations=True)
    assert parse_tta("flip", 2, activation="sigmoid").activation == "sigmoid"  # type: ignore[union-attr]


def test_parse_tta_settings() -> None:
    tta = parse_tta("scales=0.75,1.0,1.25;flip", 2)
    assert tta == TestTimeAugmentation.standard(2, scales=(0.75, 1.0, 1.25))
    assert parse_tta("flip=-1", 3) == TestTimeAugmentation(flips=((), (-1,)))
    assert parse_tta("flip=0,2", 3) == TestTimeAugmentation(flips=((), (-3,), (-1,), (-3, -1)))
    assert parse_tta("rotations=0,2; plane=-3,-1", 3) == TestTimeAugmentation(rotations=(0, 2), plane=(-3, -1))
    assert parse_tta("flip; merge=mean_logits; max_batch=2", 2) == TestTimeAugmentation.standard(
        2, merge="mean_logits", max_batch=2
    )
    assert parse_tta("merge=max;scale", 2) == TestTimeAugmentation(scales=PIXSEG_SCALES, merge="max")


@pytest.mark.parametrize(
    ("spec", "dims", "match"),
    [
        ("blur", 2, "unknown keyword 'blur'"),
        ("flip,blur", 2, "unknown keyword"),
        ("size=3", 2, "unknown setting 'size'"),
        ("scales=a,b", 2, "floats"),
        ("scales=0,1", 2, "positive"),
        ("flip;hflip", 2, "second time"),
        ("scale;scales=1.0", 2, "second time"),
        ("merge=median", 2, "merge="),
        ("rot90", 1, "two spatial axes"),
        ("flip=-3", 2, "flip axes"),
        ("flip=-1,1", 2, "flip axes"),
        ("max_batch=0", 2, "max_batch"),
        ("max_batch=1,2", 2, "one int"),
        ("rot90;plane=0,-2", 2, "plane"),
        ("rot90;plane=0,2", 2, "plane"),
        (";", 2, "nothing to augment"),
    ],
)
def test_parse_tta_errors(spec, dims, match) -> None:
    with pytest.raises(ConfigError, match=match) as error:
        parse_tta(spec, dims)
    assert "accepted:" in str(error.value) and "scales=0.75,1.0,1.25;flip" in str(error.value)


def test_parse_tta_spatial_dims() -> None:
    with pytest.raises(ConfigError, match="spatial_dims"):
        parse_tta("flip", 0)


def test_parsed_arguments_run_end_to_end(x) -> None:
    model = _model()
    tta = parse_tta("flip;merge=mean_logits", 2)
    window = parse_window("8", 0.5, "gaussian")
    labels = predict(model, x, tta=tta, window=window)
    assert labels.shape == (2, 13, 11) and labels.dtype == torch.uint8
    assert torch.equal(labels, tta(x, model, window=window, output="labels"))  # type: ignore[misc]
