"""nnU-Net's residual-encoder (ResEnc) presets M, L and XL: one table for the encoder and the planner.

The three presets (nnU-Net Revisited, Isensee et al. 2024) share the network's building rules: a
stem convolution, then per stage ``blocks[s]`` residual ``BasicBlockD`` blocks (1, 3, 4, 6, 6, 6,
6... truncated to the number of stages) with ``min(32 * 2**s, 320)`` channels in 3D. They differ
in the GPU memory the planner targets (8, 24 and 40 GB), hence in the patch size, the depth and the
batch size the planner derives (``seg_3d.plan``). This module imports no torch.

Example:
    >>> RESENC_PRESETS["l"].gpu_memory_gb, RESENC_PRESETS["l"].reference_3d
    (24, 2100000000)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BLOCKS_PER_STAGE", "MAX_FEATURES_2D", "MAX_FEATURES_3D", "RESENC_PRESETS", "ResEncPreset", "features"]

#: Residual blocks per encoder stage, truncated to the number of stages (nnU-Net's ``n_blocks_per_stage``).
BLOCKS_PER_STAGE: tuple[int, ...] = (1, 3, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6)
#: The channel caps (``UNet_max_features_3d`` / ``_2d``); the base width is 32.
MAX_FEATURES_3D = 320
MAX_FEATURES_2D = 512


@dataclass(frozen=True)
class ResEncPreset:
    """One preset.

    Attributes:
        name: ``"m"``, ``"l"`` or ``"xl"``.
        gpu_memory_gb: The planner's GPU memory target.
        reference_3d: The planner's reference feature-map size in 3D (nnU-Net's ``UNet_reference_val_3d``).
        reference_2d: The same in 2D.
        reference_batch_3d: The batch size the reference corresponds to in 3D.
        reference_batch_2d: The same in 2D.
        max_dataset_covered: At most this fraction of the dataset's voxels in one batch (1: no cap).
    """

    name: str
    gpu_memory_gb: int
    reference_3d: int
    reference_2d: int
    reference_batch_3d: int = 2
    reference_batch_2d: int = 12
    max_dataset_covered: float = 1.0


#: The presets, by name.
RESENC_PRESETS: dict[str, ResEncPreset] = {
    "m": ResEncPreset("m", 8, 680_000_000, 135_000_000),
    "l": ResEncPreset("l", 24, 2_100_000_000, 380_000_000),
    "xl": ResEncPreset("xl", 40, 3_600_000_000, 560_000_000),
}


def features(stages: int, spatial_dims: int = 3, base: int = 32) -> tuple[int, ...]:
    """The channels of each stage: ``min(base * 2**s, cap)``.

    Example:
        >>> features(6)
        (32, 64, 128, 256, 320, 320)
    """
    cap = MAX_FEATURES_3D if spatial_dims == 3 else MAX_FEATURES_2D
    return tuple(min(base * 2**s, cap) for s in range(stages))
