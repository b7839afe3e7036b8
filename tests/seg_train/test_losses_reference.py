"""Every loss x mode x ignore_index x weight against the plain numpy formulas in _loss_reference.

Inputs are random logits with ignored pixels and a class absent from the target.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from seg_train.losses import (
    CrossEntropyLoss,
    DiceLoss,
    FocalLoss,
    GeneralizedDiceLoss,
    JaccardLoss,
    LovaszLoss,
    MCCLoss,
    SoftBCEWithLogitsLoss,
    SoftCrossEntropyLoss,
    TverskyLoss,
)

from . import _loss_reference as ref

C = 4
WEIGHT = [0.5, 2.0, 1.0, 3.0]
MODES = ["binary", "multiclass", "multilabel"]
IGNORES = [None, 255]


def _data(mode: str, ignore: int | None, seed: int = 0, shape: tuple[int, ...] = (2, 5, 7)):
    g = torch.Generator().manual_seed(seed)
    n, *spatial = shape
    c = 1 if mode == "binary" else C
    pred = torch.randn(n, c, *spatial, generator=g, dtype=torch.float64) * 2
    if mode == "multiclass":
        target = torch.randint(0, C - 1, (n, *spatial), generator=g)  # class C-1 is absent
    elif mode == "binary":
        target = torch.randint(0, 2, (n, 1, *spatial), generator=g).double()
    else:
        target = torch.randint(0, 2, (n, c, *spatial), generator=g).double()
        target[:, -1] = 0  # absent class
    if ignore is not None:
        target = target.masked_fill(torch.rand(target.shape, generator=g) < 0.3, ignore)
    return pred, target


def _weights(mode: str, weighted: bool):
    return WEIGHT if weighted and mode != "binary" else None


CASES = list(itertools.product(MODES, IGNORES, [False, True]))


def _ids(case):
    mode, ignore, weighted = case
    return f"{mode}-ignore{ignore}-{'weighted' if weighted else 'plain'}"


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("kind", ["dice", "jaccard", "tversky"])
@pytest.mark.parametrize("options", [{}, {"smooth": 1.0}, {"log_loss": True}, {"per_image": True}])
def test_overlap_losses_match_the_formula(kind, case, options) -> None:
    mode, ignore, weighted = case
    pred, target = _data(mode, ignore)
    extra = {"alpha": 0.3, "beta": 0.7, "gamma": 1.5} if kind == "tversky" else {}
    cls = {"dice": DiceLoss, "jaccard": JaccardLoss, "tversky": TverskyLoss}[kind]
    got = cls(mode, ignore_index=ignore, weight=_weights(mode, weighted), **options, **extra)(pred, target)
    want = ref.region_loss(
        kind, pred.numpy(), target.numpy(), mode, ignore, _weights(mode, weighted), **options, **extra
    )
    np.testing.assert_allclose(got.item(), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["multiclass", "multilabel"])
def test_classes_selects_channels(mode) -> None:
    pred, target = _data(mode, 255)
    got = DiceLoss(mode, ignore_index=255, classes=[0, 2], weight=WEIGHT)(pred, target)
    want = ref.region_loss("dice", pred.numpy(), target.numpy(), mode, 255, WEIGHT, classes=[0, 2])
    np.testing.assert_allclose(got.item(), want, rtol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("weight_type", ["square", "simple", "uniform"])
def test_generalized_dice_matches_the_formula(case, weight_type) -> None:
    mode, ignore, weighted = case
    pred, target = _data(mode, ignore)
    loss = GeneralizedDiceLoss(mode, ignore_index=ignore, weight=_weights(mode, weighted), weight_type=weight_type)
    want = ref.generalized_dice(pred.numpy(), target.numpy(), mode, ignore, _weights(mode, weighted), 0.0, weight_type)
    np.testing.assert_allclose(loss(pred, target).item(), want, rtol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_mcc_matches_the_formula(case) -> None:
    mode, ignore, weighted = case
    pred, target = _data(mode, ignore)
    got = MCCLoss(mode, ignore_index=ignore, weight=_weights(mode, weighted))(pred, target)
    want = ref.mcc(pred.numpy(), target.numpy(), mode, ignore, _weights(mode, weighted))
    np.testing.assert_allclose(got.item(), want, rtol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("options", [{}, {"gamma": 0.0}, {"alpha": 0.25, "gamma": 1.0}])
def test_focal_matches_the_formula(case, options) -> None:
    mode, ignore, weighted = case
    pred, target = _data(mode, ignore)
    got = FocalLoss(mode, ignore_index=ignore, weight=_weights(mode, weighted), **options)(pred, target)
    want = ref.focal_sigmoid(pred.numpy(), target.numpy(), mode, ignore, _weights(mode, weighted), **options)
    np.testing.assert_allclose(got.item(), want, rtol=1e-9)


@pytest.mark.parametrize("ignore", IGNORES)
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_focal_matches_the_formula(ignore, weighted) -> None:
    pred, target = _data("multiclass", ignore)
    weight = WEIGHT if weighted else None
    got = FocalLoss("multiclass", ignore_index=ignore, weight=weight, activation="softmax")(pred, target)
    np.testing.assert_allclose(got.item(), ref.focal_softmax(pred.numpy(), target.numpy(), ignore, weight), rtol=1e-9)


@pytest.mark.parametrize("ignore", IGNORES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_matches_torch_and_the_formula(ignore, weighted, smoothing) -> None:
    pred, target = _data("multiclass", ignore)
    weight = WEIGHT if weighted else None
    loss = CrossEntropyLoss(ignore_index=ignore, weight=weight, label_smoothing=smoothing)
    got = loss(pred, target).item()
    np.testing.assert_allclose(
        got, ref.cross_entropy(pred.numpy(), target.numpy(), ignore, weight, smoothing), rtol=1e-9
    )
    torch_value = torch.nn.functional.cross_entropy(
        pred,
        target,
        weight=None if weight is None else torch.tensor(weight, dtype=torch.float64),
        ignore_index=-100 if ignore is None else ignore,
        label_smoothing=smoothing,
    )
    np.testing.assert_allclose(got, torch_value.item(), rtol=1e-9)


@pytest.mark.parametrize("mode", ["binary", "multilabel"])
@pytest.mark.parametrize("ignore", IGNORES)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_the_formula(mode, ignore, weighted) -> None:
    pred, target = _data(mode, ignore)
    c = pred.shape[1]
    weight = [2.0] if weighted and mode == "binary" else _weights(mode, weighted)
    pos_weight = [1.5] * c
    want = ref.binary_cross_entropy(pred.numpy(), target.numpy(), mode, ignore, weight, pos_weight, 0.1)
    ce = CrossEntropyLoss(mode, ignore_index=ignore, weight=weight, pos_weight=pos_weight, label_smoothing=0.1)
    soft = SoftBCEWithLogitsLoss(ignore_index=ignore, weight=weight, pos_weight=pos_weight, smooth_factor=0.1)
    np.testing.assert_allclose(ce(pred, target).item(), want, rtol=1e-9)
    np.testing.assert_allclose(soft(pred, target).item(), want, rtol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("from_logits", [True, False])
def test_lovasz_matches_bermans_algorithm(case, per_image, from_logits) -> None:
    mode, ignore, weighted = case
    pred, target = _data(mode, ignore)
    if not from_logits:
        pred = pred.softmax(1) if mode == "multiclass" else pred.sigmoid()
    loss = LovaszLoss(
        mode, per_image=per_image, ignore_index=ignore, from_logits=from_logits, weight=_weights(mode, weighted)
    )
    want = ref.lovasz(pred.numpy(), target.numpy(), mode, ignore, _weights(mode, weighted), per_image, from_logits)
    np.testing.assert_allclose(loss(pred, target).item(), want, rtol=1e-9, atol=1e-12)


# -- the references' known bugs, not repeated ---------------------------------------------------


def test_dice_honours_weight_and_leaves_the_callers_tensor_alone() -> None:
    """PixSeg's Dice ignores weight and divides the caller's weight tensor in place."""
    pred, target = _data("multiclass", 255)
    weight = torch.tensor(WEIGHT)
    before = weight.clone()
    plain = DiceLoss("multiclass", ignore_index=255)(pred, target)
    weighted = DiceLoss("multiclass", ignore_index=255, weight=weight)(pred, target)
    assert torch.equal(weight, before)
    assert not torch.isclose(plain, weighted)


def test_dice_does_not_count_ignored_pixels() -> None:
    """PixSeg counts ignored pixels as zeros: ignoring half of them halves its loss. Here the
    loss equals the loss over the kept pixels alone."""
    pred, target = _data("multiclass", None, shape=(1, 4, 8))
    kept = DiceLoss("multiclass")(pred[..., :4], target[..., :4])
    target = target.clone()
    target[..., 4:] = 255
    assert torch.isclose(DiceLoss("multiclass", ignore_index=255)(pred, target), kept)


def test_soft_cross_entropy_defaults_work_and_match_torch() -> None:
    """smp's SoftCrossEntropyLoss() raises a TypeError with its default arguments."""
    pred, target = _data("multiclass", None)
    value = SoftCrossEntropyLoss()(pred, target)
    assert torch.isclose(value, torch.nn.functional.cross_entropy(pred, target))


def test_soft_cross_entropy_divides_by_the_pixels_that_count() -> None:
    """smp averages over ignored pixels too (1.271 instead of torch's 1.695 in its report)."""
    pred, target = _data("multiclass", 255)
    got = SoftCrossEntropyLoss(smooth_factor=0.0, ignore_index=255)(pred, target)
    assert torch.isclose(got, torch.nn.functional.cross_entropy(pred, target, ignore_index=255))


def test_soft_cross_entropy_takes_another_class_dimension() -> None:
    pred, target = _data("multiclass", 255)
    moved = SoftCrossEntropyLoss(ignore_index=255, dim=-1)(pred.movedim(1, -1), target)
    assert torch.isclose(moved, SoftCrossEntropyLoss(ignore_index=255)(pred, target))


def test_focal_multilabel_with_ignore_index_works() -> None:
    """smp raises IndexError: too many indices for tensor of dimension 3."""
    pred, target = _data("multilabel", 255)
    assert torch.isfinite(FocalLoss("multilabel", ignore_index=255)(pred, target))


def test_lovasz_honours_from_logits() -> None:
    """smp's LovaszLoss never reads from_logits: probabilities are taken as logits."""
    pred, target = _data("multiclass", None)
    from_logits = LovaszLoss("multiclass")(pred, target)
    from_probs = LovaszLoss("multiclass", from_logits=False)(pred.softmax(1), target)
    assert torch.isclose(from_logits, from_probs)
    assert not torch.isclose(LovaszLoss("multiclass", from_logits=False)(pred, target), from_logits)


def test_mcc_applies_the_sigmoid_unless_told_otherwise() -> None:
    """smp's MCCLoss silently takes probabilities; here logits are the default, as for every loss."""
    pred, target = _data("binary", None)
    assert torch.isclose(MCCLoss()(pred, target), MCCLoss(from_logits=False)(pred.sigmoid(), target))


def test_soft_bce_weights_are_per_class_not_per_column() -> None:
    """smp hands weight to torch unchanged, which broadcasts a (C,) tensor against the last axis (W)."""
    pred, target = _data("multilabel", None, shape=(2, 3, 4))  # W = 4 = C: smp's broadcast goes unnoticed
    weight = torch.tensor(WEIGHT)
    got = SoftBCEWithLogitsLoss(weight=weight)(pred, target)
    want = ref.binary_cross_entropy(pred.numpy(), target.numpy(), "multilabel", None, WEIGHT)
    np.testing.assert_allclose(got.item(), want, rtol=1e-9)


def test_every_pixel_ignored_gives_zero_not_nan() -> None:
    pred, target = _data("multiclass", None)
    target = torch.full_like(target, 255)
    for loss in (CrossEntropyLoss(ignore_index=255), DiceLoss("multiclass", ignore_index=255),
                 FocalLoss("multiclass", ignore_index=255), LovaszLoss("multiclass", ignore_index=255),
                 GeneralizedDiceLoss("multiclass", ignore_index=255)):  # fmt: skip
        x = pred.clone().requires_grad_(True)
        value = loss(x, target)
        value.backward()
        assert value.item() == 0.0, type(loss).__name__
        assert torch.equal(x.grad, torch.zeros_like(x)), type(loss).__name__


def test_soft_targets_are_cross_entropy_with_probabilities() -> None:
    pred, _ = _data("multiclass", None)
    soft = torch.softmax(torch.randn_like(pred), 1)
    assert torch.isclose(CrossEntropyLoss()(pred, soft), torch.nn.functional.cross_entropy(pred, soft))


def test_probabilities_input_gives_the_logits_result() -> None:
    pred, target = _data("multiclass", 255)
    for make in (
        lambda **k: CrossEntropyLoss(ignore_index=255, **k),
        lambda **k: DiceLoss("multiclass", ignore_index=255, **k),
    ):
        assert torch.isclose(make()(pred, target), make(from_logits=False)(pred.softmax(1), target))
