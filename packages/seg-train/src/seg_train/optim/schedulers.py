"""Warmup learning-rate schedulers: linear warmup, then polynomial or cosine decay.

Both compute the rate of step ``t`` (``last_epoch``) from a closed form of ``t`` and each
group's base rate, never from the previous rate, so a scheduler restored from its
``state_dict`` continues exactly, and ``step()`` may be called past ``total_steps`` (the rate
then stays at ``min_lr``). ``scheduler.lr_at(step)`` returns the rates of any step, e.g. to plot
a schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from seg_core.errors import ConfigError

__all__ = ["WarmupCosineLR", "WarmupPolyLR"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _WarmupLR(LRScheduler):
    """Linear warmup from ``warmup_start_factor * base_lr`` to ``base_lr``, then `_decay`."""

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int,
        *,
        warmup_steps: int = 0,
        warmup_start_factor: float = 0.001,
        min_lr: float | Sequence[float] = 0.0,
        last_epoch: int = -1,
    ) -> None:
        name = type(self).__name__
        if not _is_int(total_steps) or total_steps < 1:
            raise ConfigError(f"{name} total_steps must be an int >= 1, got {total_steps!r}")
        if not _is_int(warmup_steps) or not 0 <= warmup_steps < total_steps:
            raise ConfigError(
                f"{name} warmup_steps must be an int with 0 <= warmup_steps < total_steps ({total_steps}), "
                f"got {warmup_steps!r}"
            )
        if not _is_real(warmup_start_factor) or not 0.0 <= warmup_start_factor <= 1.0:
            raise ConfigError(f"{name} warmup_start_factor must be in [0, 1], got {warmup_start_factor!r}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name} needs a torch.optim.Optimizer, got {type(optimizer).__name__}")
        groups = len(optimizer.param_groups)
        if isinstance(min_lr, Sequence) and not isinstance(min_lr, str):
            min_lrs = list(min_lr)
            if len(min_lrs) != groups:
                raise ConfigError(
                    f"{name} min_lr must be one number or one per parameter group ({groups}), got {len(min_lrs)} values"
                )
        else:
            min_lrs = [min_lr] * groups
        for index, value in enumerate(min_lrs):
            if not _is_real(value) or value < 0:
                raise ConfigError(f"{name} min_lr must be a finite number >= 0, got {value!r} (group {index})")
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.warmup_start_factor = float(warmup_start_factor)
        self.min_lrs: list[float] = [float(value) for value in min_lrs]
        for index, (group, low) in enumerate(zip(optimizer.param_groups, self.min_lrs)):
            base = float(group.get("initial_lr", group["lr"]))
            if low > base:
                raise ConfigError(
                    f"{name} min_lr ({low}) must not exceed the base learning rate ({base}) of "
                    f"parameter group {index}; lower min_lr or pass one value per group"
                )
        super().__init__(optimizer, last_epoch)

    def _decay(self, progress: float) -> float:
        """The decay factor in ``[0, 1]`` at ``progress = (t - warmup) / (total - warmup)`` in ``[0, 1]``."""
        raise NotImplementedError

    def lr_at(self, step: int) -> list[float | Tensor]:
        """Return the learning rate of every parameter group at ``step`` (closed form).

        Args:
            step: The scheduler step (``last_epoch``); 0 is the rate before the first ``step()``.

        Returns:
            One learning rate per parameter group.

        Example:
            >>> import torch
            >>> from seg_train.optim.schedulers import WarmupPolyLR
            >>> optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
            >>> WarmupPolyLR(optimizer, total_steps=10, power=1.0).lr_at(5)
            [0.05]
        """
        t = max(step, 0)
        result: list[float | Tensor] = []
        for base, low in zip(self.base_lrs, self.min_lrs):
            if t < self.warmup_steps:
                start = self.warmup_start_factor
                result.append(base * (start + (1.0 - start) * t / self.warmup_steps))
            else:
                progress = min((t - self.warmup_steps) / (self.total_steps - self.warmup_steps), 1.0)
                result.append(low + (base - low) * self._decay(progress))
        return result

    def get_lr(self) -> list[float | Tensor]:
        """Return the learning rates at the current step (``last_epoch``), from the closed form.

        Returns:
            One learning rate per parameter group.

        Example:
            >>> import torch
            >>> from seg_train.optim.schedulers import WarmupCosineLR
            >>> optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
            >>> WarmupCosineLR(optimizer, total_steps=10).get_lr()
            [0.1]
        """
        return self.lr_at(self.last_epoch)

    def _get_closed_form_lr(self) -> list[float | Tensor]:
        return self.lr_at(self.last_epoch)


class WarmupPolyLR(_WarmupLR):
    """Linear warmup, then polynomial ("poly") decay to ``min_lr``.

    At step ``t`` (``last_epoch``), with warmup ``w``, total ``T``, start factor ``s`` and
    each parameter group's base rate ``base_lr``::

        t < w:        lr = base_lr * (s + (1 - s) * t / w)
        w <= t <= T:  lr = min_lr + (base_lr - min_lr) * (1 - (t - w) / (T - w)) ** power
        t > T:        lr = min_lr

    With ``warmup_steps=0`` and ``min_lr=0`` it equals `torch.optim.lr_scheduler.PolynomialLR`
    with ``total_iters=T``. Call ``step()`` once per optimizer step (``T`` is usually the total
    number of iterations).

    Args:
        optimizer: The optimizer; each group's ``lr`` (``initial_lr`` when resuming) is its base.
        total_steps: ``T``, the step at which the rate reaches ``min_lr`` (>= 1).
        warmup_steps: ``w``, the length of the linear warmup, ``0 <= w < T``.
        warmup_start_factor: ``s``, the fraction of ``base_lr`` at step 0, in ``[0, 1]``.
        power: The polynomial power, > 0 (0.9 in DeepLab and PixSeg).
        min_lr: The final rate, >= 0 and at most each base rate: one number, or one per group.
        last_epoch: The last step done, to resume without a state dict (-1 starts afresh).

    Raises:
        ConfigError: (a ``ValueError``) an argument outside its accepted range; the message names it.

    Example:
        >>> import torch
        >>> from seg_train.optim.schedulers import WarmupPolyLR
        >>> optimizer = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.01, momentum=0.9)
        >>> scheduler = WarmupPolyLR(optimizer, total_steps=1000, warmup_steps=50, power=0.9)
        >>> for _ in range(3):
        ...     optimizer.step()
        ...     scheduler.step()
    """

    def __init__(
        self,
        optimizer: Optimizer,
        total_steps: int,
        *,
        warmup_steps: int = 0,
        warmup_start_factor: float = 0.001,
        power: float = 0.9,
        min_lr: float | Sequence[float] = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if not _is_real(power) or power <= 0:
            raise ConfigError(f"WarmupPolyLR power must be a finite number > 0, got {power!r}")
        self.power = float(power)
        super().__init__(
            optimizer,
            total_steps,
            warmup_steps=warmup_steps,
            warmup_start_factor=warmup_start_factor,
            min_lr=min_lr,
            last_epoch=last_epoch,
        )

    def _decay(self, progress: float) -> float:
        return float((1.0 - progress) ** self.power)


class WarmupCosineLR(_WarmupLR):
    """Linear warmup, then half-cosine decay to ``min_lr``.

    At step ``t`` (``last_epoch``), with warmup ``w``, total ``T``, start factor ``s`` and
    each parameter group's base rate ``base_lr``::

        t < w:        lr = base_lr * (s + (1 - s) * t / w)
        w <= t <= T:  lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * (t - w) / (T - w))) / 2
        t > T:        lr = min_lr

    With ``warmup_steps=0`` it equals `torch.optim.lr_scheduler.CosineAnnealingLR` with
    ``T_max=T, eta_min=min_lr`` for ``t <= T`` (torch's then rises again; this one stays at
    ``min_lr``).

    Args:
        optimizer: The optimizer; each group's ``lr`` (``initial_lr`` when resuming) is its base.
        total_steps: ``T``, the step at which the rate reaches ``min_lr`` (>= 1).
        warmup_steps: ``w``, the length of the linear warmup, ``0 <= w < T``.
        warmup_start_factor: ``s``, the fraction of ``base_lr`` at step 0, in ``[0, 1]``.
        min_lr: The final rate, >= 0 and at most each base rate: one number, or one per group.
        last_epoch: The last step done, to resume without a state dict (-1 starts afresh).

    Raises:
        ConfigError: (a ``ValueError``) an argument outside its accepted range; the message names it.

    Example:
        >>> import torch
        >>> from seg_train.optim.schedulers import WarmupCosineLR
        >>> optimizer = torch.optim.AdamW(torch.nn.Linear(2, 2).parameters(), lr=6e-5)
        >>> scheduler = WarmupCosineLR(optimizer, total_steps=1000, warmup_steps=100, min_lr=1e-6)
        >>> optimizer.step()
        >>> scheduler.step()
    """

    def _decay(self, progress: float) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * progress))
