"""Output heads: per-pixel segmentation and image-level classification (aux)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from seg_core.activations import ActivationSpec, get_activation
from seg_core.errors import ConfigError
from seg_core.layers import adaptive_avg_pool, adaptive_max_pool, conv, interpolation_mode

__all__ = ["ClassificationHead", "SegmentationHead"]


class SegmentationHead(nn.Sequential):
    """Convolution, optional upsampling, activation (``[conv, upsample, activation]``).

    The module layout matches smp's, so state-dict keys are the same
    (``segmentation_head.0.weight``).

    Args:
        in_channels: Decoder output channels.
        out_channels: Number of classes.
        kernel_size: Convolution kernel size (odd).
        activation: See `seg_core.activations.get_activation`.
        upsampling: Scale factor (int, or one per axis) applied after the conv.
        spatial_dims: 2 or 3.
        mode: Interpolation mode for the upsampling (``"bilinear"`` = (tri)linear).

    Example:
        >>> head = SegmentationHead(16, 3, activation="softmax", upsampling=2)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        activation: ActivationSpec = None,
        upsampling: int | Sequence[int] = 1,
        spatial_dims: int = 2,
        mode: str = "bilinear",
    ) -> None:
        if out_channels < 1:
            raise ConfigError(f"classes must be >= 1, got {out_channels}")
        if kernel_size % 2 == 0:
            raise ConfigError(f"segmentation head kernel_size must be odd, got {kernel_size}")
        conv_layer = conv(spatial_dims)(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        factor = tuple(upsampling) if isinstance(upsampling, Sequence) else (int(upsampling),) * spatial_dims
        if any(f < 1 for f in factor):
            raise ConfigError(f"head upsampling must be >= 1, got {upsampling}")
        resolved = interpolation_mode(mode, spatial_dims)
        align = True if resolved in {"linear", "bilinear", "trilinear", "bicubic"} else None
        upsample: nn.Module = (
            nn.Upsample(scale_factor=tuple(float(f) for f in factor), mode=resolved, align_corners=align)
            if any(f > 1 for f in factor)
            else nn.Identity()
        )
        super().__init__(conv_layer, upsample, get_activation(activation))


class ClassificationHead(nn.Sequential):
    """Image-level head on the deepest feature: pool, flatten, dropout, linear, activation.

    Built from ``aux_params`` (smp's convention): ``{"classes": 4, "pooling": "avg",
    "dropout": 0.2, "activation": None}``.

    Args:
        in_channels: Channels of the deepest encoder map.
        classes: Number of labels.
        pooling: ``"avg"`` or ``"max"``.
        dropout: Dropout probability before the linear layer (0 disables it).
        activation: See `seg_core.activations.get_activation`.
        spatial_dims: 2 or 3.

    Raises:
        ConfigError: Invalid pooling, dropout or class count.
    """

    def __init__(
        self,
        in_channels: int,
        classes: int,
        pooling: str = "avg",
        dropout: float = 0.2,
        activation: ActivationSpec = None,
        spatial_dims: int = 2,
    ) -> None:
        if pooling not in ("avg", "max"):
            raise ConfigError(f"aux_params pooling must be 'avg' or 'max', got {pooling!r}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"aux_params dropout must be in [0, 1), got {dropout}")
        if not isinstance(classes, int) or classes < 1:
            raise ConfigError(f"aux_params classes must be an int >= 1, got {classes!r}")
        pool = (adaptive_avg_pool if pooling == "avg" else adaptive_max_pool)(spatial_dims)(1)
        drop: nn.Module = nn.Dropout(p=dropout) if dropout else nn.Identity()
        super().__init__(pool, nn.Flatten(), drop, nn.Linear(in_channels, classes), get_activation(activation))

    @classmethod
    def from_aux_params(
        cls, in_channels: int, aux_params: dict[str, object], spatial_dims: int = 2
    ) -> ClassificationHead:
        """Build from smp-style ``aux_params``, rejecting unknown keys by name."""
        allowed = {"classes", "pooling", "dropout", "activation"}
        unknown = set(aux_params) - allowed
        if unknown:
            raise ConfigError(f"unknown aux_params keys {sorted(unknown)}; accepted: {sorted(allowed)}")
        params = dict(aux_params)
        params.setdefault("classes", 1)
        return cls(in_channels, spatial_dims=spatial_dims, **params)  # type: ignore[arg-type]
