"""Per-level strides and the kernel sizes that follow them, shared by every seg-3d encoder.

A stride is given per encoder level (level 1 is the stem's output, level ``depth`` the deepest
map), as one int for every axis or one int per axis. nnU-Net's rule for kernels: an axis that is
not downsampled yet while another one is (a thick-slice axis) gets a kernel of 1 along it, so a
``(1, 2, 2)`` stage convolves ``1x3x3``; once the axis has been downsampled, it gets the full kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seg_core.errors import ConfigError

__all__ = ["Stride", "default_strides", "kernel_sizes", "level_strides", "total_reduction"]

#: A per-axis stride or kernel size.
Stride = tuple[int, ...]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def default_strides(depth: int, spatial_dims: int = 3) -> list[Stride]:
    """2 on every axis at every level (the usual halving).

    Example:
        >>> default_strides(2)
        [(2, 2, 2), (2, 2, 2)]
    """
    return [(2,) * spatial_dims for _ in range(depth)]


def level_strides(strides: Any, depth: int, spatial_dims: int = 3, *, owner: str = "encoder") -> list[Stride]:
    """Check and normalise ``strides`` to one per-axis tuple per level.

    Args:
        strides: None (2 everywhere), or one entry per level: an int (every axis) or one int per axis.
        depth: The encoder depth (levels).
        spatial_dims: Axes per stride.
        owner: The encoder's name, for messages.

    Returns:
        ``depth`` tuples of ``spatial_dims`` ints, each 1 or 2.

    Raises:
        ConfigError: The wrong count, length or values, naming what would work.

    Example:
        >>> level_strides([(1, 2, 2), 2], depth=2)
        [(1, 2, 2), (2, 2, 2)]
    """
    if strides is None:
        return default_strides(depth, spatial_dims)
    example = "e.g. ((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))"
    if isinstance(strides, (str, bytes)) or not isinstance(strides, Sequence):
        raise ConfigError(f"{owner}: encoder_strides={strides!r} must be one stride per level, {example}")
    if len(strides) != depth:
        raise ConfigError(
            f"{owner}: encoder_strides has {len(strides)} entries but encoder_depth is {depth}; "
            f"give one stride per level ({depth}), {example}"
        )
    out: list[Stride] = []
    for level, entry in enumerate(strides, start=1):
        axes = (entry,) * spatial_dims if _is_int(entry) else entry
        if (
            isinstance(axes, (str, bytes))
            or not isinstance(axes, Sequence)
            or len(axes) != spatial_dims
            or not all(_is_int(a) and a in (1, 2) for a in axes)
        ):
            raise ConfigError(
                f"{owner}: encoder_strides[{level - 1}]={entry!r} must be 1 or 2, or {spatial_dims} values of "
                f"1 or 2 (one per axis)"
            )
        out.append(tuple(int(a) for a in axes))
    return out


def kernel_sizes(strides: Sequence[Stride], kernel: int = 3) -> list[Stride]:
    """The kernel of each level: 1 along an axis not downsampled yet while another axis is, else ``kernel``.

    Args:
        strides: Per-level, per-axis strides (`level_strides`).
        kernel: The full kernel size.

    Returns:
        One per-axis kernel size per level.

    Example:
        >>> kernel_sizes([(1, 2, 2), (2, 2, 2), (1, 2, 2)])
        [(1, 3, 3), (3, 3, 3), (3, 3, 3)]
        >>> kernel_sizes([(1, 2, 2), (1, 2, 2), (2, 2, 2)])
        [(1, 3, 3), (1, 3, 3), (3, 3, 3)]
    """
    out: list[Stride] = []
    reduction = [1] * (len(strides[0]) if strides else 0)
    for stride in strides:
        reduction = [r * s for r, s in zip(reduction, stride)]
        lagging = max(reduction) > 1
        out.append(tuple(1 if lagging and r == 1 else kernel for r in reduction))
    return out


def total_reduction(strides: Sequence[Stride]) -> Stride:
    """The product of the strides per axis: the deepest map's reduction.

    Example:
        >>> total_reduction([(1, 2, 2), (2, 2, 2)])
        (2, 4, 4)
    """
    out = [1] * (len(strides[0]) if strides else 0)
    for stride in strides:
        out = [o * s for o, s in zip(out, stride)]
    return tuple(out)
