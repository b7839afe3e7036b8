"""Warmup poly / cosine schedulers: closed forms, torch equivalents, resuming, arguments."""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import pytest
import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, PolynomialLR

from seg_core.errors import ConfigError
from seg_train.optim.schedulers import WarmupCosineLR, WarmupPolyLR

BASES = (0.1, 0.01)


def _optimizer(bases: tuple[float, ...] = BASES) -> torch.optim.SGD:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in bases]
    return torch.optim.SGD(groups, lr=bases[0], momentum=0.9)


def _warmup(base: float, t: int, w: int, s: float) -> float:
    return base * (s + (1 - s) * t / w)


def _poly(base: float, t: int, *, T: int, w: int, s: float, power: float, low: float) -> float:
    if t < w:
        return _warmup(base, t, w, s)
    if t >= T:
        return low
    return low + (base - low) * (1 - (t - w) / (T - w)) ** power


def _cosine(base: float, t: int, *, T: int, w: int, s: float, low: float) -> float:
    if t < w:
        return _warmup(base, t, w, s)
    if t >= T:
        return low
    return low + (base - low) * 0.5 * (1 + math.cos(math.pi * (t - w) / (T - w)))


def _trajectory(scheduler: Any, steps: int) -> list[list[float]]:
    """Learning rates of every group at steps 0..steps (optimizer.step() before each scheduler step)."""
    lrs = [[group["lr"] for group in scheduler.optimizer.param_groups]]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append([group["lr"] for group in scheduler.optimizer.param_groups])
        assert scheduler.get_last_lr() == lrs[-1]
    return lrs


@pytest.mark.parametrize(
    ("w", "s", "power", "min_lr"),
    [(0, 0.001, 0.9, 0.0), (5, 0.001, 0.9, 1e-4), (7, 0.0, 2.0, (1e-3, 0.0)), (3, 1.0, 0.5, 0.0)],
)
def test_poly_follows_the_closed_form(w: int, s: float, power: float, min_lr: Any) -> None:
    T = 20
    scheduler = WarmupPolyLR(_optimizer(), T, warmup_steps=w, warmup_start_factor=s, power=power, min_lr=min_lr)
    lows = min_lr if isinstance(min_lr, tuple) else (min_lr,) * len(BASES)
    for t, lrs in enumerate(_trajectory(scheduler, T + 5)):
        expected = [_poly(b, t, T=T, w=w, s=s, power=power, low=low) for b, low in zip(BASES, lows)]
        assert lrs == pytest.approx(expected, rel=1e-12, abs=1e-15), t
        assert lrs == pytest.approx(scheduler.lr_at(t), rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("w", "s", "min_lr"), [(0, 0.001, 0.0), (4, 0.001, 1e-3), (6, 0.0, (2e-3, 1e-4)), (1, 0.5, 0.0)]
)
def test_cosine_follows_the_closed_form(w: int, s: float, min_lr: Any) -> None:
    T = 16
    scheduler = WarmupCosineLR(_optimizer(), T, warmup_steps=w, warmup_start_factor=s, min_lr=min_lr)
    lows = min_lr if isinstance(min_lr, tuple) else (min_lr,) * len(BASES)
    for t, lrs in enumerate(_trajectory(scheduler, T + 5)):
        expected = [_cosine(b, t, T=T, w=w, s=s, low=low) for b, low in zip(BASES, lows)]
        assert lrs == pytest.approx(expected, rel=1e-12, abs=1e-15), t


def test_warmup_reaches_the_base_rate_and_starts_at_the_factor() -> None:
    scheduler = WarmupPolyLR(_optimizer(), 10, warmup_steps=4, warmup_start_factor=0.0)
    lrs = _trajectory(scheduler, 10)
    assert lrs[0] == [0.0, 0.0]
    assert lrs[2] == pytest.approx([0.05, 0.005])
    assert lrs[4] == pytest.approx(list(BASES))
    decay = [lr[0] for lr in lrs[4:]]
    assert decay == sorted(decay, reverse=True) and len(set(decay)) == len(decay)


def test_stays_at_min_lr_after_total_steps() -> None:
    for scheduler in (
        WarmupPolyLR(_optimizer(), 5, power=0.9, min_lr=1e-3),
        WarmupCosineLR(_optimizer(), 5, warmup_steps=2, min_lr=1e-3),
    ):
        lrs = _trajectory(scheduler, 50)
        assert all(lr == [1e-3, 1e-3] for lr in lrs[5:])


@pytest.mark.parametrize("power", [0.9, 1.0, 2.0])
def test_poly_without_warmup_equals_torch_polynomial_lr(power: float) -> None:
    T = 25
    ours = _trajectory(WarmupPolyLR(_optimizer(), T, power=power), T + 5)
    torch_lrs = _trajectory(PolynomialLR(_optimizer(), total_iters=T, power=power), T + 5)
    for t, (a, b) in enumerate(zip(ours, torch_lrs)):
        assert a == pytest.approx(b, rel=0, abs=1e-9), t


@pytest.mark.parametrize("min_lr", [0.0, 1e-3])
def test_cosine_without_warmup_equals_torch_cosine_annealing(min_lr: float) -> None:
    T = 30
    ours = _trajectory(WarmupCosineLR(_optimizer(), T, min_lr=min_lr), T)
    torch_lrs = _trajectory(CosineAnnealingLR(_optimizer(), T_max=T, eta_min=min_lr), T)
    for t, (a, b) in enumerate(zip(ours, torch_lrs)):
        assert a == pytest.approx(b, rel=0, abs=1e-9), t


@pytest.mark.parametrize("cls", [WarmupPolyLR, WarmupCosineLR])
def test_state_dict_round_trip_resumes_exactly(cls: Any) -> None:
    T, split = 30, 11
    reference = _trajectory(cls(_optimizer(), T, warmup_steps=5, min_lr=1e-4), T + 3)

    optimizer = _optimizer()
    scheduler = cls(optimizer, T, warmup_steps=5, min_lr=1e-4)
    _trajectory(scheduler, split)
    saved_opt, saved_sched = copy.deepcopy(optimizer.state_dict()), copy.deepcopy(scheduler.state_dict())
    assert saved_sched["last_epoch"] == split and saved_sched["total_steps"] == T

    # Resume as a trainer does: build with the configured (not the decayed) rates, then load.
    resumed_opt = _optimizer()
    resumed = cls(resumed_opt, 99, warmup_steps=0)  # options overwritten by the state dict
    resumed_opt.load_state_dict(saved_opt)
    resumed.load_state_dict(saved_sched)
    assert resumed.total_steps == T and resumed.warmup_steps == 5
    rest = _trajectory(resumed, T + 3 - split)
    assert rest == reference[split:]


def test_closed_form_step_with_epoch_argument() -> None:
    scheduler = WarmupCosineLR(_optimizer(), 10, warmup_steps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler.step(7)
    assert scheduler.get_last_lr() == pytest.approx(scheduler.lr_at(7))


def test_get_lr_outside_step_is_the_current_rate() -> None:
    scheduler = WarmupPolyLR(_optimizer(), 10, warmup_steps=2)
    _trajectory(scheduler, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scheduler.get_lr() == scheduler.get_last_lr()


def test_parameter_groups_keep_their_own_base() -> None:
    scheduler = WarmupPolyLR(_optimizer((1.0, 0.5, 0.25)), 10, power=1.0)
    _trajectory(scheduler, 5)
    assert scheduler.get_last_lr() == pytest.approx([0.5, 0.25, 0.125])


@pytest.mark.parametrize(
    ("cls", "args", "options", "match"),
    [
        (WarmupPolyLR, (0,), {}, r"total_steps must be an int >= 1"),
        (WarmupPolyLR, (10.0,), {}, r"total_steps must be an int >= 1"),
        (
            WarmupCosineLR,
            (10,),
            {"warmup_steps": 10},
            r"warmup_steps must be an int with 0 <= warmup_steps < total_steps \(10\)",
        ),
        (WarmupCosineLR, (10,), {"warmup_steps": -1}, r"warmup_steps must be an int"),
        (WarmupPolyLR, (10,), {"warmup_start_factor": 1.5}, r"warmup_start_factor must be in \[0, 1\]"),
        (WarmupPolyLR, (10,), {"power": 0.0}, r"power must be a finite number > 0"),
        (WarmupPolyLR, (10,), {"power": -1}, r"power must be a finite number > 0"),
        (WarmupCosineLR, (10,), {"min_lr": -1e-5}, r"min_lr must be a finite number >= 0"),
        (WarmupCosineLR, (10,), {"min_lr": (0.0,)}, r"min_lr must be one number or one per parameter group \(2\)"),
        (
            WarmupPolyLR,
            (10,),
            {"min_lr": 0.05},
            r"min_lr \(0.05\) must not exceed the base learning rate \(0.01\) of parameter group 1",
        ),
    ],
)
def test_invalid_arguments(cls: Any, args: tuple[Any, ...], options: dict[str, Any], match: str) -> None:
    optimizer = _optimizer()
    with pytest.raises(ConfigError, match=match) as info:
        cls(optimizer, *args, **options)
    assert isinstance(info.value, ValueError)
    assert [group["lr"] for group in optimizer.param_groups] == list(BASES)  # left untouched


def test_rejects_a_non_optimizer() -> None:
    with pytest.raises(TypeError, match="needs a torch.optim.Optimizer"):
        WarmupPolyLR(object(), 10)  # type: ignore[arg-type]


def test_works_with_padam_and_the_registry_names() -> None:
    from seg_core.plugins import get_registry
    from seg_train.optim.padam import Padam

    registry = get_registry("schedulers")
    assert registry.get("warmup_poly") is WarmupPolyLR and registry.get("poly") is WarmupPolyLR
    assert registry.get("warmup_cosine") is WarmupCosineLR
    assert get_registry("optimizers").get("Padam") is Padam
    optimizer = Padam([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = registry.get("warmup_cosine")(optimizer, total_steps=4, warmup_steps=1)
    assert _trajectory(scheduler, 4)[-1] == [0.0]
