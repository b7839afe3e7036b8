"""Conformance kit for loss and metric authors: ``check_loss`` and ``check_metric``.

Call these from your plugin's own tests, like ``seg_core.testing``; seg runs them over every
registered loss and metric.

Example:
    >>> from seg_train.testing import check_loss
    >>> report = check_loss("dice", mode="multiclass")
"""

from seg_train.testing.losses import LossReport, check_loss
from seg_train.testing.metrics import MetricReport, check_metric

__all__ = ["LossReport", "MetricReport", "check_loss", "check_metric"]
