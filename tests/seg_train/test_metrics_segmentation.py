"""SegmentationMetrics against a numpy confusion-matrix reference."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
import torch
from torchmetrics.utilities.data import dim_zero_sum

from seg_core.errors import ConfigError, InputShapeError
from seg_train.metrics.segmentation import SegmentationMetrics

IGNORE = 255


def seed(*parts: object) -> torch.Generator:
    return torch.Generator().manual_seed(zlib.crc32(repr(parts).encode()))


# ----------------------------------------------------------------------------- numpy reference
def np_confmat(pred: np.ndarray, target: np.ndarray, c: int, ignore: int | None) -> np.ndarray:
    pred, target = pred.ravel().astype(np.int64), target.ravel().astype(np.int64)
    keep = np.ones_like(target, dtype=bool) if ignore is None else target != ignore
    return np.bincount(target[keep] * c + pred[keep], minlength=c * c).reshape(c, c)


def np_multilabel_confmat(pred: np.ndarray, target: np.ndarray, ignore: int | None) -> np.ndarray:
    """(C, 2, 2) [class, truth, prediction] from (N, C, *) {0, 1} arrays."""
    c = pred.shape[1]
    out = np.zeros((c, 2, 2), dtype=np.int64)
    for k in range(c):
        t, p = target[:, k].ravel().astype(np.int64), pred[:, k].ravel().astype(np.int64)
        keep = np.ones_like(t, dtype=bool) if ignore is None else t != ignore
        out[k] = np.bincount(t[keep] * 2 + p[keep], minlength=4).reshape(2, 2)
    return out


def np_scores(cm: np.ndarray, absent: str, ignore_class: int | None = None) -> dict[str, np.ndarray]:
    cm = cm.astype(np.float64)
    if cm.ndim == 2:
        tp = np.diag(cm)
        fp, fn = cm.sum(0) - tp, cm.sum(1) - tp
        accuracy = tp.sum() / cm.sum() if cm.sum() else math.nan
    else:
        tn, fp, fn, tp = cm[:, 0, 0], cm[:, 0, 1], cm[:, 1, 0], cm[:, 1, 1]
        total = cm.sum()
        accuracy = (tp + tn).sum() / total if total else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = tp / (tp + fp + fn)
        dice = 2 * tp / (2 * tp + fp + fn)
        acc = tp / (tp + fn)
    if absent == "zero":
        iou, dice, acc = (np.nan_to_num(v, nan=0.0) for v in (iou, dice, acc))
    if ignore_class is not None:
        iou[ignore_class] = dice[ignore_class] = acc[ignore_class] = math.nan

    def nanmean(v: np.ndarray) -> float:
        return float(np.nanmean(v)) if np.any(~np.isnan(v)) else math.nan

    support = tp + fn
    fwiou = float(np.sum((support / support.sum())[support > 0] * iou[support > 0])) if support.sum() else math.nan
    return {
        "accuracy": np.float64(accuracy),
        "mean_accuracy": np.float64(nanmean(acc)),
        "miou": np.float64(nanmean(iou)),
        "fwiou": np.float64(fwiou),
        "dice": np.float64(nanmean(dice)),
        "per_class_iou": iou,
        "per_class_dice": dice,
        "per_class_accuracy": acc,
    }


def assert_matches(result: dict[str, torch.Tensor], expected: dict[str, np.ndarray], cm: np.ndarray) -> None:
    np.testing.assert_array_equal(result["confusion_matrix"].numpy(), cm)
    for key, value in expected.items():
        np.testing.assert_allclose(result[key].numpy(), value, rtol=1e-6, atol=1e-7, err_msg=key)


def random_labels(gen: torch.Generator, shape: tuple[int, ...], c: int, absent: int | None = None) -> torch.Tensor:
    labels = torch.randint(0, c, shape, generator=gen)
    if absent is not None:
        labels[labels == absent] = 0
    return labels


# ----------------------------------------------------------------------------- multiclass
@pytest.mark.parametrize("spatial", [(7, 9), (3, 5, 6)], ids=["2d", "3d"])
@pytest.mark.parametrize("kind", ["logits", "probabilities", "labels", "auto_logits", "auto_labels"])
@pytest.mark.parametrize("absent", ["ignore", "zero"])
def test_multiclass_matches_numpy(spatial: tuple[int, ...], kind: str, absent: str) -> None:
    c = 5
    gen = seed(spatial, kind, absent)
    metric = SegmentationMetrics(c, ignore_index=IGNORE, preds=kind.split("_")[0], absent=absent)
    cm = np.zeros((c, c), dtype=np.int64)
    for _ in range(3):  # several update() calls
        # class 4 is absent everywhere; class 3 appears only in the predictions
        target = random_labels(gen, (2, *spatial), 3)
        target[torch.rand(target.shape, generator=gen) < 0.2] = IGNORE
        labels = random_labels(gen, (2, *spatial), 4)
        if kind.endswith("labels"):
            preds = labels
        else:
            logits = torch.randn(2, c, *spatial, generator=gen)
            logits.scatter_(1, labels.unsqueeze(1), 10.0)
            preds = logits.softmax(1) if kind == "probabilities" else logits
        metric.update(preds, target)
        cm += np_confmat(labels.numpy(), target.numpy(), c, IGNORE)
    result = metric.compute()
    assert_matches(result, np_scores(cm, absent), cm)
    if absent == "ignore":
        assert math.isnan(result["per_class_iou"][4]) and math.isnan(result["per_class_accuracy"][3])
        assert result["per_class_iou"][3] == 0.0  # only in the prediction
    else:
        assert result["per_class_iou"][4] == 0.0 and result["per_class_accuracy"][3] == 0.0


def test_hand_computed_example() -> None:
    # target row-major: [0, 0, 1, 1, 2, 255], preds [0, 1, 1, 1, 0, 2]
    metric = SegmentationMetrics(3, ignore_index=255)
    metric.update(torch.tensor([[0, 1, 1, 1, 0, 2]]), torch.tensor([[0, 0, 1, 1, 2, 255]]))
    r = metric.compute()
    assert r["confusion_matrix"].tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert r["accuracy"].item() == pytest.approx(3 / 5)
    iou = [1 / 3, 2 / 3, 0.0]
    assert r["per_class_iou"].tolist() == pytest.approx(iou)
    assert r["miou"].item() == pytest.approx(1 / 3)
    assert r["per_class_accuracy"].tolist() == pytest.approx([0.5, 1.0, 0.0])
    assert r["per_class_dice"].tolist() == pytest.approx([0.5, 0.8, 0.0])
    # fwIoU weights by ground-truth frequency only: (2 * 1/3 + 2 * 2/3 + 1 * 0) / 5
    assert r["fwiou"].item() == pytest.approx(0.4)


def test_ignore_index_inside_the_class_range_is_left_out() -> None:
    gen = torch.Generator().manual_seed(1)
    target = random_labels(gen, (2, 6, 6), 4)
    preds = random_labels(gen, (2, 6, 6), 4)
    for absent in ("ignore", "zero"):
        metric = SegmentationMetrics(4, ignore_index=0, absent=absent)
        metric.update(preds, target)
        cm = np_confmat(preds.numpy(), target.numpy(), 4, 0)
        result = metric.compute()
        assert_matches(result, np_scores(cm, absent, ignore_class=0), cm)
        assert math.isnan(result["per_class_iou"][0])


def test_all_classes_absent_gives_nan_means() -> None:
    metric = SegmentationMetrics(3, ignore_index=IGNORE)
    metric.update(torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), IGNORE))
    result = metric.compute()
    for key in ("accuracy", "mean_accuracy", "miou", "fwiou", "dice"):
        assert math.isnan(result[key]), key
    zero = SegmentationMetrics(3, ignore_index=IGNORE, absent="zero")
    zero.update(torch.zeros(1, 2, 2, dtype=torch.long), torch.full((1, 2, 2), IGNORE))
    assert zero.compute()["miou"] == 0.0


# ----------------------------------------------------------------------------- binary
@pytest.mark.parametrize("spatial", [(6, 7), (3, 4, 5)], ids=["2d", "3d"])
@pytest.mark.parametrize("kind", ["logits", "probabilities", "labels", "auto_logits", "auto_labels"])
@pytest.mark.parametrize("layout", ["channel", "flat", "target_channel"])
def test_binary_matches_numpy(spatial: tuple[int, ...], kind: str, layout: str) -> None:
    gen = seed(spatial, kind, layout)
    threshold = 0.3
    metric = SegmentationMetrics(1, mode="binary", preds=kind.split("_")[0], threshold=threshold, ignore_index=-1)
    cm = np.zeros((1, 2, 2), dtype=np.int64)
    for _ in range(2):
        target = torch.randint(0, 2, (3, *spatial), generator=gen)
        target[torch.rand(target.shape, generator=gen) < 0.1] = -1
        probs = torch.rand(3, *spatial, generator=gen)
        labels = (probs > threshold).long()
        if kind.endswith("labels"):
            preds = labels
        elif kind == "probabilities":
            preds = probs
        else:
            preds = torch.logit(probs)
        if layout == "channel":
            preds = preds.unsqueeze(1)
        if layout == "target_channel":
            target = target.unsqueeze(1)
        metric.update(preds, target)
        t = target.numpy().reshape(3, 1, -1)
        cm += np_multilabel_confmat(labels.numpy().reshape(3, 1, -1), t, -1)
    assert_matches(metric.compute(), np_scores(cm, "ignore"), cm)


def test_binary_logits_threshold_at_zero_by_default() -> None:
    metric = SegmentationMetrics(1, mode="binary")
    metric.update(torch.tensor([[0.4, -0.1, 3.0, -2.0]]), torch.tensor([[1, 1, 1, 0]]))
    r = metric.compute()
    assert r["confusion_matrix"].tolist() == [[[1, 0], [1, 2]]]
    assert r["miou"].item() == pytest.approx(2 / 3)  # foreground IoU only
    assert r["accuracy"].item() == pytest.approx(3 / 4)


# ----------------------------------------------------------------------------- multilabel
@pytest.mark.parametrize("spatial", [(5, 6), (2, 4, 5)], ids=["2d", "3d"])
@pytest.mark.parametrize("kind", ["logits", "probabilities", "labels"])
@pytest.mark.parametrize("absent", ["ignore", "zero"])
def test_multilabel_matches_numpy(spatial: tuple[int, ...], kind: str, absent: str) -> None:
    c = 4
    gen = seed(spatial, kind, absent)
    metric = SegmentationMetrics(c, mode="multilabel", preds=kind, ignore_index=IGNORE, absent=absent)
    cm = np.zeros((c, 2, 2), dtype=np.int64)
    for _ in range(3):
        target = torch.randint(0, 2, (2, c, *spatial), generator=gen).float()  # BCE-style float target
        target[:, 3] = 0  # class 3: absent from ground truth ...
        target[torch.rand(target.shape, generator=gen) < 0.15] = IGNORE
        probs = torch.rand(2, c, *spatial, generator=gen)
        probs[:, 3] = 0.1  # ... and from the prediction
        labels = (probs > 0.5).long()
        preds = {"labels": labels, "probabilities": probs, "logits": torch.logit(probs)}[kind]
        metric.update(preds, target)
        cm += np_multilabel_confmat(labels.numpy(), target.numpy(), IGNORE)
    result = metric.compute()
    assert_matches(result, np_scores(cm, absent), cm)
    assert math.isnan(result["per_class_iou"][3]) == (absent == "ignore")


# ----------------------------------------------------------------------------- state, device, helpers
def test_confusion_matrix_state_is_summed_across_processes() -> None:
    for mode, c in (("multiclass", 3), ("binary", 1), ("multilabel", 3)):
        metric = SegmentationMetrics(c, mode=mode)
        assert metric._reductions["confmat"] is dim_zero_sum
        assert metric.confmat.dtype == torch.int64
        assert SegmentationMetrics.full_state_update is False


def test_results_stay_on_the_input_device() -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    metric = SegmentationMetrics(3).to(device)
    metric.update(torch.randn(2, 3, 4, 4, device=device), torch.randint(0, 3, (2, 4, 4), device=device))
    for value in metric.compute().values():
        assert value.device == device


def test_device_mismatch_is_explained() -> None:
    metric = SegmentationMetrics(3)
    metric.confmat = metric.confmat.to("meta")
    with pytest.raises(ValueError, match="metric's device"):
        metric.update(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2, dtype=torch.long))


def test_forward_returns_the_batch_value_and_accumulates() -> None:
    gen = torch.Generator().manual_seed(3)
    a = (torch.randn(2, 3, 5, 5, generator=gen), torch.randint(0, 3, (2, 5, 5), generator=gen))
    b = (torch.randn(1, 3, 5, 5, generator=gen), torch.randint(0, 3, (1, 5, 5), generator=gen))
    metric, alone = SegmentationMetrics(3), SegmentationMetrics(3)
    batch_value = metric(*a)
    alone.update(*a)
    torch.testing.assert_close(batch_value["miou"], alone.compute()["miou"])
    metric(*b)
    alone.update(*b)
    torch.testing.assert_close(metric.compute()["confusion_matrix"], alone.compute()["confusion_matrix"])


def test_flatten_names_classes() -> None:
    metric = SegmentationMetrics(2, class_names=["bg", "road"])
    metric.update(torch.tensor([[0, 1, 1]]), torch.tensor([[0, 1, 0]]))
    flat = metric.flatten()
    assert flat["per_class_iou/road"] == pytest.approx(0.5)
    assert flat["miou"] == pytest.approx(0.5)
    assert "confusion_matrix" not in flat and all(isinstance(v, float) for v in flat.values())
    assert "per_class_iou/0" in SegmentationMetrics(2).flatten(metric.compute())


def test_reset_clears() -> None:
    metric = SegmentationMetrics(3)
    metric.update(torch.tensor([[0, 1]]), torch.tensor([[0, 2]]))
    metric.reset()
    assert int(metric.confmat.sum()) == 0


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "multi"}, r"mode must be one of 'multiclass', 'binary', 'multilabel'; got 'multi'"),
        ({"preds": "scores"}, r"preds must be one of 'auto', 'logits', 'probabilities', 'labels'"),
        ({"absent": "nan"}, r"absent must be one of 'ignore', 'zero'"),
        ({"threshold": 1.5}, "threshold"),
        ({"class_names": ["a"]}, "class_names"),
        ({"mode": "binary"}, "num_classes must be 1 in binary mode"),
        ({"mode": "multilabel", "ignore_index": 1}, "ignore_index"),
        ({"ignore_index": 2.5}, "ignore_index"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SegmentationMetrics(3, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="num_classes"):
        SegmentationMetrics(0)


def test_out_of_range_target_raises_naming_the_value() -> None:
    metric = SegmentationMetrics(3, ignore_index=255)
    with pytest.raises(ValueError, match="value 7"):
        metric.update(torch.zeros(1, 4, dtype=torch.long), torch.tensor([[0, 255, 7, 1]]))
    with pytest.raises(ValueError, match="value -1"):
        metric.update(torch.zeros(1, 2, dtype=torch.long), torch.tensor([[-1, 0]]))
    assert int(metric.confmat.sum()) == 0  # nothing counted
    with pytest.raises(ValueError, match="value 2"):
        SegmentationMetrics(1, mode="binary").update(torch.zeros(1, 2), torch.tensor([[0, 2]]))
    with pytest.raises(ValueError, match="value 255"):
        SegmentationMetrics(3).update(torch.zeros(1, 1, dtype=torch.long), torch.tensor([[255]]))


def test_bad_predictions_raise() -> None:
    with pytest.raises(ValueError, match="label 3"):
        SegmentationMetrics(3).update(torch.tensor([[3, 0]]), torch.tensor([[0, 0]]))
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        SegmentationMetrics(1, mode="binary", preds="probabilities").update(torch.tensor([[1.5]]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match="outside \\{0, 1\\}"):
        SegmentationMetrics(2, mode="multilabel", preds="labels").update(
            torch.tensor([[[2], [0]]]), torch.tensor([[[1], [0]]])
        )
    with pytest.raises(ValueError, match="integer class indices"):
        SegmentationMetrics(3).update(torch.zeros(1, 2, dtype=torch.long), torch.zeros(1, 2))


@pytest.mark.parametrize(
    ("mode", "c", "preds", "target"),
    [
        ("multiclass", 3, torch.randn(2, 4, 5, 5), torch.zeros(2, 5, 5, dtype=torch.long)),
        ("multiclass", 3, torch.randn(2, 3, 5, 6), torch.zeros(2, 5, 5, dtype=torch.long)),
        ("multiclass", 3, torch.zeros(2, 5, 6, dtype=torch.long), torch.zeros(2, 5, 5, dtype=torch.long)),
        ("multiclass", 3, torch.randn(2, 5, 5), torch.zeros(2, 5, 5, dtype=torch.long)),
        ("multiclass", 3, torch.randn(2, 5), torch.zeros(2, 5, 5, 5, dtype=torch.long)),
        ("binary", 1, torch.randn(2, 2, 5, 5), torch.zeros(2, 5, 5, dtype=torch.long)),
        ("multilabel", 3, torch.randn(2, 3, 5, 5), torch.zeros(2, 5, 5, dtype=torch.long)),
        ("multilabel", 3, torch.randn(2, 2, 5, 5), torch.zeros(2, 2, 5, 5, dtype=torch.long)),
    ],
)
def test_shape_mismatch_says_expected_and_got(mode: str, c: int, preds: torch.Tensor, target: torch.Tensor) -> None:
    metric = SegmentationMetrics(c, mode=mode)
    with pytest.raises(InputShapeError, match=r"got"):
        metric.update(preds, target)


def test_labels_with_a_class_dim_are_rejected() -> None:
    with pytest.raises(InputShapeError, match="preds='labels'"):
        SegmentationMetrics(3, preds="labels").update(torch.randn(1, 3, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long))
