"""seg train: the trainer, its TOML config and commands, and the losses, metrics, optimizers and schedulers.

Importing ``seg_train`` is cheap; torch-based parts load on first attribute access.
Everything here is also registered by name (``seg list losses``, ``seg list optimizers``,
``seg list schedulers``, ``seg list metrics``), so a config can name it.

Example:
    >>> import torch
    >>> import seg_train
    >>> loss = seg_train.create_loss("cross_entropy") + 0.5 * seg_train.create_loss("dice", mode="multiclass")
    >>> value = loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "create_loss": "seg_train.factory",
    "create_metric": "seg_train.factory",
    "create_optimizer": "seg_train.factory",
    "create_scheduler": "seg_train.factory",
    "list_metrics": "seg_train.factory",
    "list_optimizers": "seg_train.factory",
    "list_schedulers": "seg_train.factory",
    "SegmentationMetrics": "seg_train.metrics.segmentation",
    "HausdorffDistance95": "seg_train.metrics.surface",
    "Padam": "seg_train.optim.padam",
    "WarmupPolyLR": "seg_train.optim.schedulers",
    "WarmupCosineLR": "seg_train.optim.schedulers",
    "param_groups": "seg_train.optim.param_groups",
    "Trainer": "seg_train.trainer",
    "seed_everything": "seg_train.seeding",
    "load_config": "seg_train.config.validate",
    "parse_config": "seg_train.config.validate",
    "train": "seg_train.run",
    "sliding_window_inference": "seg_train.inference.sliding_window",
    "TestTimeAugmentation": "seg_train.inference.tta",
}

__all__ = ["__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:
    from seg_train.config.validate import load_config, parse_config
    from seg_train.factory import (
        create_loss,
        create_metric,
        create_optimizer,
        create_scheduler,
        list_metrics,
        list_optimizers,
        list_schedulers,
    )
    from seg_train.inference.sliding_window import sliding_window_inference
    from seg_train.inference.tta import TestTimeAugmentation
    from seg_train.metrics.segmentation import SegmentationMetrics
    from seg_train.metrics.surface import HausdorffDistance95
    from seg_train.optim.padam import Padam
    from seg_train.optim.param_groups import param_groups
    from seg_train.optim.schedulers import WarmupCosineLR, WarmupPolyLR
    from seg_train.run import train
    from seg_train.seeding import seed_everything
    from seg_train.trainer import Trainer
