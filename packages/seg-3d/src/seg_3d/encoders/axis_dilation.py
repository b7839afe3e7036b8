"""Per-axis dilation of a 3D encoder: an output stride of 8 or 16 with anisotropic strides.

seg-core's `seg_core.encoder.replace_strides_with_dilation` removes a stage's stride on every axis,
which is right when every axis is downsampled alike. With per-level, per-axis strides an axis can
still be below the output stride when another one reaches it, so here each axis is handled on its
own: a level's stride is removed only on the axes whose cumulative reduction would exceed the
output stride, and the convolutions of that level and the following ones are dilated on those axes
by the stride removed so far. Every axis then ends at ``min(reduction, output_stride)``, which is
what `seg_core.EncoderMixin.axis_reductions` reports for a dilated encoder.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from seg_core.errors import ConfigError
from seg_core.layers import CONV_TYPES, POOL_TYPES

from .geometry import Stride

__all__ = ["dilate_levels"]


def _per_axis(value: int | Sequence[int], dims: int) -> tuple[int, ...]:
    return (int(value),) * dims if isinstance(value, int) else tuple(int(v) for v in value)


def dilate_levels(
    levels: Sequence[Sequence[nn.Module]], strides: Sequence[Stride], output_stride: int, *, owner: str
) -> None:
    """Trade the strides past ``output_stride`` for dilation, axis by axis (in place).

    Args:
        levels: The modules of each encoder level (level 1 first), one entry per stride.
        strides: The per-axis stride of each level (`seg_3d.encoders.geometry.level_strides`).
        output_stride: The largest reduction any axis may reach (8 or 16).
        owner: The encoder's name, for messages.

    Raises:
        ConfigError: A level that must be dilated downsamples by pooling (pooling has no dilated form).

    Example:
        >>> levels = [[nn.Conv3d(1, 1, 3, stride=2, padding=1)], [nn.Conv3d(1, 1, 3, stride=(1, 2, 2), padding=1)]]
        >>> dilate_levels(levels, [(2, 2, 2), (1, 2, 2)], output_stride=2, owner="demo")
        >>> levels[1][0].stride, levels[1][0].dilation, levels[1][0].padding
        ((1, 1, 1), (1, 2, 2), (1, 2, 2))
    """
    reduction: list[int] = []
    for level, (modules, stride) in enumerate(zip(levels, strides), start=1):
        reduction = [r * s for r, s in zip(reduction or [1] * len(stride), stride)]
        removed = [r > output_stride for r in reduction]
        if not any(removed):
            continue
        rate = tuple(max(r // output_stride, 1) for r in reduction)
        for module in modules:
            for name, sub in module.named_modules():
                if isinstance(sub, CONV_TYPES):
                    dims = len(sub.kernel_size)
                    old = _per_axis(sub.stride, dims)
                    sub.stride = tuple(1 if cut else s for s, cut in zip(old, removed))
                    sub.dilation = rate
                    sub.padding = tuple((k // 2) * d for k, d in zip(sub.kernel_size, rate))
                elif isinstance(sub, POOL_TYPES):
                    pool_stride = _per_axis(sub.stride, len(stride))
                    if any(s > 1 and cut for s, cut in zip(pool_stride, removed)):
                        raise ConfigError(
                            f"{owner}: encoder level {level} downsamples with {type(sub).__name__} "
                            f"({name or type(module).__name__}), which cannot be dilated; use "
                            f"encoder_output_stride=None or an encoder_depth whose reduction is <= {output_stride}"
                        )
