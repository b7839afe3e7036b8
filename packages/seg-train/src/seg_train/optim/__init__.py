"""Optimizers, learning-rate schedulers and parameter groups.

Every ``torch.optim`` optimizer and scheduler is also available by name through
`seg_train.create_optimizer` / `seg_train.create_scheduler`.

Example:
    >>> import torch
    >>> from seg_train.optim import Padam, WarmupPolyLR
    >>> model = torch.nn.Linear(2, 2)
    >>> optimizer = Padam(model.parameters(), lr=0.1, partial=0.125)
    >>> scheduler = WarmupPolyLR(optimizer, total_steps=100, warmup_steps=10)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports

_LAZY: dict[str, str] = {
    "Padam": "seg_train.optim.padam",
    "WarmupPolyLR": "seg_train.optim.schedulers",
    "WarmupCosineLR": "seg_train.optim.schedulers",
    "param_groups": "seg_train.optim.param_groups",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:
    from seg_train.optim.padam import Padam
    from seg_train.optim.param_groups import param_groups
    from seg_train.optim.schedulers import WarmupCosineLR, WarmupPolyLR
