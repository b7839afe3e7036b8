"""What every registered loss does (check_loss), argument validation, and MONAI's generalised Dice."""

from __future__ import annotations

import pytest
import torch

from seg_core import get_registry
from seg_core.errors import ConfigError, InputShapeError
from seg_train.losses import (
    CrossEntropyLoss,
    DeepSupervisionLoss,
    DiceLoss,
    FocalLoss,
    GeneralizedDiceLoss,
    LovaszLoss,
    MCCLoss,
    SoftBCEWithLogitsLoss,
    SoftCrossEntropyLoss,
    TverskyLoss,
)
from seg_train.testing import check_loss

COMPOSED = {
    "combined": {"terms": [{"name": "cross_entropy"}, {"name": "dice", "mode": "multiclass", "weight": 0.5}]},
    "deep_supervision": {"loss": {"name": "focal", "mode": "multiclass", "ignore_index": 255}},
}


@pytest.mark.parametrize("name", get_registry("losses").names())
def test_every_registered_loss_passes_check_loss(name) -> None:
    if name in COMPOSED:
        report = check_loss(name, mode="multiclass", ignore_index=None, **COMPOSED[name])
    else:
        report = check_loss(name)
    assert "4d_equals_5d" in report.checks


def test_composed_losses_keep_the_ignore_contract() -> None:
    loss = DeepSupervisionLoss(CrossEntropyLoss(ignore_index=255) + DiceLoss("multiclass", ignore_index=255))
    report = check_loss(loss, mode="multiclass")
    assert "ignore_invariance" in report.checks


class _CountsIgnored(torch.nn.Module):
    mode = "multiclass"
    ignore_index = 255

    def forward(self, pred, target):
        return torch.nn.functional.cross_entropy(pred, target.clamp(max=pred.shape[1] - 1))


class _Mutates(torch.nn.Module):
    mode = "multiclass"
    ignore_index = None

    def forward(self, pred, target):
        target[target == 0] = 1
        return torch.nn.functional.cross_entropy(pred, target)


def test_check_loss_catches_a_loss_that_counts_ignored_pixels() -> None:
    with pytest.raises(AssertionError, match="ignored pixels"):
        check_loss(_CountsIgnored())


def test_check_loss_catches_a_loss_that_changes_its_inputs() -> None:
    with pytest.raises(AssertionError, match="in place"):
        check_loss(_Mutates())


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: DiceLoss("multi"), "accepted: 'binary', 'multiclass', 'multilabel'"),
        (lambda: DiceLoss("multiclass", smooth=-1), "smooth=-1; accepted: a number in \\[0"),
        (lambda: DiceLoss("binary", weight=[1.0]), "mode='binary' has one class"),
        (lambda: DiceLoss("multiclass", weight=[1.0, -2.0]), "non-negative"),
        (lambda: DiceLoss("multiclass", weight=[1.0], class_weights=[1.0]), "once"),
        (lambda: DiceLoss("multiclass", classes=["a"]), "class indices"),
        (lambda: DiceLoss("multiclass", from_logits="yes"), "from_logits='yes'; accepted: True, False"),
        (lambda: TverskyLoss("multiclass", gamma=0), "gamma=0; accepted"),
        (lambda: FocalLoss("multiclass", reduction="avg"), "reduction='avg'; accepted: 'mean', 'sum', 'none'"),
        (lambda: FocalLoss("multiclass", alpha=2), "alpha=2; accepted: a number in \\[0.0, 1.0\\] or None"),
        (lambda: FocalLoss("binary", activation="softmax"), "activation='softmax' needs mode='multiclass'"),
        (lambda: CrossEntropyLoss(label_smoothing=1.0), "label_smoothing=1.0"),
        (lambda: CrossEntropyLoss(pos_weight=[1.0]), "pos_weight is for mode='binary'"),
        (lambda: CrossEntropyLoss(ignore_index=2.5), "ignore_index=2.5"),
        (lambda: SoftCrossEntropyLoss(dim="1"), "dim='1'"),
        (lambda: SoftBCEWithLogitsLoss(smooth_factor=2), "smooth_factor=2"),
        (lambda: LovaszLoss("binary", weight=[1.0]), "one class"),
        (lambda: GeneralizedDiceLoss("multiclass", weight_type="cube"), "weight_type='cube'; accepted"),
        (lambda: MCCLoss("multiclass", eps=-1), "eps=-1"),
    ],
)
def test_bad_arguments_are_value_errors_naming_the_accepted_values(make, match) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        make()
    assert isinstance(info.value, ValueError)


def test_target_values_outside_the_classes_are_errors_not_silent_classes() -> None:
    pred = torch.randn(2, 3, 4, 4)
    target = torch.randint(0, 3, (2, 4, 4))
    target[0, 0, 0] = 255
    with pytest.raises(ValueError, match="target value 255 .*pass ignore_index"):
        DiceLoss("multiclass")(pred, target)
    with pytest.raises(ValueError, match="target value 255 .*nor ignore_index=254"):
        CrossEntropyLoss(ignore_index=254)(pred, target)
    binary = torch.randint(0, 2, (2, 1, 4, 4)).float()
    binary[0, 0, 0, 0] = 255
    with pytest.raises(ValueError, match="\\[0, 1\\].*found 255"):
        FocalLoss("binary")(pred[:, :1], binary)


@pytest.mark.parametrize(
    ("mode", "pred_shape", "target_shape", "match"),
    [
        ("multiclass", (2, 3, 4, 4), (2, 1, 4, 4), "target\\[:, 0\\]"),
        ("multiclass", (2, 3, 4, 4), (2, 3, 4, 4), "one-hot"),
        ("multiclass", (2, 3, 4, 4), (2, 5, 5), "\\(2, 4, 4\\)"),
        ("binary", (2, 3, 4, 4), (2, 4, 4), "mode='multiclass' or 'multilabel'"),
        ("multilabel", (2, 3, 4, 4), (2, 4, 4), "\\(2, 3, 4, 4\\)"),
        ("binary", (2, 4, 4), (2, 4, 4), "unsqueeze"),
    ],
)
def test_shape_mistakes_say_what_shape_would_work(mode, pred_shape, target_shape, match) -> None:
    target = torch.zeros(target_shape, dtype=torch.long if mode == "multiclass" else torch.float32)
    with pytest.raises(InputShapeError, match=match):
        DiceLoss(mode)(torch.randn(pred_shape), target)


def test_float_multiclass_target_says_how_to_convert() -> None:
    with pytest.raises(TypeError, match="target.long\\(\\)"):
        DiceLoss("multiclass")(torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 4))


def test_weight_count_must_match_the_channels() -> None:
    with pytest.raises(ConfigError, match="3 values but the prediction has 4 classes"):
        DiceLoss("multiclass", weight=[1, 2, 3])(torch.randn(1, 4, 4, 4), torch.zeros(1, 4, 4, dtype=torch.long))


def test_weights_are_copied_not_referenced() -> None:
    weight = torch.tensor([1.0, 2.0, 3.0])
    loss = CrossEntropyLoss(weight=weight)
    weight[0] = 100.0
    assert loss.weight[0] == 1.0


def test_losses_move_with_the_module_and_keep_weights_out_of_state_dicts() -> None:
    loss = DiceLoss("multiclass", weight=[1.0, 2.0, 3.0]).double()
    assert loss.weight.dtype == torch.float64
    assert "weight" not in loss.state_dict()


@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("weight_type", ["square", "simple", "uniform"])
def test_generalized_dice_equals_monai(per_image, weight_type) -> None:
    from monai.losses import GeneralizedDiceLoss as MonaiGDL

    g = torch.Generator().manual_seed(1)
    pred = torch.randn(3, 4, 6, 5, 4, generator=g, dtype=torch.float64)  # 3D
    target = torch.randint(0, 3, (3, 6, 5, 4), generator=g)  # class 3 absent: MONAI's infinite-weight rule
    one_hot = torch.nn.functional.one_hot(target, 4).movedim(-1, 1).double()
    ours = GeneralizedDiceLoss("multiclass", smooth=1e-5, weight_type=weight_type, per_image=per_image)(pred, target)
    theirs = MonaiGDL(softmax=True, w_type=weight_type, batch=not per_image)(pred, one_hot)
    torch.testing.assert_close(ours, theirs, rtol=1e-7, atol=1e-9)
