"""``check_loss``: what every seg loss must do, checked on random inputs.

Example:
    >>> from seg_train.testing import check_loss
    >>> check_loss("lovasz", mode="binary").checks[:2]
    ('scalar', 'finite_gradients')
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["LossReport", "check_loss"]

_MODES = ("binary", "multiclass", "multilabel")


@dataclass(frozen=True)
class LossReport:
    """What `check_loss` checked.

    Attributes:
        name: The loss's name (registered name or class name).
        modes: The modes it was checked in.
        checks: The checks that ran (in the last mode), in order.
    """

    name: str
    modes: tuple[str, ...]
    checks: tuple[str, ...]


def check_loss(
    loss: nn.Module | str,
    /,
    *,
    mode: str | None = None,
    num_classes: int = 3,
    ignore_index: int | None = 255,
    seed: int = 0,
    **kwargs: Any,
) -> LossReport:
    """Check a loss: shapes, 4D/5D consistency, ignore invariance, gradients, no input mutation.

    For each mode it runs on random logits and targets (with ignored pixels and a class absent
    from the target) and asserts that:

    - the loss is a finite scalar, with finite gradients;
    - the same pixels laid out as (N, C, H, W) and as (N, C, D, H', W) give the same value;
    - changing the prediction only at ignored pixels leaves the loss unchanged, and the gradient
      there is exactly zero;
    - neither the prediction, the target nor the caller's per-class ``weight`` tensor is changed;
    - two calls give the same value, and a confident correct prediction scores lower than a
      confident wrong one.

    Args:
        loss: A loss module, or a registered loss name (built with ``kwargs``, once per mode).
        mode: The mode to check; default: the module's ``mode``, or, for a name, every mode the
            loss class declares (``modes``) that its constructor takes.
        num_classes: Channels of the random prediction (binary uses 1).
        ignore_index: The ignore value used when the loss takes ``ignore_index`` (passed to a name;
            read from a module's ``ignore_index``). None checks without ignored pixels.
        seed: Seed of the random inputs.
        **kwargs: Arguments for building a named loss.

    Returns:
        What was checked.

    Raises:
        AssertionError: A check failed; the message says which and by how much.

    Example:
        >>> from seg_train.losses import FocalLoss
        >>> check_loss(FocalLoss("multilabel", ignore_index=255)).modes
        ('multilabel',)
    """
    if isinstance(loss, str):
        return _check_named(loss, mode, num_classes, ignore_index, seed, kwargs)
    if kwargs:
        raise TypeError(f"check_loss got arguments {sorted(kwargs)} for a loss that is already built")
    the_mode = mode or getattr(loss, "mode", None) or "multiclass"
    if the_mode not in _MODES:
        the_mode = "multiclass"
    checks = _check_module(type(loss).__name__, loss, the_mode, num_classes, getattr(loss, "ignore_index", None), seed)
    return LossReport(type(loss).__name__, (the_mode,), checks)


def _check_named(
    name: str, mode: str | None, num_classes: int, ignore_index: int | None, seed: int, kwargs: dict[str, Any]
) -> LossReport:
    from seg_core import get_registry
    from seg_train.factory import create_loss

    factory = get_registry("losses").get(name)
    params = _parameters(factory)
    declared = getattr(factory, "modes", _MODES)
    modes = (mode,) if mode else tuple(declared)
    checks: tuple[str, ...] = ()
    for each in modes:
        build = dict(kwargs)
        if "mode" in params and "mode" not in build:
            build["mode"] = each
        if "ignore_index" in params and "ignore_index" not in build:
            build["ignore_index"] = ignore_index
        weight = None
        if "weight" in params and "weight" not in build and each != "binary":
            weight = torch.linspace(0.5, 2.0, num_classes)
            build["weight"] = weight
        snapshot = None if weight is None else weight.clone()
        built = create_loss(name, **build)
        checks = _check_module(name, built, each, num_classes, getattr(built, "ignore_index", None), seed)
        if weight is not None:
            assert snapshot is not None
            assert torch.equal(weight, snapshot), f"{name} ({each}): changed the caller's weight tensor"
            checks = (*checks, "weight_untouched")
    return LossReport(name, modes, checks)


def _parameters(factory: Any) -> set[str]:
    try:
        return set(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        return set()


def _inputs(mode: str, num_classes: int, ignore_index: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    c = 1 if mode == "binary" else num_classes
    n, h, w = 2, 6, 8
    pred = torch.randn(n, c, h, w, generator=g, dtype=torch.float64) * 2
    if mode == "multiclass":
        # The last class is absent from the target.
        target = torch.randint(0, max(c - 1, 1), (n, h, w), generator=g)
    elif mode == "binary":
        target = torch.randint(0, 2, (n, h, w), generator=g).to(torch.float64)
    else:
        target = torch.randint(0, 2, (n, c, h, w), generator=g).to(torch.float64)
        target[:, -1] = 0
    if ignore_index is not None:
        ignored = torch.rand(target.shape, generator=g) < 0.25
        target = target.masked_fill(ignored, ignore_index)
    return pred, target


def _ignored(mode: str, pred: torch.Tensor, target: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    """Where in ``pred`` the target is ignored (the prediction's shape)."""
    if ignore_index is None:
        return torch.zeros_like(pred, dtype=torch.bool)
    mask = target == ignore_index
    if mode == "multilabel":
        return mask
    return mask.unsqueeze(1).expand_as(pred)


def _value(name: str, loss: nn.Module, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    value = loss(pred, target)
    assert isinstance(value, torch.Tensor), f"{name}: returned {type(value).__name__}, not a tensor"
    return value if value.ndim == 0 else value.sum()


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.allclose(a, b, rtol=1e-6, atol=1e-9))


def _check_module(
    name: str, loss: nn.Module, mode: str, num_classes: int, ignore_index: int | None, seed: int
) -> tuple[str, ...]:
    where = f"{name} ({mode})"
    loss = loss.double()
    pred, target = _inputs(mode, num_classes, ignore_index, seed)
    pred_before, target_before = pred.clone(), target.clone()
    checks = []

    x = pred.clone().requires_grad_(True)
    value = loss(x, target)
    assert isinstance(value, torch.Tensor), f"{where}: returned {type(value).__name__}, not a tensor"
    assert value.ndim == 0 or getattr(loss, "reduction", "mean") == "none", (
        f"{where}: returned shape {tuple(value.shape)}, not a scalar"
    )
    assert torch.isfinite(value).all(), f"{where}: the loss is not finite ({value})"
    checks.append("scalar")
    (value if value.ndim == 0 else value.sum()).backward()
    assert x.grad is not None, f"{where}: no gradient reaches the prediction"
    assert torch.isfinite(x.grad).all(), f"{where}: non-finite gradient"
    checks.append("finite_gradients")

    assert torch.equal(pred, pred_before), f"{where}: changed the prediction tensor in place"
    assert torch.equal(target, target_before), f"{where}: changed the target tensor in place"
    checks.append("inputs_untouched")

    again = _value(where, loss, pred, target)
    assert _close(again, value.detach() if value.ndim == 0 else value.detach().sum()), (
        f"{where}: two calls differ ({float(again)} vs {float(value.detach().sum())})"
    )
    checks.append("deterministic")

    n, c, h, w = pred.shape
    pred5 = pred.reshape(n, c, 2, h // 2, w)
    target5 = target.reshape(*target.shape[:-2], 2, h // 2, w)
    flat, volume = _value(where, loss, pred, target), _value(where, loss, pred5, target5)
    assert _close(flat, volume), f"{where}: 4D gives {float(flat)} but the same pixels in 5D give {float(volume)}"
    checks.append("4d_equals_5d")

    ignored = _ignored(mode, pred, target, ignore_index)
    if ignored.any():
        assert x.grad is not None
        leak = x.grad[ignored].abs().max().item()
        assert leak == 0, f"{where}: the gradient at ignored pixels is not zero (max |grad| {leak:.3g})"
        changed = pred + torch.randn_like(pred) * 5 * ignored
        moved = _value(where, loss, changed, target)
        assert _close(moved, flat), (
            f"{where}: changing the prediction only at ignored pixels changed the loss ({float(flat)} -> "
            f"{float(moved)}): ignored pixels count"
        )
        checks += ["ignored_gradient_zero", "ignore_invariance"]

    good, bad = _confident(mode, target, ignore_index, c)
    good_value, bad_value = _value(where, loss, good, target), _value(where, loss, bad, target)
    assert good_value < bad_value, (
        f"{where}: a confident correct prediction scores {float(good_value)}, not lower than a confident wrong "
        f"one ({float(bad_value)})"
    )
    checks.append("orders_predictions")
    return tuple(checks)


def _confident(
    mode: str, target: torch.Tensor, ignore_index: int | None, channels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits that are confidently right and confidently wrong for ``target``."""
    clean = target if ignore_index is None else target.masked_fill(target == ignore_index, 0)
    if mode == "multiclass":
        one_hot = torch.nn.functional.one_hot(clean.long(), channels).movedim(-1, 1).to(torch.float64)
    elif mode == "binary":
        one_hot = clean.unsqueeze(1).to(torch.float64)
    else:
        one_hot = clean.to(torch.float64)
    good = (one_hot * 2 - 1) * 8
    return good, -good
