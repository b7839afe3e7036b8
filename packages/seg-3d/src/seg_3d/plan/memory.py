"""The feature-map size of a residual-encoder U-Net: nnU-Net's proxy for training memory.

nnU-Net's planners do not measure memory; they count the output elements (channels x voxels) of
every convolution for one sample (``compute_conv_feature_map_size`` in
``dynamic_network_architectures``: ``architectures/unet.py`` (``ResidualEncoderUNet``),
``building_blocks/residual_encoders.py``, ``building_blocks/unet_decoder.py``) and compare the sum
with a reference value tuned per GPU memory target (`seg_3d.encoders.resenc_presets`).

With ``X_s`` the spatial size of stage ``s`` (the patch divided by the strides so far, integer
division), ``|X_s|`` its voxel count and ``F_s`` its channels:

- stem: ``F_0 |X_0|``;
- encoder stage ``s``: ``F_s |X_s| (2 blocks_s + 1)`` when its first block needs a projection
  shortcut (the channels or the size change), else ``F_s |X_s| 2 blocks_s``;
- decoder stage at skip ``s`` (``s = n-2 .. 0``): ``decoder_convs F_s |X_s|`` plus ``F_s |X_s|``
  for the transposed convolution;
- segmentation head: ``classes |X_0|``, and ``classes |X_s|`` on every decoder stage with deep supervision.

Example:
    >>> feature_map_size((128, 128, 128), [(1, 1, 1)] + [(2, 2, 2)] * 5, (32, 64, 128, 256, 320, 320),
    ...                  (1, 3, 4, 6, 6, 6), classes=3, deep_supervision=True)
    558319104
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from seg_core.errors import ConfigError

__all__ = ["feature_map_size", "stage_sizes"]


def stage_sizes(patch_size: Sequence[int], strides: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
    """The spatial size of each stage: the patch divided by the strides so far (integer division).

    Example:
        >>> stage_sizes((20, 64, 64), [(1, 1, 1), (1, 2, 2), (2, 2, 2)])
        [(20, 64, 64), (20, 32, 32), (10, 16, 16)]
    """
    sizes = []
    size = tuple(int(p) for p in patch_size)
    for stride in strides:
        size = tuple(s // st for s, st in zip(size, stride))
        sizes.append(size)
    return sizes


def feature_map_size(
    patch_size: Sequence[int],
    strides: Sequence[Sequence[int]],
    features: Sequence[int],
    blocks: Sequence[int],
    classes: int,
    *,
    decoder_convs: int = 1,
    deep_supervision: bool = False,
) -> int:
    """The summed convolution outputs of a ResEnc U-Net for one sample (see the module docstring).

    Args:
        patch_size: The input's spatial size.
        strides: One per-axis stride per stage (stage 0: all 1).
        features: Channels per stage.
        blocks: Residual blocks per encoder stage.
        classes: Output channels of the segmentation head.
        decoder_convs: Convolutions per decoder stage (ResEnc: 1).
        deep_supervision: Count a head on every decoder stage (nnU-Net's planners count only the last).

    Returns:
        The element count (an int).

    Raises:
        ConfigError: ``strides``, ``features`` and ``blocks`` differ in length.
    """
    n = len(strides)
    if len(features) != n or len(blocks) < n:
        raise ConfigError(
            f"feature_map_size needs one feature count and block count per stage: {n} strides, "
            f"{len(features)} features, {len(blocks)} blocks"
        )
    voxels = [math.prod(size) for size in stage_sizes(patch_size, strides)]
    total = features[0] * voxels[0]  # stem
    previous = features[0]
    for s in range(n):
        projection = previous != features[s] or any(st != 1 for st in strides[s])
        total += features[s] * voxels[s] * (2 * blocks[s] + (1 if projection else 0))
        previous = features[s]
    for s in range(n - 2, -1, -1):
        total += (decoder_convs + 1) * features[s] * voxels[s]
        if deep_supervision or s == 0:
            total += classes * voxels[s]
    return int(total)
