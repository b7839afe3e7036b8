"""seg data: datasets in their official layouts, metadata, transforms and augmentations, class weights.

Importing ``seg_data`` is cheap; torch-based parts load on first attribute access.

Example:
    >>> import seg_data
    >>> ds = seg_data.create_dataset("synthetic", num_samples=2, size=32)
    >>> seg_data.resolve_metadata("cityscapes").num_classes
    19
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "create_dataset": "seg_data.factory",
    "list_datasets": "seg_data.factory",
    "DatasetMetadata": "seg_data.metadata",
    "resolve_metadata": "seg_data.metadata",
    "register_metadata": "seg_data.metadata",
    "DatasetError": "seg_data.errors",
    "LayoutError": "seg_data.errors",
    "SegmentationDataset": "seg_data.base",
    "Compose": "seg_data.transforms",
    "SegmentationTransform": "seg_data.transforms",
    "SegmentationAugment": "seg_data.transforms",
    "augment_batch": "seg_data.transforms",
    "seed_worker": "seg_data.seeding",
    "make_generator": "seg_data.seeding",
    "compute_class_weights": "seg_data.class_weights",
    "overlay": "seg_data.visualize",
    "save_grid": "seg_data.visualize",
}

__all__ = ["__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:
    from seg_data.base import SegmentationDataset
    from seg_data.class_weights import compute_class_weights
    from seg_data.errors import DatasetError, LayoutError
    from seg_data.factory import create_dataset, list_datasets
    from seg_data.metadata import DatasetMetadata, register_metadata, resolve_metadata
    from seg_data.seeding import make_generator, seed_worker
    from seg_data.transforms import Compose, SegmentationAugment, SegmentationTransform, augment_batch
    from seg_data.visualize import overlay, save_grid
