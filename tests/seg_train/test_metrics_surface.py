"""HausdorffDistance95 against MONAI's compute_hausdorff_distance and a brute-force numpy reference."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.metrics import HausdorffDistanceMetric, compute_hausdorff_distance
from torchmetrics.utilities.data import dim_zero_cat

from seg_core.errors import ConfigError, InputShapeError
from seg_train.metrics.surface import HausdorffDistance95, percentile_hausdorff_distance, surface_voxels

# MONAI warns about every empty mask; the conventions for those are tested explicitly below.
pytestmark = [
    pytest.mark.filterwarnings("ignore:the (ground truth|prediction) of class"),
    pytest.mark.filterwarnings("ignore:monai.metrics.utils get_mask_edges:FutureWarning"),
]


def blobs(gen: torch.Generator, shape: tuple[int, ...], c: int) -> torch.Tensor:
    """Label maps made of smooth random blobs (realistic surfaces), shape (N, *spatial)."""
    noise = torch.randn(shape[0], c, *shape[1:], generator=gen)
    pool = F.avg_pool2d if len(shape) == 3 else F.avg_pool3d
    return pool(noise, 3, stride=1, padding=1).argmax(1)


def one_hot(labels: torch.Tensor, c: int) -> torch.Tensor:
    return F.one_hot(labels, c).movedim(-1, 1).float()


def per_image(metric: HausdorffDistance95) -> torch.Tensor:
    return dim_zero_cat(metric.distances)


# ----------------------------------------------------------------------------- against MONAI
@pytest.mark.parametrize(
    ("shape", "spacing"),
    [((3, 24, 20), (1.5, 0.7)), ((2, 10, 14, 12), (3.0, 0.8, 1.1)), ((2, 9, 11, 13), (1.0, 1.0, 1.0))],
    ids=["2d", "3d", "3d-iso"],
)
@pytest.mark.parametrize("percentile", [95.0, 50.0, 100.0])
@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("noisy", [False, True])
def test_matches_monai(
    shape: tuple[int, ...], spacing: tuple[float, ...], percentile: float, directed: bool, noisy: bool
) -> None:
    c = 4
    gen = torch.Generator().manual_seed(len(shape) * 100 + int(percentile) + 7 * directed + 3 * noisy)
    target = blobs(gen, shape, c)
    preds = blobs(gen, shape, c)
    if noisy:  # salt-and-pepper: many small surface pieces
        flip = torch.rand(shape, generator=gen) < 0.05
        preds = torch.where(flip, torch.randint(0, c, shape, generator=gen), preds)
    metric = HausdorffDistance95(c, spacing=spacing, percentile=percentile, directed=directed, include_background=True)
    metric.update(preds, target)
    ours = per_image(metric)
    reference = compute_hausdorff_distance(
        one_hot(preds, c),
        one_hot(target, c),
        include_background=True,
        percentile=None if percentile == 100.0 else percentile,
        directed=directed,
        spacing=list(spacing),
    )
    assert ours.shape == reference.shape
    torch.testing.assert_close(ours, reference, atol=1e-4, rtol=0, equal_nan=True)


def test_logits_and_background_match_monai_on_3d() -> None:
    c, spacing = 3, (2.5, 0.9, 0.6)
    gen = torch.Generator().manual_seed(11)
    target = blobs(gen, (2, 12, 10, 9), c)
    logits = torch.randn(2, c, 12, 10, 9, generator=gen)
    logits = F.avg_pool3d(logits, 3, stride=1, padding=1)
    metric = HausdorffDistance95(c, spacing=spacing)
    metric.update(logits, target)
    reference = compute_hausdorff_distance(
        one_hot(logits.argmax(1), c), one_hot(target, c), percentile=95, spacing=list(spacing)
    )
    assert per_image(metric).shape == (2, c - 1)  # background left out by default
    torch.testing.assert_close(per_image(metric), reference, atol=1e-4, rtol=0, equal_nan=True)
    result = metric.compute()
    torch.testing.assert_close(result["per_class_hd95"], reference.nanmean(0), atol=1e-4, rtol=0)
    torch.testing.assert_close(result["hd95"], reference.nanmean(), atol=1e-4, rtol=0)


def test_ignore_index_matches_monai_metric() -> None:
    c, ignore, spacing = 3, 255, (1.2, 0.8)
    gen = torch.Generator().manual_seed(5)
    target = blobs(gen, (3, 20, 22), c)
    preds = blobs(gen, (3, 20, 22), c)
    target[:, 5:9, :] = ignore
    metric = HausdorffDistance95(c, spacing=spacing, ignore_index=ignore)
    metric.update(preds, target)
    onehot_target = one_hot(torch.where(target == ignore, 0, target), c) * (target != ignore).unsqueeze(1)
    monai_metric = HausdorffDistanceMetric(percentile=95, ignore_index=ignore, reduction="none")
    reference = monai_metric(one_hot(preds, c), onehot_target, spacing=list(spacing))
    torch.testing.assert_close(per_image(metric), reference, atol=1e-4, rtol=0, equal_nan=True)


def test_ignore_index_class_scores_nan() -> None:
    metric = HausdorffDistance95(3, ignore_index=2)
    labels = torch.randint(0, 3, (2, 8, 8))
    metric.update(labels, labels)
    values = per_image(metric)
    assert values[:, 0].eq(0).all() and values[:, 1].isnan().all()


# ----------------------------------------------------------------------------- brute force
def np_surface(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask, 1)
    out = np.zeros_like(mask)
    for idx in itertools.product(*(range(s) for s in mask.shape)):
        if not mask[idx]:
            continue
        centre = tuple(i + 1 for i in idx)
        for axis, step in itertools.product(range(mask.ndim), (-1, 1)):
            neighbour = list(centre)
            neighbour[axis] += step
            if not padded[tuple(neighbour)]:
                out[idx] = True
    return out


def np_hd(pred: np.ndarray, gt: np.ndarray, spacing: tuple[float, ...], q: float, directed: bool) -> float:
    sp, sg = np_surface(pred), np_surface(gt)
    p = np.argwhere(sp) * np.asarray(spacing)
    g = np.argwhere(sg) * np.asarray(spacing)
    if len(p) == 0 and len(g) == 0:
        return math.nan
    if len(p) == 0 or len(g) == 0:
        return math.inf
    d = np.sqrt(((p[:, None, :] - g[None, :, :]) ** 2).sum(-1))
    forward = np.percentile(d.min(1), q)
    return float(forward if directed else max(forward, np.percentile(d.min(0), q)))


@pytest.mark.parametrize("directed", [False, True])
def test_matches_brute_force_on_tiny_cases(directed: bool) -> None:
    gen = torch.Generator().manual_seed(2)
    for shape, spacing in (((2, 7, 6), (2.0, 0.5)), ((2, 4, 5, 6), (3.0, 1.0, 0.7))):
        target = torch.randint(0, 3, shape, generator=gen)
        preds = torch.randint(0, 3, shape, generator=gen)
        metric = HausdorffDistance95(3, spacing=spacing, include_background=True, directed=directed)
        metric.update(preds, target)
        expected = [
            [np_hd((preds[n] == k).numpy(), (target[n] == k).numpy(), spacing, 95, directed) for k in range(3)]
            for n in range(shape[0])
        ]
        np.testing.assert_allclose(per_image(metric).numpy(), np.array(expected), atol=1e-5)


def test_surface_voxels_of_a_cube() -> None:
    mask = torch.zeros(1, 5, 5, 5, dtype=torch.bool)
    mask[0, 1:4, 1:4, 1:4] = True
    surface = surface_voxels(mask, 3)
    assert int(surface.sum()) == 27 - 1
    assert np.array_equal(surface[0].numpy(), np_surface(mask[0].numpy()))
    full = torch.ones(4, 4, dtype=torch.bool)  # the image border counts as background
    assert int(surface_voxels(full, 2).sum()) == 12


def test_simple_shift_in_physical_units() -> None:
    target = torch.zeros(1, 10, 10, dtype=torch.long)
    target[0, 2:6, 2:6] = 1
    preds = torch.roll(target, 2, dims=1)  # 2 rows down
    metric = HausdorffDistance95(2, spacing=(1.5, 1.0))
    metric.update(preds, target)
    assert metric.compute()["hd95"].item() == pytest.approx(3.0)


# ----------------------------------------------------------------------------- empty masks
def test_empty_mask_conventions() -> None:
    empty = torch.zeros(8, 8, dtype=torch.bool)
    square = empty.clone()
    square[2:5, 2:5] = True
    assert math.isnan(percentile_hausdorff_distance(empty, empty, (1.0, 1.0)))
    assert percentile_hausdorff_distance(square, empty, (1.0, 1.0)) == math.inf
    assert percentile_hausdorff_distance(empty, square, (1.0, 1.0), directed=True) == math.inf
    # MONAI: NaN when both are empty, inf when one is (its maximum; see the docstring for percentiles)
    pred = one_hot(torch.zeros(1, 8, 8, dtype=torch.long), 2)
    gt = one_hot(square.long()[None], 2)
    assert compute_hausdorff_distance(pred, gt).item() == math.inf
    assert math.isnan(compute_hausdorff_distance(pred, pred).item())


def test_absent_classes_are_nan_and_missed_classes_inf() -> None:
    target = torch.zeros(2, 8, 8, dtype=torch.long)
    target[0, 2:5, 2:5] = 1
    preds = target.clone()
    preds[1, 0, 0] = 2  # image 1: class 2 predicted, not in the ground truth
    metric = HausdorffDistance95(3)
    metric.update(preds, target)
    values = per_image(metric)
    assert values[0, 0] == 0 and math.isnan(values[1, 0])  # class 1 absent from image 1
    assert math.isnan(values[0, 1]) and values[1, 1] == math.inf
    result = metric.compute()
    assert result["per_class_hd95"][0] == 0 and result["per_class_hd95"][1] == math.inf
    assert result["hd95"] == math.inf


def test_compute_without_update_is_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = HausdorffDistance95(3).compute()
    assert result["hd95"].isnan() and result["per_class_hd95"].shape == (2,)


# ----------------------------------------------------------------------------- state, accumulation, errors
def test_state_is_concatenated_across_processes_and_batches() -> None:
    metric = HausdorffDistance95(3, spacing=(1.0, 2.0))
    assert metric._reductions["distances"] is dim_zero_cat
    gen = torch.Generator().manual_seed(9)
    a = (blobs(gen, (2, 12, 12), 3), blobs(gen, (2, 12, 12), 3))
    b = (blobs(gen, (3, 12, 12), 3), blobs(gen, (3, 12, 12), 3))
    metric.update(*a)
    metric.update(*b)
    joined = HausdorffDistance95(3, spacing=(1.0, 2.0))
    joined.update(torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]]))
    assert per_image(metric).shape == (5, 2)
    torch.testing.assert_close(metric.compute(), joined.compute(), equal_nan=True)


def test_results_on_input_device() -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    metric = HausdorffDistance95(3).to(device)
    labels = torch.randint(0, 3, (2, 6, 6), device=device)
    metric.update(labels, labels.roll(1, 1))
    assert all(v.device == device for v in metric.compute().values())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"percentile": 0}, "percentile"),
        ({"percentile": 101}, "percentile"),
        ({"spacing": (1.0, -1.0)}, "spacing"),
        ({"ignore_index": "x"}, "ignore_index"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        HausdorffDistance95(3, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="no class"):
        HausdorffDistance95(1)


def test_bad_inputs() -> None:
    metric = HausdorffDistance95(3, spacing=(1.0, 1.0, 1.0))
    labels = torch.zeros(1, 4, 4, dtype=torch.long)
    with pytest.raises(InputShapeError, match="spacing has 3 axes"):
        metric.update(labels, labels)
    metric = HausdorffDistance95(3)
    with pytest.raises(ValueError, match="value 5"):
        metric.update(labels, torch.full((1, 4, 4), 5))
    with pytest.raises(ValueError, match="label 3"):
        metric.update(torch.full((1, 4, 4), 3), labels)
    with pytest.raises(InputShapeError, match=r"\(N, C, \*\)"):
        metric.update(torch.randn(1, 2, 4, 4), labels)
    with pytest.raises(InputShapeError, match="got"):
        metric.update(torch.zeros(1, 4, 5, dtype=torch.long), labels)
