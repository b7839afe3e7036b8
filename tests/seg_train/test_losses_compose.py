"""Weighted sums and deep-supervision / aux terms."""

from __future__ import annotations

import pytest
import torch

from seg_core.errors import ConfigError
from seg_train import create_loss
from seg_train.losses import CrossEntropyLoss, DeepSupervisionLoss, DiceLoss, FocalLoss, WeightedSum


def _pair(n=2, c=3, size=(8, 8)):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, c, *size, generator=g), torch.randint(0, c, (n, *size), generator=g)


def test_arithmetic_builds_the_weighted_sum() -> None:
    pred, target = _pair()
    ce, dice, focal = CrossEntropyLoss(), DiceLoss("multiclass"), FocalLoss("multiclass")
    loss = ce + 0.5 * dice + focal * 2
    assert isinstance(loss, WeightedSum)
    assert loss.weights == [1.0, 0.5, 2.0]
    want = ce(pred, target) + 0.5 * dice(pred, target) + 2 * focal(pred, target)
    assert torch.isclose(loss(pred, target), want)
    assert set(loss.last) == {"CrossEntropyLoss", "DiceLoss", "FocalLoss"}
    assert torch.isclose(loss.last["DiceLoss"], dice(pred, target))


def test_builtin_sum_and_scaling_a_sum() -> None:
    pred, target = _pair()
    ce, dice = CrossEntropyLoss(), DiceLoss("multiclass")
    total = sum([ce, dice])
    assert isinstance(total, WeightedSum)
    assert torch.isclose((3 * total)(pred, target), 3 * (ce(pred, target) + dice(pred, target)))


def test_same_loss_twice_gets_distinct_names() -> None:
    loss = DiceLoss("multiclass") + DiceLoss("multiclass", smooth=1.0)
    assert loss.names == ["DiceLoss", "DiceLoss_2"]


@pytest.mark.parametrize("factor", ["2", float("nan"), None, True])
def test_scaling_by_a_non_number_is_refused(factor) -> None:
    with pytest.raises((ConfigError, TypeError)):
        DiceLoss("multiclass") * factor


def test_deep_supervision_with_a_dict_resizes_and_weights() -> None:
    pred, target = _pair()
    aux = torch.randn(2, 3, 4, 4)
    ce = CrossEntropyLoss()
    loss = DeepSupervisionLoss(ce, weights={"out": 1.0, "aux": 0.4})
    up = torch.nn.functional.interpolate(aux, size=(8, 8), mode="bilinear", align_corners=False)
    want = ce(pred, target) + 0.4 * ce(up, target)
    assert torch.isclose(loss({"out": pred, "aux": aux}, target), want)
    assert set(loss.last) == {"out", "aux"}


def test_deep_supervision_with_a_tuple_and_the_default_weights() -> None:
    pred, target = _pair()
    extra = torch.randn(2, 3, 8, 8)
    ce = CrossEntropyLoss()
    got = DeepSupervisionLoss(ce)((pred, extra), target)
    assert torch.isclose(got, ce(pred, target) + 0.5 * ce(extra, target))


def test_deep_supervision_lists_and_resized_targets() -> None:
    """nnU-Net style: the target is resized (nearest) to each lower-resolution output."""
    pred, target = _pair()
    low = torch.randn(2, 3, 4, 4)
    ce = CrossEntropyLoss()
    loss = DeepSupervisionLoss(ce, weights=[1.0, 0.5], resize="target")
    small = target[:, 1::2, 1::2]  # nearest-exact samples the pixel centres: 1, 3, 5, 7
    got = loss({"out": pred, "deep_supervision": [low]}, target)
    assert torch.isclose(got, ce(pred, target) + 0.5 * ce(low, small))
    assert "deep_supervision.0" in loss.last


def test_deep_supervision_tensor_is_just_the_loss() -> None:
    pred, target = _pair()
    ce = CrossEntropyLoss()
    assert torch.isclose(DeepSupervisionLoss(ce)(pred, target), ce(pred, target))


def test_deep_supervision_errors_name_the_fix() -> None:
    pred, target = _pair()
    with pytest.raises(ConfigError, match="main_key"):
        DeepSupervisionLoss(CrossEntropyLoss())({"main": pred}, target)
    with pytest.raises(ConfigError, match="no weight for output 'aux'"):
        DeepSupervisionLoss(CrossEntropyLoss(), weights={"out": 1.0})({"out": pred, "aux": pred}, target)
    with pytest.raises(ConfigError, match="resize="):
        DeepSupervisionLoss(CrossEntropyLoss(), resize="none")((pred, pred[..., :4, :4]), target)
    with pytest.raises(ConfigError, match="accepted"):
        DeepSupervisionLoss(CrossEntropyLoss(), resize="bilinear")


def test_config_factories_build_from_names() -> None:
    pred, target = _pair()
    combined = create_loss(
        "combined",
        terms=[{"name": "ce", "ignore_index": 255}, {"name": "DiceLoss", "mode": "multiclass", "weight": 0.5}],
    )
    want = CrossEntropyLoss(ignore_index=255)(pred, target) + 0.5 * DiceLoss("multiclass")(pred, target)
    assert torch.isclose(combined(pred, target), want)
    ds = create_loss("deep_supervision", loss={"name": "cross_entropy"}, weights={"aux": 0.4})
    assert isinstance(ds, DeepSupervisionLoss)
    with pytest.raises(ConfigError, match="terms"):
        create_loss("combined", terms=[])
    with pytest.raises(KeyError, match="did you mean|Did you mean"):
        create_loss("combined", terms=[{"name": "dise"}])
