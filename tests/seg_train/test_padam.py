"""Padam: the published update (checked against numpy and torch's Adam), arguments, state."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import torch

from seg_core.errors import ConfigError
from seg_train.optim.padam import Padam

_RNG = np.random.default_rng(0)
_A = _RNG.normal(size=(6, 4))
_B = _RNG.normal(size=6)
_THETA0 = _RNG.normal(size=4)


def _grad(theta: np.ndarray) -> np.ndarray:
    """Gradient of 0.5 * ||A theta - b||^2 (+ a sin term so gradients change sign)."""
    return _A.T @ (_A @ theta - _B) + np.cos(theta)


def _loss(theta: torch.Tensor) -> torch.Tensor:
    a, b = torch.from_numpy(_A), torch.from_numpy(_B)
    return 0.5 * (a @ theta - b).square().sum() + torch.sin(theta).sum()


def _numpy_padam(
    steps: int, *, lr: float, betas: tuple[float, float], eps: float, weight_decay: float, amsgrad: bool, partial: float
) -> np.ndarray:
    """The published rule, in the authors' form, written out independently."""
    theta = _THETA0.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    v_max = np.zeros_like(theta)
    beta1, beta2 = betas
    for t in range(1, steps + 1):
        g = _grad(theta) + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = np.maximum(v_max, v)
        v_hat = v_max if amsgrad else v
        step_size = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        theta = theta - step_size * m / (np.sqrt(v_hat) + eps) ** (2 * partial)
    return theta


def _run(optimizer_cls: Any, steps: int, **options: Any) -> torch.Tensor:
    theta = torch.nn.Parameter(torch.from_numpy(_THETA0.copy()))
    optimizer = optimizer_cls([theta], **options)
    for _ in range(steps):
        optimizer.zero_grad()
        _loss(theta).backward()
        optimizer.step()
    return theta.detach()


@pytest.mark.parametrize("partial", [0.125, 0.25, 0.0, 0.5])
@pytest.mark.parametrize("amsgrad", [True, False])
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_matches_numpy_reference(partial: float, amsgrad: bool, weight_decay: float) -> None:
    options: dict[str, Any] = {
        "lr": 0.05,
        "betas": (0.8, 0.95),
        "eps": 1e-3,
        "weight_decay": weight_decay,
        "amsgrad": amsgrad,
    }
    expected = _numpy_padam(10, partial=partial, **options)
    got = _run(Padam, 10, partial=partial, **options)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-12)
    assert not np.allclose(expected, _THETA0)


@pytest.mark.parametrize("amsgrad", [True, False])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_half_partial_is_adam(amsgrad: bool, weight_decay: float) -> None:
    # Padam adds eps to sqrt(v), Adam to sqrt(v / (1 - beta2^t)): equal when eps is negligible.
    options: dict[str, Any] = {"lr": 0.01, "eps": 1e-12, "weight_decay": weight_decay, "amsgrad": amsgrad}
    padam = _run(Padam, 20, partial=0.5, **options)
    adam = _run(torch.optim.Adam, 20, foreach=False, **options)
    torch.testing.assert_close(padam, adam, rtol=0, atol=1e-6)


def test_amsgrad_keeps_the_largest_second_moment() -> None:
    grads = [10.0, 10.0, 0.1, 0.1, 0.1]
    params = {amsgrad: torch.nn.Parameter(torch.zeros(1)) for amsgrad in (True, False)}
    optimizers = {amsgrad: Padam([param], betas=(0.9, 0.5), amsgrad=amsgrad) for amsgrad, param in params.items()}
    for g in grads:
        for amsgrad, param in params.items():
            param.grad = torch.full((1,), g)
            optimizers[amsgrad].step()
    with_max = optimizers[True].state[params[True]]
    without = optimizers[False].state[params[False]]
    assert "max_exp_avg_sq" not in without
    assert float(with_max["exp_avg_sq"]) == pytest.approx(float(without["exp_avg_sq"]))
    assert float(with_max["max_exp_avg_sq"]) > float(with_max["exp_avg_sq"])
    # A larger denominator: AMSGrad moves less once the gradient shrinks.
    assert abs(float(params[True].detach())) < abs(float(params[False].detach()))


def test_defaults_are_the_papers() -> None:
    optimizer = Padam([torch.nn.Parameter(torch.zeros(2))])
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.1 and group["partial"] == 0.125 and group["amsgrad"] is True
    assert group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8 and group["weight_decay"] == 0.0
    assert group["maximize"] is False


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"lr": -0.1}, r"lr must be a finite number >= 0"),
        ({"lr": float("nan")}, r"lr must be a finite number >= 0"),
        ({"betas": (1.0, 0.999)}, r"betas\[0\] must be in \[0, 1\)"),
        ({"betas": (0.9, -0.1)}, r"betas\[1\] must be in \[0, 1\)"),
        ({"betas": 0.9}, r"betas must be a pair"),
        ({"eps": 0.0}, r"eps must be a finite number > 0"),
        ({"weight_decay": -1e-4}, r"weight_decay must be a finite number >= 0"),
        ({"partial": 0.6}, r"partial must be in \[0.0, 0.5\]"),
        ({"partial": -0.1}, r"partial must be in \[0.0, 0.5\]"),
        ({"partial": True}, r"partial must be in"),
    ],
)
def test_invalid_arguments(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        Padam([torch.nn.Parameter(torch.zeros(2))], **options)
    assert isinstance(info.value, ValueError)


def test_param_group_options_are_checked_and_used() -> None:
    with pytest.raises(ConfigError, match=r"partial \(parameter group 1\) must be in"):
        Padam(
            [
                {"params": [torch.nn.Parameter(torch.zeros(2))]},
                {"params": [torch.nn.Parameter(torch.zeros(2))], "partial": 1.0},
            ]
        )
    first = torch.nn.Parameter(torch.ones(3))
    second = torch.nn.Parameter(torch.ones(3))
    optimizer = Padam([{"params": [first]}, {"params": [second], "partial": 0.5, "lr": 0.01}], lr=0.1)
    (first.sum() + second.sum()).backward()
    optimizer.step()
    # First step: m = (1-b1) g, v = (1-b2) g^2, step = lr sqrt(1-b2)/(1-b1) * m / (sqrt(v)+eps)^(2p).
    g = 1.0
    for param, lr, p in ((first, 0.1, 0.125), (second, 0.01, 0.5)):
        m, v = 0.1 * g, 0.001 * g * g
        expected = 1.0 - lr * math.sqrt(0.001) / 0.1 * m / (math.sqrt(v) + 1e-8) ** (2 * p)
        torch.testing.assert_close(param.detach(), torch.full((3,), expected))


def test_sparse_gradients_are_rejected() -> None:
    embedding = torch.nn.Embedding(10, 3, sparse=True)
    optimizer = Padam(embedding.parameters())
    embedding(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(RuntimeError, match="sparse gradients.*SparseAdam"):
        optimizer.step()


def test_state_dict_round_trip_resumes_exactly() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    inputs, targets = torch.randn(16, 4), torch.randn(16, 1)

    def train(model: torch.nn.Module, optimizer: Padam, steps: int) -> None:
        for _ in range(steps):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(inputs), targets).backward()
            optimizer.step()

    reference = copy.deepcopy(model)
    reference_opt = Padam(reference.parameters(), lr=0.05, weight_decay=1e-3)
    train(reference, reference_opt, 10)

    optimizer = Padam(model.parameters(), lr=0.05, weight_decay=1e-3)
    train(model, optimizer, 5)
    saved_model, saved_opt = copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())
    assert saved_opt["state"][0]["step"] == 5 and "max_exp_avg_sq" in saved_opt["state"][0]

    resumed = copy.deepcopy(model)
    resumed.load_state_dict(saved_model)
    resumed_opt = Padam(resumed.parameters(), lr=0.05, weight_decay=1e-3)
    resumed_opt.load_state_dict(saved_opt)
    train(resumed, resumed_opt, 5)
    for got, expected in zip(resumed.parameters(), reference.parameters()):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_closure_is_called_and_its_loss_returned() -> None:
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = Padam([weight], lr=0.1)
    calls = []

    def closure() -> float:
        calls.append(1)
        optimizer.zero_grad()
        loss = weight.square().sum()
        loss.backward()
        return float(loss.detach())

    assert optimizer.step(closure) == pytest.approx(3.0)
    assert calls == [1] and bool((weight < 1).all())
    assert optimizer.step() is None


def test_maximize_is_minimizing_the_negated_objective() -> None:
    up = torch.nn.Parameter(torch.from_numpy(_THETA0.copy()))
    down = torch.nn.Parameter(torch.from_numpy(_THETA0.copy()))
    opt_up = Padam([up], lr=0.05, maximize=True, weight_decay=0.01)
    opt_down = Padam([down], lr=0.05, weight_decay=0.01)
    for _ in range(5):
        opt_up.zero_grad()
        opt_down.zero_grad()
        (-_loss(up)).backward()
        _loss(down).backward()
        opt_up.step()
        opt_down.step()
    torch.testing.assert_close(up.detach(), down.detach(), rtol=0, atol=1e-12)


def test_parameters_without_gradient_are_skipped() -> None:
    used, unused = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    optimizer = Padam([used, unused])
    used.sum().backward()
    optimizer.step()
    assert torch.equal(unused.detach(), torch.ones(2)) and unused not in optimizer.state
    assert not torch.equal(used.detach(), torch.ones(2))


def test_complex_parameters_follow_their_real_view() -> None:
    values = torch.randn(3, dtype=torch.complex128)
    complex_param = torch.nn.Parameter(values.clone())
    real_param = torch.nn.Parameter(torch.view_as_real(values.clone()).clone())
    opt_c, opt_r = Padam([complex_param], lr=0.05), Padam([real_param], lr=0.05)
    for _ in range(3):
        opt_c.zero_grad()
        opt_r.zero_grad()
        torch.view_as_real(complex_param).pow(3).sum().backward()
        real_param.pow(3).sum().backward()
        opt_c.step()
        opt_r.step()
    torch.testing.assert_close(torch.view_as_real(complex_param.detach()), real_param.detach())


def test_trains_a_model() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    inputs = torch.randn(64, 3)
    targets = inputs @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    optimizer = Padam(model.parameters(), lr=0.1)
    first = None
    for _ in range(200):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        first = float(loss.detach()) if first is None else first
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.01 * first
