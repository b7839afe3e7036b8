"""Padam: partially adaptive moment estimation (Chen & Gu 2018).

Padam raises Adam's second-moment denominator to a partial power ``p`` in ``[0, 1/2]``:
``p = 1/2`` is Adam (AMSGrad with ``amsgrad=True``), ``p = 0`` is SGD with a bias-corrected
momentum. The paper ("Closing the Generalization Gap of Adaptive Gradient Methods in
Training Deep Neural Networks", arXiv:1806.06763) recommends ``p = 1/8`` with a base
learning rate close to SGD's (0.1), which is the default here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from seg_core.errors import ConfigError

__all__ = ["Padam"]

#: The accepted range of ``partial`` (the paper's).
PARTIAL_RANGE = (0.0, 0.5)


def _check_hyperparameters(lr: Any, betas: Any, eps: Any, weight_decay: Any, partial: Any, where: str = "") -> None:
    """Raise `ConfigError` naming the first argument outside its accepted range."""

    def real(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    if isinstance(lr, Tensor):
        if lr.numel() != 1 or not bool(torch.isfinite(lr).all()) or float(lr) < 0:
            raise ConfigError(f"Padam lr{where} must be a finite number >= 0, got {lr!r}")
    elif not real(lr) or lr < 0:
        raise ConfigError(f"Padam lr{where} must be a finite number >= 0, got {lr!r}")
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ConfigError(f"Padam betas{where} must be a pair (beta1, beta2), each in [0, 1), got {betas!r}")
    for index, beta in enumerate(betas):
        if not real(beta) or not 0.0 <= beta < 1.0:
            raise ConfigError(f"Padam betas[{index}]{where} must be in [0, 1), got {beta!r}")
    if not real(eps) or eps <= 0:
        raise ConfigError(f"Padam eps{where} must be a finite number > 0, got {eps!r}")
    if not real(weight_decay) or weight_decay < 0:
        raise ConfigError(f"Padam weight_decay{where} must be a finite number >= 0, got {weight_decay!r}")
    low, high = PARTIAL_RANGE
    if not real(partial) or not low <= partial <= high:
        raise ConfigError(
            f"Padam partial{where} must be in [{low}, {high}] (0 is SGD with momentum, 0.5 is Adam; "
            f"the paper recommends 0.125), got {partial!r}"
        )


class Padam(Optimizer):
    r"""Partially adaptive moment estimation (Padam, Chen & Gu 2018).

    For each parameter ``θ`` with gradient ``g`` at step ``t = 1, 2, ...``::

        g   <- -g                                  if maximize
        g   <- g + weight_decay * θ                (coupled L2 weight decay)
        m_t  = β1 * m_{t-1} + (1 - β1) * g
        v_t  = β2 * v_{t-1} + (1 - β2) * g²
        v̂_t  = max(v̂_{t-1}, v_t)  if amsgrad else v_t
        θ   <- θ - lr * sqrt(1 - β2^t) / (1 - β1^t) * m_t / (sqrt(v̂_t) + eps)^(2p)

    with ``p = partial``. This is the form of the authors' code (and of PixSeg's): the bias
    corrections are folded into the step size and ``eps`` is added to ``sqrt(v̂_t)`` before
    the power. With ``p = 0.5`` it is `torch.optim.Adam` (``amsgrad`` alike) except for where
    ``eps`` sits (Adam adds ``eps * sqrt(1 - β2^t)`` in these terms), so the two agree when
    ``eps`` is negligible. With ``p = 0`` it is SGD with a bias-corrected exponential momentum.

    Defaults follow the paper: ``partial=1/8`` and an SGD-like ``lr=0.1``. PixSeg's Padam
    defaults to ``lr=1e-3, partial=0.25``; pass those to reproduce its configurations.

    Args:
        params: Parameters, or parameter groups (dicts, each may override any option below).
        lr: Base learning rate, >= 0.
        betas: ``(β1, β2)``, each in ``[0, 1)``.
        eps: Added to ``sqrt(v̂_t)``, > 0.
        weight_decay: Coupled L2 penalty (added to the gradient), >= 0.
        amsgrad: Use the running maximum of ``v_t`` (the paper's algorithm); False uses ``v_t``.
        partial: The partial adaptive power ``p``, in ``[0, 0.5]``.
        maximize: Maximize the objective instead of minimizing it.

    Raises:
        ConfigError: (a ``ValueError``) an option, in the defaults or in a parameter group,
            outside its accepted range; the message names it and the range.

    Example:
        >>> import torch
        >>> from seg_train.optim.padam import Padam
        >>> model = torch.nn.Linear(4, 2)
        >>> optimizer = Padam(model.parameters(), lr=0.1, partial=0.125, weight_decay=5e-4)
        >>> model(torch.randn(8, 4)).square().mean().backward()
        >>> optimizer.step()
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-1,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = True,
        partial: float = 0.125,
        *,
        maximize: bool = False,
    ) -> None:
        _check_hyperparameters(lr, betas, eps, weight_decay, partial)
        defaults: dict[str, Any] = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": bool(amsgrad),
            "partial": partial,
            "maximize": bool(maximize),
        }
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group, checking the options it overrides.

        Args:
            param_group: ``{"params": ..., **options}``; missing options take the defaults.

        Raises:
            ConfigError: An option of the group outside its accepted range.

        Example:
            >>> import torch
            >>> from seg_train.optim.padam import Padam
            >>> optimizer = Padam([torch.nn.Parameter(torch.zeros(2))])
            >>> optimizer.add_param_group({"params": [torch.nn.Parameter(torch.zeros(3))], "partial": 0.25})
        """
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        where = f" (parameter group {len(self.param_groups) - 1})"
        _check_hyperparameters(
            group["lr"], group["betas"], group["eps"], group["weight_decay"], group["partial"], where
        )

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", True)
            group.setdefault("partial", 0.125)
            group.setdefault("maximize", False)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """Perform one optimization step.

        Args:
            closure: Optional callable that re-evaluates the model and returns the loss
                (called with gradients enabled).

        Returns:
            The closure's loss, or None without a closure.

        Raises:
            RuntimeError: A parameter has a sparse gradient (use `torch.optim.SparseAdam`).

        Example:
            >>> import torch
            >>> from seg_train.optim.padam import Padam
            >>> weight = torch.nn.Parameter(torch.ones(3))
            >>> optimizer = Padam([weight], lr=0.1)
            >>> def closure():
            ...     optimizer.zero_grad()
            ...     loss = weight.square().sum()
            ...     loss.backward()
            ...     return loss
            >>> loss = optimizer.step(closure)
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    self._update(param, group)
        return loss

    def _update(self, param: Tensor, group: dict[str, Any]) -> None:
        grad = param.grad
        assert grad is not None
        if grad.is_sparse:
            raise RuntimeError(
                "Padam does not support sparse gradients; use torch.optim.SparseAdam for sparse "
                "parameters (e.g. nn.Embedding(sparse=True)), or dense gradients"
            )
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        state = self.state[param]
        if len(state) == 0:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = state["exp_avg_sq"].clone()
        state["step"] += 1
        step = state["step"]

        value, exp_avg, exp_avg_sq = param, state["exp_avg"], state["exp_avg_sq"]
        if torch.is_complex(param):
            value, grad = torch.view_as_real(param), torch.view_as_real(grad)
            exp_avg, exp_avg_sq = torch.view_as_real(exp_avg), torch.view_as_real(exp_avg_sq)
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad.add(value, alpha=group["weight_decay"])

        exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        if amsgrad:
            max_exp_avg_sq = state["max_exp_avg_sq"]
            if torch.is_complex(param):
                max_exp_avg_sq = torch.view_as_real(max_exp_avg_sq)
            torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            second = max_exp_avg_sq
        else:
            second = exp_avg_sq

        step_size = float(group["lr"]) * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        denom = second.sqrt().add_(group["eps"]).pow_(2 * group["partial"])
        value.addcdiv_(exp_avg, denom, value=-step_size)
