"""seg's losses give smp's values wherever smp is right (smp is installed in the integration session).

Where smp is wrong (soft CE's denominator, MCC without a sigmoid, Lovasz's from_logits, focal with
multilabel + ignore_index, Dice's doubled smooth in 0.6) the seg-train tests check the right value.
"""

from __future__ import annotations

import itertools

import pytest
import torch

import seg_train.losses as ours

smp_losses = pytest.importorskip("segmentation_models_pytorch.losses")


def _data(mode: str, ignore: int | None):
    g = torch.Generator().manual_seed(3)
    c = 1 if mode == "binary" else 4
    pred = torch.randn(2, c, 6, 7, generator=g, dtype=torch.float64) * 2
    if mode == "multiclass":
        target = torch.randint(0, 3, (2, 6, 7), generator=g)
    else:
        target = torch.randint(0, 2, (2, c, 6, 7), generator=g).double()
    if ignore is not None:
        target = target.masked_fill(torch.rand(target.shape, generator=g) < 0.3, ignore)
    return pred, target


CASES = list(itertools.product(["binary", "multiclass", "multilabel"], [None, 255]))


OPTIONS = [{}, {"log_loss": True}, {"class_weights": [1.0, 2.0, 0.5, 3.0]}]
# Class weights are refused in binary mode, by smp and by seg.
OVERLAP = [(m, i, o) for (m, i), o in itertools.product(CASES, OPTIONS) if not (m == "binary" and "class_weights" in o)]


@pytest.mark.parametrize(("mode", "ignore", "options"), OVERLAP)
@pytest.mark.parametrize("name", ["DiceLoss", "JaccardLoss", "TverskyLoss"])
def test_overlap_losses_equal_smp(name, mode, ignore, options) -> None:
    pred, target = _data(mode, ignore)
    kwargs = {"ignore_index": ignore, **options}
    if name == "TverskyLoss":
        kwargs.update(alpha=0.3, beta=0.7, gamma=1.5, smooth=1.0)
    got = getattr(ours, name)(mode, **kwargs)(pred, target)
    want = getattr(smp_losses, name)(mode, **kwargs)(pred, target)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize(("mode", "ignore"), [c for c in CASES if c != ("multilabel", 255)])
@pytest.mark.parametrize(
    "options", [{}, {"alpha": 0.25}, {"normalized": True}, {"reduced_threshold": 0.5}, {"reduction": "sum"}]
)
def test_focal_equals_smp(mode, ignore, options) -> None:
    pred, target = _data(mode, ignore)
    got = ours.FocalLoss(mode, ignore_index=ignore, **options)(pred, target)
    want = smp_losses.FocalLoss(mode, ignore_index=ignore, **options)(pred, target)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("mode", ["binary", "multiclass"])
@pytest.mark.parametrize("per_image", [False, True])
def test_lovasz_equals_smp(mode, per_image) -> None:
    pred, target = _data(mode, 255)
    pred = pred.float()  # smp's Lovasz fails on float64 (a dtype mismatch in its dot product)
    got = ours.LovaszLoss(mode, per_image=per_image, ignore_index=255)(pred, target)
    want = smp_losses.LovaszLoss(mode, per_image=per_image, ignore_index=255)(pred, target)
    torch.testing.assert_close(got, want)


def test_mcc_equals_smp_given_probabilities() -> None:
    pred, target = _data("binary", None)
    probs = pred.sigmoid()
    torch.testing.assert_close(ours.MCCLoss(from_logits=False)(probs, target), smp_losses.MCCLoss()(probs, target))


def test_soft_losses_equal_smp_without_ignored_pixels() -> None:
    pred, target = _data("multiclass", None)
    torch.testing.assert_close(
        ours.SoftCrossEntropyLoss(smooth_factor=0.1)(pred, target),
        smp_losses.SoftCrossEntropyLoss(smooth_factor=0.1)(pred, target),
    )
    pred, target = _data("multilabel", None)
    torch.testing.assert_close(
        ours.SoftBCEWithLogitsLoss(smooth_factor=0.1)(pred, target),
        smp_losses.SoftBCEWithLogitsLoss(smooth_factor=0.1)(pred, target),
    )


def test_dice_smooth_is_the_classic_one_not_smp_06s_doubled_one() -> None:
    """smp 0.6 computes Dice through Tversky, so its ``smooth`` counts twice: (2TP + 2s) / (2TP + FP + FN + 2s).

    seg keeps the classic (2TP + s) / (2TP + FP + FN + s): seg's smooth=2s is smp's smooth=s.
    """
    pred, target = _data("multiclass", None)
    torch.testing.assert_close(
        ours.DiceLoss("multiclass", smooth=2.0)(pred, target),
        smp_losses.DiceLoss("multiclass", smooth=1.0)(pred, target),
    )
    assert not torch.isclose(
        ours.DiceLoss("multiclass", smooth=1.0)(pred, target),
        smp_losses.DiceLoss("multiclass", smooth=1.0)(pred, target),
    )
