"""check_metric: passes for seg-train's metrics, fails for broken ones."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from torch import Tensor
from torchmetrics import Metric

from seg_train.metrics.segmentation import SegmentationMetrics
from seg_train.metrics.surface import HausdorffDistance95
from seg_train.testing.metrics import MetricReport, check_metric


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("segmentation", {}),
        ("segmentation", {"ignore_index": 255, "absent": "zero"}),
        ("segmentation", {"preds": "labels"}),
        ("segmentation", {"preds": "probabilities"}),
        ("segmentation", {"mode": "multilabel"}),
        ("hausdorff95", {}),
        ("hausdorff95", {"include_background": True, "spacing": None}),
    ],
)
def test_registered_metrics_pass(name: str, kwargs: dict[str, Any]) -> None:
    report = check_metric(name, num_classes=3, **kwargs)
    assert isinstance(report, MetricReport) and report.name == name
    for check in (
        "every state has a dist_reduce_fx",
        "update/compute on 2D inputs",
        "update/compute on 3D inputs",
        "inputs not mutated",
        "results on the input device",
        "two batches accumulate like one concatenated batch",
        "reset clears the state",
        "a perfect prediction gets the perfect scores",
    ):
        assert check in report.checks
    if name == "segmentation":
        assert "same result for the same pixels as 4D and 5D inputs" in report.checks
    else:
        assert any(s.startswith("4D vs 5D") for s in report.skipped)


def test_binary_mode_passes() -> None:
    report = check_metric("segmentation", num_classes=1, mode="binary", preds="probabilities")
    assert not report.skipped


def test_instances_are_cloned_not_updated() -> None:
    metric = SegmentationMetrics(4, ignore_index=255)
    check_metric(metric, num_classes=4)
    assert int(metric.confmat.sum()) == 0
    check_metric(HausdorffDistance95(3, percentile=90.0))


def test_report_is_frozen() -> None:
    report = check_metric("segmentation")
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.name = "other"  # type: ignore[misc]


def test_device_is_checked_where_available() -> None:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    assert check_metric("segmentation", device=device).checks


def test_rejects_non_metrics() -> None:
    with pytest.raises(TypeError, match="torchmetrics.Metric"):
        check_metric(object())
    with pytest.raises(TypeError, match="by name"):
        check_metric(SegmentationMetrics(3), ignore_index=1)


# ----------------------------------------------------------------------------- broken metrics
class _Counts(Metric):
    """A correct pixel-accuracy metric that the broken ones below change one thing of."""

    full_state_update = False
    correct: Tensor
    total: Tensor

    def __init__(self, num_classes: int, **kwargs: object) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.add_state("correct", torch.tensor(0), dist_reduce_fx="sum")
        self.add_state("total", torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        self.correct += (preds == target).sum()
        self.total += target.numel()

    def compute(self) -> Tensor:
        return self.correct / self.total


class _MutatesInput(_Counts):
    def update(self, preds: Tensor, target: Tensor) -> None:
        target.clamp_(max=0)  # in place: the caller's tensor changes
        super().update(preds, target)


class _LayoutDependent(_Counts):
    def update(self, preds: Tensor, target: Tensor) -> None:
        super().update(preds[..., 0, :], target[..., 0, :])  # only the first row of H


class _NotSynced(_Counts):
    def __init__(self, num_classes: int, **kwargs: object) -> None:
        super().__init__(num_classes)
        self.add_state("extra", torch.tensor(0), dist_reduce_fx=None)


class _ResetKeeps(_Counts):
    def reset(self) -> None:
        correct, total = self.correct, self.total
        super().reset()
        self.correct, self.total = correct, total


class _WrongDevice(_Counts):
    def compute(self) -> Tensor:
        return super().compute().to("meta")


class _NotPerfect(_Counts):
    perfect_scores = {"value": 1.0}

    def compute(self) -> Tensor:
        return super().compute() * 0.5


def test_the_correct_base_passes() -> None:
    report = check_metric(_Counts(3))
    assert "same result for the same pixels as 4D and 5D inputs" in report.checks
    assert any(s.startswith("perfect prediction") for s in report.skipped)


@pytest.mark.parametrize(
    ("metric", "match"),
    [
        (_MutatesInput(3), "mutated its target"),
        (_LayoutDependent(3), "4D vs 5D"),
        (_NotSynced(3), "no dist_reduce_fx"),
        (_ResetKeeps(3), "reset"),
        (_WrongDevice(3), "on meta"),
        (_NotPerfect(3), "perfect"),
    ],
    ids=["mutates", "layout", "not-synced", "reset", "device", "not-perfect"],
)
def test_broken_metrics_fail(metric: Metric, match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        check_metric(metric)
