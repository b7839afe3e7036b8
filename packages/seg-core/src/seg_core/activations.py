"""Output activations given by name, class, instance or function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Union

import torch
from torch import nn

from seg_core.errors import ConfigError

__all__ = ["ACTIVATION_CHOICES", "ActivationSpec", "get_activation"]

ActivationSpec = Union[str, type, nn.Module, Callable[[torch.Tensor], torch.Tensor], None]


class _ArgMax(nn.Module):
    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.argmax(x, dim=self.dim)


class _Clamp(nn.Module):
    def __init__(self, low: float = 0.0, high: float = 1.0) -> None:
        super().__init__()
        self.low, self.high = low, high

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, self.low, self.high)


class _Lambda(nn.Module):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


_BY_NAME: dict[str, Callable[[], nn.Module]] = {
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "softmax": lambda: nn.Softmax(dim=1),
    "softmax2d": lambda: nn.Softmax(dim=1),
    "logsoftmax": lambda: nn.LogSoftmax(dim=1),
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "argmax": lambda: _ArgMax(dim=1),
    "argmax2d": lambda: _ArgMax(dim=1),
    "clamp": _Clamp,
}
#: Activation names accepted everywhere an ``activation`` argument exists.
ACTIVATION_CHOICES = tuple(_BY_NAME)


def get_activation(activation: ActivationSpec) -> nn.Module:
    """Build an activation module.

    Args:
        activation: None or ``"identity"``; a name from `ACTIVATION_CHOICES`
            (softmax variants act on the channel axis); an ``nn.Module`` class
            (instantiated without arguments); an ``nn.Module`` instance (used as is);
            or any function of a tensor.

    Returns:
        An ``nn.Module``.

    Raises:
        ConfigError: Unknown name or unusable object.

    Example:
        >>> get_activation("softmax")
        Softmax(dim=1)
    """
    if activation is None:
        return nn.Identity()
    if isinstance(activation, str):
        factory = _BY_NAME.get(activation.lower())
        if factory is None:
            raise ConfigError(
                f"unknown activation {activation!r}; choose from {list(ACTIVATION_CHOICES)}, "
                "an nn.Module class or instance, or a function"
            )
        return factory()
    if isinstance(activation, nn.Module):
        return activation
    if isinstance(activation, type):
        if not issubclass(activation, nn.Module):
            raise ConfigError(f"activation class {activation.__name__} is not an nn.Module")
        return activation()
    if callable(activation):
        return _Lambda(activation)
    raise ConfigError(f"activation must be a name, an nn.Module class or instance, or a function; got {activation!r}")
