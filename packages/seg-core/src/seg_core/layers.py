"""Building blocks chosen by spatial dimensionality (2D images, 3D volumes).

Decoders and heads are written once against ``spatial_dims``; these factories
pick ``Conv2d``/``Conv3d``, the norm, pooling and interpolation mode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seg_core.errors import ConfigError

__all__ = [
    "CONV_TYPES",
    "NORM_CHOICES",
    "POOL_TYPES",
    "LayerNormNd",
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "avg_pool",
    "conv",
    "conv_transpose",
    "dropout",
    "get_norm",
    "interpolation_mode",
    "max_pool",
]

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
POOL_TYPES = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)

_INTERPOLATION = {"nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area"}


def _pick(options: tuple[type[nn.Module], ...], spatial_dims: int) -> type[nn.Module]:
    if spatial_dims not in (1, 2, 3):
        raise ConfigError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
    return options[spatial_dims - 1]


def conv(spatial_dims: int) -> type[nn.Module]:
    """``nn.Conv1d``/``Conv2d``/``Conv3d`` for ``spatial_dims``."""
    return _pick(CONV_TYPES, spatial_dims)


def conv_transpose(spatial_dims: int) -> type[nn.Module]:
    """Transposed convolution class for ``spatial_dims``."""
    return _pick((nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d), spatial_dims)


def max_pool(spatial_dims: int) -> type[nn.Module]:
    """Max-pooling class for ``spatial_dims``."""
    return _pick((nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d), spatial_dims)


def avg_pool(spatial_dims: int) -> type[nn.Module]:
    """Average-pooling class for ``spatial_dims``."""
    return _pick((nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d), spatial_dims)


def adaptive_avg_pool(spatial_dims: int) -> type[nn.Module]:
    """Adaptive average-pooling class for ``spatial_dims``."""
    return _pick((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d), spatial_dims)


def adaptive_max_pool(spatial_dims: int) -> type[nn.Module]:
    """Adaptive max-pooling class for ``spatial_dims``."""
    return _pick((nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d), spatial_dims)


def dropout(spatial_dims: int) -> type[nn.Module]:
    """Channel dropout class (``Dropout2d``/``Dropout3d``) for ``spatial_dims``."""
    return _pick((nn.Dropout1d, nn.Dropout2d, nn.Dropout3d), spatial_dims)


def interpolation_mode(mode: str, spatial_dims: int) -> str:
    """Map an interpolation name to the one ``F.interpolate`` needs for ``spatial_dims``.

    ``"bilinear"``/``"linear"``/``"trilinear"`` become the linear mode of the right
    dimensionality; ``"bicubic"`` exists only in 2D.

    Raises:
        ConfigError: Unknown mode, or bicubic outside 2D.
    """
    if mode not in _INTERPOLATION:
        raise ConfigError(f"unknown interpolation mode {mode!r}; choose from {sorted(_INTERPOLATION)}")
    if mode in {"linear", "bilinear", "trilinear"}:
        return ("linear", "bilinear", "trilinear")[spatial_dims - 1]
    if mode == "bicubic" and spatial_dims != 2:
        raise ConfigError(f"interpolation 'bicubic' works only in 2D, not with spatial_dims={spatial_dims}")
    return mode


class LayerNormNd(nn.Module):
    """LayerNorm over the channel axis of a channels-first tensor (``N, C, *spatial``).

    ``nn.LayerNorm`` normalises the *last* axis, which is a spatial one for NCHW
    input; this module normalises each pixel's channel vector, like ConvNeXt's LayerNorm2d.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6, affine: bool = True) -> None:
        super().__init__()
        self.num_channels = num_channels
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.movedim(1, -1)
        x = F.layer_norm(x, (self.num_channels,), self.weight, self.bias, self.eps)
        return x.movedim(-1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_channels}, eps={self.eps}"


def _batchnorm(channels: int, spatial_dims: int, **kw: Any) -> nn.Module:
    return _pick((nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d), spatial_dims)(channels, **kw)


def _instancenorm(channels: int, spatial_dims: int, **kw: Any) -> nn.Module:
    kw.setdefault("affine", True)  # smp's default non-affine variant crashes at init
    return _pick((nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d), spatial_dims)(channels, **kw)


def _groupnorm(channels: int, spatial_dims: int, num_groups: int = 32, **kw: Any) -> nn.Module:
    if channels % num_groups:
        valid = [g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0]
        raise ConfigError(
            f"groupnorm with num_groups={num_groups} needs a channel count divisible by it, got "
            f"{channels} channels; pick channels that are a multiple of {num_groups} or pass "
            f'{{"type": "groupnorm", "num_groups": {valid[0]}}}'
        )
    return nn.GroupNorm(num_groups, channels, **kw)


def _layernorm(channels: int, spatial_dims: int, **kw: Any) -> nn.Module:
    return LayerNormNd(channels, **kw)


def _identity(channels: int, spatial_dims: int, **kw: Any) -> nn.Module:
    return nn.Identity()


_NORMS: Mapping[str, Callable[..., nn.Module]] = {
    "batchnorm": _batchnorm,
    "groupnorm": _groupnorm,
    "layernorm": _layernorm,
    "instancenorm": _instancenorm,
    "identity": _identity,
}
#: Accepted norm names (also ``True`` = batchnorm, ``False``/``None`` = identity, or a dict with ``type``).
NORM_CHOICES = tuple(_NORMS)


def get_norm(norm: str | bool | Mapping[str, Any] | None, channels: int, spatial_dims: int = 2) -> nn.Module:
    """Build a normalisation layer.

    Args:
        norm: ``"batchnorm"``, ``"groupnorm"``, ``"layernorm"`` (channel-wise),
            ``"instancenorm"``, ``"identity"``, ``True`` (batchnorm), ``False``/None
            (identity), or ``{"type": name, **kwargs}``.
        channels: Number of channels.
        spatial_dims: 2 or 3.

    Returns:
        The norm module.

    Raises:
        ConfigError: Unknown name or invalid combination (e.g. GroupNorm groups).
    """
    kwargs: dict[str, Any] = {}
    if norm is True:
        name = "batchnorm"
    elif norm is False or norm is None:
        name = "identity"
    elif isinstance(norm, Mapping):
        kwargs = dict(norm)
        name = kwargs.pop("type", None)
        if name is None:
            raise ConfigError(f"norm dict needs a 'type' key, one of {NORM_CHOICES}; got {dict(norm)}")
    else:
        name = norm
    if not isinstance(name, str) or name.lower() not in _NORMS:
        raise ConfigError(f"unknown norm {name!r}; choose from {list(NORM_CHOICES)}, True, False or a dict")
    try:
        return _NORMS[name.lower()](channels, spatial_dims, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"invalid options for norm {name!r}: {exc}") from exc
