"""Per-stage strides and kernel sizes from the spacing and the patch size (nnU-Net's ``get_pool_and_conv_props``).

Follows ``nnunetv2/experiment_planning/experiment_planners/network_topology.py`` (nnU-Net v2.8.1).
Stage 0 works at full resolution (stride 1 on every axis); each further stage is added while an
axis can still be downsampled:

1. the candidate axes are those whose current size is at least ``2 * min_feature_map_size`` (8);
2. of those, only the axes whose current spacing is less than twice the finest current spacing
   among the candidates are downsampled (strict ``< 2``);
3. a single candidate axis is downsampled only if its size is at least ``3 * min_feature_map_size`` (12);
4. before downsampling, the kernel of every axis whose current spacing is less than twice the finest
   current spacing of all axes becomes 3 (it stays 3 afterwards); the others keep 1, so a thick-slice
   axis convolves ``1 x 3 x 3`` until the in-plane spacing has caught up;
5. the downsampled axes get stride 2, their spacing doubles and their size becomes ``ceil(size / 2)``.

The stage kernels are computed at each stage's own resolution, the bottleneck gets 3 on every axis,
and the patch is padded up to a multiple of ``2 ** pools`` on each axis.

Example:
    >>> t = topology((3.6, 0.6, 0.6), (20, 320, 320))
    >>> t.strides[:4]
    ((1, 1, 1), (1, 2, 2), (1, 2, 2), (2, 2, 2))
    >>> t.kernel_sizes[:3]
    ((1, 3, 3), (1, 3, 3), (3, 3, 3))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from seg_core.errors import ConfigError

__all__ = ["MIN_FEATURE_MAP_SIZE", "Topology", "pad_to_multiple", "topology"]

#: nnU-Net's ``UNet_featuremap_min_edge_length``: an axis is downsampled only while it has >= 2x this.
MIN_FEATURE_MAP_SIZE = 4

#: A per-axis stride or kernel size.
Axes = tuple[int, ...]


@dataclass(frozen=True)
class Topology:
    """The network's stages for one patch size.

    Attributes:
        strides: One per-axis stride per stage; stage 0 is 1 on every axis.
        kernel_sizes: One per-axis kernel size per stage (the last is the bottleneck's, all 3).
        patch_size: The patch padded up to a multiple of ``divisor`` on every axis.
        pools_per_axis: How many times each axis is halved.
        divisor: ``2 ** pools_per_axis``: what the patch must be divisible by.
        notes: One human-readable line per stage after the first: what was downsampled and why.
    """

    strides: tuple[Axes, ...]
    kernel_sizes: tuple[Axes, ...]
    patch_size: Axes
    pools_per_axis: Axes
    divisor: Axes
    notes: tuple[str, ...]

    @property
    def n_stages(self) -> int:
        """The number of stages (encoder resolutions), stage 0 included."""
        return len(self.strides)


def pad_to_multiple(shape: Sequence[float], divisor: Sequence[int]) -> Axes:
    """Round each size up to the next multiple of its divisor (kept when already a multiple).

    Example:
        >>> pad_to_multiple((36, 50, 35), (8, 8, 8))
        (40, 56, 40)
    """
    return tuple(int(math.ceil(s / d) * d) for s, d in zip(shape, divisor))


def topology(
    spacing: Sequence[float],
    patch_size: Sequence[float],
    min_feature_map_size: int = MIN_FEATURE_MAP_SIZE,
    max_pools: int | None = None,
) -> Topology:
    """nnU-Net's stage rule (see the module docstring).

    Args:
        spacing: The target spacing per axis.
        patch_size: The patch size per axis (voxels; need not be divisible yet).
        min_feature_map_size: The smallest edge a feature map may reach (nnU-Net: 4).
        max_pools: At most this many halvings per axis (None: no cap, as nnU-Net's planner).

    Returns:
        The `Topology`, with the padded patch.

    Raises:
        ConfigError: Mismatched lengths, or a spacing or size <= 0.

    Example:
        >>> topology((1.0, 1.0, 1.0), (128, 128, 128)).n_stages
        6
    """
    dims = len(spacing)
    if dims == 0 or len(patch_size) != dims:
        raise ConfigError(f"spacing {list(spacing)} and patch_size {list(patch_size)} need the same number of axes")
    if any(s <= 0 for s in spacing) or any(p <= 0 for p in patch_size):
        raise ConfigError(f"spacing {list(spacing)} and patch_size {list(patch_size)} must be > 0")
    current_spacing = [float(s) for s in spacing]
    current_size = [float(p) for p in patch_size]
    pools = [0] * dims
    kernel = [1] * dims
    strides: list[Axes] = [(1,) * dims]
    kernels: list[Axes] = []
    notes: list[str] = []
    while True:
        candidates = [d for d in range(dims) if current_size[d] >= 2 * min_feature_map_size]
        if not candidates:
            break
        finest = min(current_spacing[d] for d in candidates)
        valid = [d for d in candidates if current_spacing[d] / finest < 2]
        if max_pools is not None:
            valid = [d for d in valid if pools[d] < max_pools]
        if len(valid) == 1 and current_size[valid[0]] < 3 * min_feature_map_size:
            break
        if not valid:
            break
        finest_all = min(current_spacing)
        for d in range(dims):
            if kernel[d] == 1 and current_spacing[d] / finest_all < 2:
                kernel[d] = 3
        kernels.append(tuple(kernel))
        stride = tuple(2 if d in valid else 1 for d in range(dims))
        kept = [d for d in range(dims) if d not in valid]
        why = []
        for d in kept:
            if current_size[d] < 2 * min_feature_map_size:
                why.append(f"axis {d} size {current_size[d]:g} < {2 * min_feature_map_size}")
            elif current_spacing[d] / finest >= 2:
                why.append(f"axis {d} spacing {current_spacing[d]:g} >= 2 x {finest:g}")
            else:
                why.append(f"axis {d} pooled {pools[d]} times (max_pools)")
        for d in valid:
            pools[d] += 1
            current_spacing[d] *= 2
            current_size[d] = math.ceil(current_size[d] / 2)
        strides.append(stride)
        notes.append(f"stage {len(strides) - 1}: stride {stride}" + (f" (kept: {'; '.join(why)})" if why else ""))
    kernels.append((3,) * dims)
    divisor = tuple(2**p for p in pools)
    return Topology(
        strides=tuple(strides),
        kernel_sizes=tuple(kernels),
        patch_size=pad_to_multiple(patch_size, divisor),
        pools_per_axis=tuple(pools),
        divisor=divisor,
        notes=tuple(notes),
    )
