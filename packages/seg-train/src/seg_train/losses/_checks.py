"""Argument checks shared by the losses: each names the argument and the accepted values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from seg_core.errors import ConfigError

_REDUCTIONS = ("mean", "sum", "none")


def check_mode(cls: type, mode: Any) -> str:
    """Return ``mode`` if ``cls`` (a loss class with ``modes``) supports it.

    Raises:
        ConfigError: Naming the accepted modes.
    """
    modes = getattr(cls, "modes", ())
    if mode not in modes:
        raise ConfigError(
            f"{cls.__name__} got mode={mode!r}; accepted: {', '.join(map(repr, modes))}"
            + ("" if isinstance(mode, str) else " (a string)")
        )
    return str(mode)


def check_choice(owner: str, argument: str, value: Any, accepted: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``accepted``, else raise a ConfigError naming them."""
    if value not in accepted:
        raise ConfigError(f"{owner} got {argument}={value!r}; accepted: {', '.join(map(repr, accepted))}")
    return value


def check_reduction(owner: str, reduction: Any) -> str:
    """``reduction`` must be ``"mean"``, ``"sum"`` or ``"none"``."""
    return str(check_choice(owner, "reduction", reduction, _REDUCTIONS))


def check_number(
    owner: str,
    argument: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it lies in the interval, else raise a ConfigError naming it.

    Args:
        owner: The loss's class name, for the message.
        argument: The argument's name.
        value: What was passed.
        low: Lower bound (None: unbounded).
        high: Upper bound (None: unbounded).
        low_open: Exclude ``low`` itself.
        high_open: Exclude ``high`` itself.

    Returns:
        The value as a float.

    Raises:
        ConfigError: Not a real number, NaN, or outside the interval.
    """
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    accepted = f"a number in {interval}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigError(f"{owner} got {argument}={value!r}; accepted: {accepted}")
    number = float(value)
    too_low = low is not None and (number < low or (low_open and number == low))
    too_high = high is not None and (number > high or (high_open and number == high))
    if too_low or too_high:
        raise ConfigError(f"{owner} got {argument}={value!r}; accepted: {accepted}")
    return number


def check_optional_number(owner: str, argument: str, value: Any, **bounds: Any) -> float | None:
    """`check_number`, with None accepted (and returned)."""
    if value is None:
        return None
    try:
        return check_number(owner, argument, value, **bounds)
    except ConfigError as error:
        raise ConfigError(f"{error} or None") from None


def check_ignore_index(owner: str, ignore_index: Any) -> int | None:
    """``ignore_index`` must be an int or None."""
    if ignore_index is None:
        return None
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ConfigError(
            f"{owner} got ignore_index={ignore_index!r}; accepted: an integer label value (e.g. 255) or None"
        )
    return int(ignore_index)


def as_class_weight(owner: str, weight: Any, *, argument: str = "weight") -> torch.Tensor | None:
    """Copy per-class weights into a new float tensor (the caller's tensor is never changed).

    Args:
        owner: The loss's class name, for the message.
        weight: A sequence or 1-D tensor of non-negative numbers with a positive sum, or None.
        argument: The argument's name in messages.

    Returns:
        A new 1-D float32 tensor, or None.

    Raises:
        ConfigError: Not 1-D, negative or non-finite values, or all zero.
    """
    if weight is None:
        return None
    try:
        tensor = torch.as_tensor(weight, dtype=torch.float32).detach().clone()
    except (TypeError, ValueError, RuntimeError) as error:
        raise ConfigError(
            f"{owner} got {argument}={weight!r}; accepted: one number per class (a list or 1-D tensor)"
        ) from error
    if tensor.ndim != 1 or tensor.numel() == 0:
        raise ConfigError(
            f"{owner} got {argument} of shape {tuple(tensor.shape)}; accepted: one number per class, a 1-D sequence"
        )
    if not torch.isfinite(tensor).all() or (tensor < 0).any() or tensor.sum() <= 0:
        raise ConfigError(
            f"{owner} got {argument}={tensor.tolist()}; the weights must be finite, non-negative and not all zero"
        )
    return tensor


def check_weight_size(owner: str, weight: torch.Tensor | None, num_classes: int, argument: str = "weight") -> None:
    """The number of weights must equal the number of classes of the prediction."""
    if weight is not None and weight.numel() != num_classes:
        raise ConfigError(
            f"{owner}: {argument} has {weight.numel()} values but the prediction has {num_classes} classes "
            f"(channels); give one weight per class"
        )
