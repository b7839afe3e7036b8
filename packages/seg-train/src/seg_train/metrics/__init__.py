"""Segmentation metrics: confusion-matrix metrics on torchmetrics, and surface distances.

Example:
    >>> import torch
    >>> from seg_train.metrics import SegmentationMetrics
    >>> metric = SegmentationMetrics(num_classes=3)
    >>> metric.update(torch.tensor([[0, 1, 2]]), torch.tensor([[0, 1, 1]]))
    >>> round(float(metric.compute()["accuracy"]), 3)
    0.667
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports

_LAZY: dict[str, str] = {
    "SegmentationMetrics": "seg_train.metrics.segmentation",
    "HausdorffDistance95": "seg_train.metrics.surface",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:
    from seg_train.metrics.segmentation import SegmentationMetrics
    from seg_train.metrics.surface import HausdorffDistance95
