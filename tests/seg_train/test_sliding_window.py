"""Sliding-window inference: MONAI's numbers, full-image equality, batch-size invariance, streamed labels."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from monai.inferers import sliding_window_inference as monai_sliding_window
from torch import nn

from seg_core.errors import ConfigError, InputShapeError
from seg_train.inference import importance_map, plan_windows, sliding_window_inference
from seg_train.inference.windows import CellGrid, window_starts


def _model(dims: int, classes: int = 5) -> nn.Module:
    torch.manual_seed(0)
    conv = {2: nn.Conv2d, 3: nn.Conv3d}[dims]
    return nn.Sequential(conv(2, 6, 3, padding=1), nn.ReLU(), conv(6, classes, 1)).eval()


def _monai(x, model, window, **kwargs):
    batch = kwargs.pop("batch_size", 1)
    with torch.no_grad():
        return monai_sliding_window(x, window, batch, model, **kwargs)


@pytest.mark.parametrize(
    ("size", "window", "overlap", "starts"),
    [
        (110, 64, 0.5, [0, 32, 46]),
        (110, 64, 0.25, [0, 46]),
        (100, 64, 0.75, [0, 16, 32, 36]),
        (200, 96, 0.5, [0, 48, 96, 104]),
        (512, 128, 0.25, [0, 96, 192, 288, 384]),
        (96, 64, 0.0, [0, 32]),
        (128, 128, 0.5, [0]),
        (7, 3, 0.5, [0, 1, 2, 3, 4]),
        (80 * 3, 80, 0.8, [0, 15, 30, 45, 60, 75, 90, 105, 120, 135, 150, 160]),  # int(80 * 0.2) == 15 in float64
    ],
)
def test_window_starts_are_monais(size, window, overlap, starts) -> None:
    assert window_starts(size, window, overlap) == starts


def test_gaussian_weights_are_the_closed_form_with_monais_floor() -> None:
    torch.testing.assert_close(
        importance_map((4,), "gaussian"), torch.tensor([0.0111, 0.6065, 0.6065, 0.0111]), atol=1e-4, rtol=0
    )
    big = importance_map((64, 64), "gaussian")
    assert big.min().item() == pytest.approx(1e-3) and big.max() < 1
    from monai.data.utils import compute_importance_map

    torch.testing.assert_close(
        importance_map((9, 12, 7), "gaussian", 0.3), compute_importance_map((9, 12, 7), "gaussian", 0.3)
    )


CASES = [
    ((2, 2, 37, 30), (16, 20), 0.5),
    ((1, 2, 50, 41), (32, 32), (0.25, 0.6)),
    ((2, 2, 21, 18, 17), (8, 12, 8), 0.5),
    ((1, 2, 10, 12, 9), (16, 8, 16), 0.25),  # padded on two axes
]


@pytest.mark.parametrize(("shape", "window", "overlap"), CASES)
@pytest.mark.parametrize("mode", ["constant", "gaussian"])
def test_logits_equal_monai(shape, window, overlap, mode) -> None:
    x = torch.randn(*shape)
    model = _model(len(shape) - 2)
    for batch_size in (1, 4):
        ours = sliding_window_inference(
            x, model, window, overlap=overlap, mode=mode, sigma_scale=0.2, batch_size=batch_size, padding_value=-1.0
        )
        theirs = _monai(x, model, window, overlap=overlap, mode=mode, sigma_scale=0.2, batch_size=batch_size, cval=-1.0)
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["constant", "gaussian"])
@pytest.mark.parametrize("dims", [2, 3])
def test_one_window_covering_the_image_is_a_full_forward(mode, dims) -> None:
    x = torch.randn(1, 2, *([13] * dims))
    model = _model(dims)
    with torch.no_grad():
        full = model(x)
    torch.testing.assert_close(sliding_window_inference(x, model, 13, overlap=0.5, mode=mode), full, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("shape", "window", "overlap"), CASES)
def test_batch_size_does_not_change_anything(shape, window, overlap) -> None:
    x = torch.randn(*shape)
    model = _model(len(shape) - 2)
    results = [
        sliding_window_inference(x, model, window, overlap=overlap, mode="gaussian", batch_size=b) for b in (1, 3, 64)
    ]
    for result in results[1:]:
        torch.testing.assert_close(result, results[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize(("shape", "window", "overlap"), CASES)
@pytest.mark.parametrize("mode", ["constant", "gaussian"])
def test_streamed_labels_are_the_argmax_of_the_logits(shape, window, overlap, mode) -> None:
    x = torch.randn(*shape)
    model = _model(len(shape) - 2)
    logits = sliding_window_inference(x, model, window, overlap=overlap, mode=mode)
    for batch_size in (1, 5):
        labels = sliding_window_inference(
            x, model, window, overlap=overlap, mode=mode, output="labels", batch_size=batch_size
        )
        assert labels.dtype == torch.uint8 and labels.shape == logits.argmax(1).shape
        assert torch.equal(labels.long(), logits.argmax(1))


def test_probabilities_and_sigmoid_labels() -> None:
    x = torch.randn(1, 2, 30, 30)
    model = _model(2, classes=3)
    logits = sliding_window_inference(x, model, 16, overlap=0.5)
    torch.testing.assert_close(
        sliding_window_inference(x, model, 16, overlap=0.5, output="probabilities"), logits.softmax(1)
    )
    sig = sliding_window_inference(x, model, 16, overlap=0.5, output="labels", activation="sigmoid")
    assert sig.shape == logits.shape and torch.equal(sig.bool(), logits > 0)


def test_labels_above_256_classes_are_int64_and_sigmoid_labels_crop_the_padding() -> None:
    x = torch.randn(2, 2, 13, 22)
    model = _model(2, classes=300)
    logits = sliding_window_inference(x, model, (16, 8), overlap=0.5)
    labels = sliding_window_inference(x, model, (16, 8), overlap=0.5, output="labels", batch_size=3)
    assert labels.dtype == torch.int64 and torch.equal(labels, logits.argmax(1))
    sig = sliding_window_inference(x, model, (16, 8), overlap=0.5, output="labels", activation="sigmoid")
    assert sig.shape == logits.shape and torch.equal(sig.bool(), logits > 0)


def _coverage(plan) -> torch.Tensor:
    count = torch.zeros(plan.padded_size, dtype=torch.int64)
    for w in plan.windows():
        count[w] += 1
    return count


@pytest.mark.parametrize(
    ("size", "window", "overlap"),
    [((192, 192, 192), 96, 0.5), ((110, 64), 64, 0.5), ((37, 50, 29), (16, 20, 8), (0.25, 0.6, 0.5)), ((7,), 3, 0.5)],
)
def test_cell_grid_counts_and_the_streamed_peak(size, window, overlap) -> None:
    """Every cell's window count equals the per-position coverage, and the peak of live cells, found
    by replaying the windows position by position, is what `CellGrid.peak_live` says and at most
    one window-deep slab."""
    plan = plan_windows(size, window, overlap)
    grid = CellGrid.of(plan)
    coverage = _coverage(plan)
    for cell in itertools.product(*(range(len(axis) - 1) for axis in grid.edges)):
        region = coverage[grid.bounds(cell)]
        assert region.numel() > 0 and bool((region == grid.windows_covering(cell)).all())
    seen = torch.zeros(plan.padded_size, dtype=torch.int64)
    peak = 0
    for w in plan.windows():
        seen[w] += 1
        live_after_alloc = int(((seen > 0) & ((seen < coverage) | _covers(w, plan.padded_size))).sum())
        peak = max(peak, live_after_alloc)
    slab = plan.window_size[0] * math.prod(plan.padded_size[1:])
    assert grid.peak_live(plan.windows()) == peak <= slab


def _covers(window, size) -> torch.Tensor:
    mask = torch.zeros(size, dtype=torch.bool)
    mask[window] = True
    return mask


class _WithAux(nn.Module):
    def __init__(self, as_dict: bool) -> None:
        super().__init__()
        self.main, self.aux, self.as_dict = _model(2, 4), _model(2, 2), as_dict

    def forward(self, x):
        return {"out": self.main(x), "aux": self.aux(x)} if self.as_dict else (self.main(x), self.aux(x))


@pytest.mark.parametrize("as_dict", [True, False])
def test_tuple_and_dict_outputs_pick_one(as_dict) -> None:
    x = torch.randn(1, 2, 33, 29)
    model = _WithAux(as_dict)
    main = sliding_window_inference(x, model, 16, overlap=0.5, mode="gaussian")
    torch.testing.assert_close(main, sliding_window_inference(x, model.main, 16, overlap=0.5, mode="gaussian"))
    aux = sliding_window_inference(x, model, 16, overlap=0.5, output_key="aux" if as_dict else 1)
    assert aux.shape[1] == 2
    with pytest.raises(ConfigError, match="output_key"):
        sliding_window_inference(x, model, 16, output_key="nope" if as_dict else 5)


def test_accumulator_dtype_and_devices() -> None:
    x = torch.randn(1, 2, 40, 40)
    model = _model(2)
    logits = sliding_window_inference(x, model, 16, overlap=0.5, mode="gaussian")
    half = sliding_window_inference(x, model, 16, overlap=0.5, mode="gaussian", dtype=torch.bfloat16)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), logits, atol=0.05, rtol=0.05)
    moved = sliding_window_inference(x, model, 16, overlap=0.5, device="cpu", window_device="cpu")
    assert moved.device.type == "cpu"


@pytest.mark.parametrize("padding_mode", ["constant", "reflect", "replicate", "circular"])
def test_padding_modes_match_monai(padding_mode) -> None:
    x = torch.randn(1, 2, 10, 11)
    model = _model(2)
    ours = sliding_window_inference(x, model, (16, 16), padding_mode=padding_mode)
    theirs = _monai(x, model, (16, 16), padding_mode=padding_mode)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_windows_layout_is_complete_and_c_ordered() -> None:
    plan = plan_windows((37, 30), (16, 20), 0.5)
    windows = plan.windows()
    assert windows[0] == (slice(0, 16), slice(0, 20)) and windows[1][0] == slice(0, 16)
    covered = torch.zeros(37, 30)
    for w in windows:
        covered[w] += 1
    assert covered.min() >= 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"overlap": 1.0}, ConfigError, "overlap"),
        ({"mode": "cosine"}, ConfigError, "'constant', 'gaussian'"),
        ({"output": "masks"}, ConfigError, "'logits', 'probabilities', 'labels'"),
        ({"padding_mode": "zeros"}, ConfigError, "'constant', 'reflect'"),
        ({"batch_size": 0}, ConfigError, "batch_size"),
        ({"window_size": (16, 16, 16)}, ConfigError, "2 spatial axes"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match) -> None:
    arguments = {"window_size": 16, **kwargs}
    window = arguments.pop("window_size")
    with pytest.raises(error, match=match):
        sliding_window_inference(torch.randn(1, 2, 20, 20), _model(2), window, **arguments)


def test_bad_inputs_and_outputs_are_named() -> None:
    with pytest.raises(InputShapeError, match="floating-point"):
        sliding_window_inference(torch.zeros(1, 2, 20, 20, dtype=torch.long), _model(2), 16)
    with pytest.raises(InputShapeError, match=r"\(B, C, \*spatial\)"):
        sliding_window_inference(torch.randn(20, 20), _model(2), 16)
    shrinking = nn.Conv2d(2, 3, 3)  # no padding: the output is smaller than the window
    with pytest.raises(InputShapeError, match="window's size"):
        sliding_window_inference(torch.randn(1, 2, 20, 20), shrinking, 16)


@pytest.mark.parametrize(("padding_mode", "largest"), [("reflect", 28), ("circular", 30)])
def test_a_window_too_large_for_the_padding_mode_says_which_would_fit(padding_mode, largest) -> None:
    x = torch.randn(1, 2, 10, 10)
    with pytest.raises(ConfigError, match=f"larger than the image \\(10\\).*window <= {largest}"):
        sliding_window_inference(x, _model(2), 40, padding_mode=padding_mode)
    sliding_window_inference(x, _model(2), largest, padding_mode=padding_mode)  # the largest that fits works
