"""What every seg-train loss shares: its modes, and arithmetic (``ce + 0.5 * dice`` is a `WeightedSum`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from seg_core.errors import ConfigError

__all__ = ["BINARY", "MODES", "MULTICLASS", "MULTILABEL", "SegLoss", "WeightedSum", "check_factor"]

BINARY = "binary"
MULTICLASS = "multiclass"
MULTILABEL = "multilabel"
#: Every mode a loss may support: one foreground channel, one label per pixel, or independent labels.
MODES: tuple[str, ...] = (BINARY, MULTICLASS, MULTILABEL)


class SegLoss(nn.Module):
    """Base class of seg-train's losses.

    Subclasses declare ``modes``, the modes they support. Two losses add up and scale
    like numbers: ``ce + 0.5 * dice`` is a `WeightedSum`.

    Attributes:
        modes: The modes this loss supports.
        mode: The mode of this instance.
        ignore_index: Target value whose pixels do not count (None: no pixel is ignored).
    """

    modes: tuple[str, ...] = MODES
    mode: str
    ignore_index: int | None = None
    weight: torch.Tensor | None

    def __add__(self, other: Any) -> WeightedSum:
        return WeightedSum.of(self) + other

    def __radd__(self, other: Any) -> WeightedSum:
        if isinstance(other, (int, float)) and other == 0:  # sum([a, b]) starts from 0
            return WeightedSum.of(self)
        return NotImplemented

    def __mul__(self, factor: Any) -> WeightedSum:
        return WeightedSum.of(self) * factor

    __rmul__ = __mul__


def _term_name(loss: nn.Module, taken: Sequence[str]) -> str:
    base = type(loss).__name__
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def check_factor(factor: Any) -> float:
    """A loss weight: a finite number (a ConfigError otherwise)."""
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not torch.isfinite(torch.tensor(factor)):
        raise ConfigError(f"a loss can be scaled by a finite number; got {factor!r}")
    return float(factor)


class WeightedSum(SegLoss):
    """``sum_i w_i L_i(pred, target)``: what ``ce + 0.5 * dice`` builds.

    After each call, ``last`` holds each term's (detached, unweighted) value by name, for logging.

    Args:
        terms: ``(weight, loss)`` pairs; each loss is any ``nn.Module`` called as ``loss(pred, target)``.

    Raises:
        ConfigError: No terms, or a weight that is not a finite number.

    Example:
        >>> import torch
        >>> from seg_train.losses import CrossEntropyLoss, DiceLoss
        >>> loss = CrossEntropyLoss() + 0.5 * DiceLoss("multiclass")
        >>> value = loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)))
        >>> sorted(loss.last)
        ['CrossEntropyLoss', 'DiceLoss']
    """

    def __init__(self, terms: Sequence[tuple[float, nn.Module]]) -> None:
        super().__init__()
        if not terms:
            raise ConfigError("WeightedSum needs at least one (weight, loss) term")
        names: list[str] = []
        for _, loss in terms:
            if not isinstance(loss, nn.Module):
                raise ConfigError(f"WeightedSum terms must be loss modules; got {type(loss).__name__}")
            names.append(_term_name(loss, names))
        self.names = names
        self.weights = [check_factor(w) for w, _ in terms]
        self.losses = nn.ModuleList([loss for _, loss in terms])
        modes = {str(getattr(loss, "mode", "")) for loss in self.losses} - {""}
        self.mode = modes.pop() if len(modes) == 1 else "mixed"
        ignores = {getattr(loss, "ignore_index", None) for loss in self.losses}
        self.ignore_index = ignores.pop() if len(ignores) == 1 else None
        self.last: dict[str, torch.Tensor] = {}

    @classmethod
    def of(cls, loss: nn.Module) -> WeightedSum:
        """``loss`` as a sum of one term (a WeightedSum is returned unchanged)."""
        return loss if isinstance(loss, WeightedSum) else cls([(1.0, loss)])

    @property
    def terms(self) -> list[tuple[float, nn.Module]]:
        """The ``(weight, loss)`` pairs."""
        return list(zip(self.weights, self.losses))

    def __add__(self, other: Any) -> WeightedSum:
        if not isinstance(other, nn.Module):
            return NotImplemented
        return WeightedSum([*self.terms, *WeightedSum.of(other).terms])

    def __mul__(self, factor: Any) -> WeightedSum:
        factor = check_factor(factor)
        return WeightedSum([(w * factor, loss) for w, loss in self.terms])

    __rmul__ = __mul__

    def forward(self, pred: Any, target: torch.Tensor) -> torch.Tensor:
        """Return the weighted sum of the terms on ``(pred, target)``."""
        total: torch.Tensor | None = None
        last: dict[str, torch.Tensor] = {}
        for name, weight, loss in zip(self.names, self.weights, self.losses):
            value = loss(pred, target)
            last[name] = value.detach()
            total = value * weight if total is None else total + value * weight
        self.last = last
        assert total is not None
        return total

    def extra_repr(self) -> str:
        return " + ".join(f"{w:g} * {n}" for w, n in zip(self.weights, self.names))
