"""seg-3d's volume data: datasets, reading and writing volumes, 3D transforms.

Importing ``seg_3d.data`` is cheap; the torch-based parts load on first attribute access.

Example:
    >>> from seg_3d.data import synthetic_volumes
    >>> image, label = synthetic_volumes(num_samples=1, size=16)[0]
    >>> tuple(image.shape), tuple(label.shape)
    ((1, 16, 16, 16), (16, 16, 16))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports

_LAZY: dict[str, str] = {
    "VolumeDataset": "seg_3d.data.dataset",
    "Case": "seg_3d.data.dataset",
    "VolumeError": "seg_3d.data.errors",
    "VolumeLayoutError": "seg_3d.data.errors",
    "VolumeMeta": "seg_3d.data.io",
    "read_image": "seg_3d.data.io",
    "read_label": "seg_3d.data.io",
    "write_prediction": "seg_3d.data.io",
    "volume_stem": "seg_3d.data.io",
    "VolumeMetadata": "seg_3d.data.metadata",
    "Compose": "seg_3d.data.transforms",
    "VolumeAugment": "seg_3d.data.transforms",
    "VolumeTransform": "seg_3d.data.transforms",
    "build_transforms": "seg_3d.data.transforms",
    "volume_scope": "seg_3d.data.transforms",
    "msd": "seg_3d.data.datasets.msd",
    "synthetic_volumes": "seg_3d.data.datasets.synthetic_volumes",
    "volume_folder": "seg_3d.data.datasets.volume_folder",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:
    from seg_3d.data.dataset import Case, VolumeDataset
    from seg_3d.data.datasets.msd import msd
    from seg_3d.data.datasets.synthetic_volumes import synthetic_volumes
    from seg_3d.data.datasets.volume_folder import volume_folder
    from seg_3d.data.errors import VolumeError, VolumeLayoutError
    from seg_3d.data.io import VolumeMeta, read_image, read_label, volume_stem, write_prediction
    from seg_3d.data.metadata import VolumeMetadata
    from seg_3d.data.transforms import Compose, VolumeAugment, VolumeTransform, build_transforms, volume_scope
