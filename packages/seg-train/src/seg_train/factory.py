"""Build losses, metrics, optimizers and schedulers by their registered names (what a config names).

Example:
    >>> import torch
    >>> from seg_train.factory import create_loss, create_optimizer, create_scheduler
    >>> loss = create_loss("DiceLoss", mode="multiclass")
    >>> model = torch.nn.Linear(2, 2)
    >>> optimizer = create_optimizer("AdamW", model, lr=1e-3, weight_decay=1e-2)
    >>> scheduler = create_scheduler("warmup_poly", optimizer, total_steps=100, warmup_steps=5)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from seg_core import get_registry
from seg_core.components import check_kwargs, create_checked
from seg_core.errors import ConfigError
from seg_train._plugin import METRICS_KIND

__all__ = [
    "create_loss",
    "create_metric",
    "create_optimizer",
    "create_scheduler",
    "list_metrics",
    "list_optimizers",
    "list_schedulers",
]

#: The options `create_optimizer` takes for `seg_train.optim.param_groups` when given a model.
GROUP_OPTIONS = ("lr", "weight_decay", "encoder_lr", "encoder_weight_decay", "no_decay_norm_bias", "encoder_freeze")


def create_loss(name: str, /, **kwargs: Any) -> nn.Module:
    """Build a registered loss.

    Args:
        name: A loss name (``seg list losses``), e.g. ``"dice"`` or smp's ``"DiceLoss"``.
        **kwargs: The loss's arguments.

    Returns:
        The loss module.

    Raises:
        UnknownNameError: No such loss (with close matches).
        ConfigError: Arguments the loss does not accept, or bad values.

    Example:
        >>> loss = create_loss("focal", mode="multiclass", ignore_index=255)
    """
    return create_checked("losses", name, kwargs, nn.Module, "which is not a torch.nn.Module")


def create_metric(name: str, /, **kwargs: Any) -> Any:
    """Build a registered metric (a ``torchmetrics.Metric``).

    Example:
        >>> metric = create_metric("segmentation", num_classes=3, ignore_index=255)
    """
    from torchmetrics import Metric

    metric_type: type = Metric  # abstract, but isinstance works
    return create_checked(METRICS_KIND, name, kwargs, metric_type, "which is not a torchmetrics.Metric")


def create_optimizer(name: str, model_or_params: nn.Module | Iterable[Any], /, **options: Any) -> torch.optim.Optimizer:
    """Build a registered optimizer (every ``torch.optim`` one, and ``Padam``).

    Args:
        name: The optimizer's name, e.g. ``"AdamW"`` (case does not matter).
        model_or_params: A model, whose parameters are grouped by `seg_train.optim.param_groups`
            (encoder learning rate, no decay on norms and biases, encoder freezing), or parameters
            / parameter groups as torch takes them.
        **options: With a model, ``lr``, ``weight_decay``, ``encoder_lr``, ``encoder_weight_decay``,
            ``no_decay_norm_bias`` and ``encoder_freeze`` go to ``param_groups``; the rest go to
            the optimizer.

    Returns:
        The optimizer.

    Raises:
        UnknownNameError: No such optimizer.
        ConfigError: Options neither the grouping nor the optimizer accepts.

    Example:
        >>> model = torch.nn.Linear(2, 2)
        >>> optimizer = create_optimizer("SGD", model, lr=0.01, momentum=0.9)
    """
    factory = get_registry("optimizers").get(name)
    if isinstance(model_or_params, nn.Module):
        from seg_train.optim.param_groups import param_groups

        grouping = {k: options.pop(k) for k in GROUP_OPTIONS if k in options}
        if "lr" not in grouping:
            raise ConfigError(f"create_optimizer({name!r}, model, ...) needs lr=, the learning rate")
        check_kwargs(factory, options, f"optimizer {name!r}")
        params: Any = param_groups(model_or_params, **grouping)
        options["lr"] = grouping["lr"]
    else:
        check_kwargs(factory, options, f"optimizer {name!r}")
        params = model_or_params
    optimizer = factory(params, **options)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ConfigError(f"optimizer {name!r} built a {type(optimizer).__name__}, not a torch.optim.Optimizer")
    return optimizer


def create_scheduler(name: str, optimizer: torch.optim.Optimizer, /, **options: Any) -> Any:
    """Build a registered learning-rate scheduler for ``optimizer``.

    Example:
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
        >>> scheduler = create_scheduler("StepLR", optimizer, step_size=10)
    """
    factory = get_registry("schedulers").get(name)
    check_kwargs(factory, options, f"scheduler {name!r}")
    return factory(optimizer, **options)


def list_optimizers(pattern: str | None = None) -> list[str]:
    """List optimizer names, optionally filtered by an fnmatch pattern."""
    return get_registry("optimizers").names(pattern)


def list_schedulers(pattern: str | None = None) -> list[str]:
    """List scheduler names, optionally filtered by an fnmatch pattern."""
    return get_registry("schedulers").names(pattern)


def list_metrics(pattern: str | None = None) -> list[str]:
    """List metric names, optionally filtered by an fnmatch pattern."""
    return get_registry(METRICS_KIND).names(pattern)
