"""The dataset base class shared by every layout: decode, convert once, augment and transform.

A sample takes one path (see :mod:`seg_data.convert`):

1. :meth:`SegmentationDataset.decode`: read the image and the mask file and map the raw mask values to class
   indices (numpy; the label check runs here);
2. :func:`~seg_data.convert.to_tensors`: the one conversion to ``tv_tensors.Image`` / ``tv_tensors.Mask``;
3. the dataset's ``transforms`` (typically ``Compose([augment, transform])``), seeded per sample when ``seed``
   is set and run inside :func:`~seg_data.transforms.metadata_scope`, so that their ``ignore_index`` default is
   the dataset's;
4. :func:`~seg_data.convert.finalize`: plain tensors, float image.

Dataset modules configure the class instead of subclassing it: ``lut`` or ``mask_mapper`` for the label
encoding, ``mask_reader`` for non-image mask files, ``generate`` for samples made in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from seg_data._decode import read_image, read_mask
from seg_data.convert import finalize, image_tensor, mask_tensor, to_tensors
from seg_data.errors import DatasetError
from seg_data.labels import apply_lut, as_label_array, check_labels, check_raw_labels, defined_values
from seg_data.metadata import DatasetMetadata
from seg_data.seeding import sample_seed, seeded
from seg_data.transforms import metadata_scope

__all__ = [
    "DatasetOptions",
    "Generate",
    "MaskMapper",
    "MaskReader",
    "Sample",
    "SegmentationDataset",
    "Transform",
]

#: ``(stem, image path, mask path or None)``, paired by stem.
Sample = tuple[str, Path, Path | None]
#: ``(image, mask) -> (image, mask)``.
Transform = Callable[[Any, Any], tuple[Any, Any]]
#: Mask file -> stored values (before mapping).
MaskReader = Callable[[Path], NDArray[np.integer]]
#: ``(stored values, mask file) -> class indices``.
MaskMapper = Callable[[NDArray[np.integer], Path], NDArray[np.int64]]
#: Sample index -> decoded ``(image uint8 (H, W, C), mask int64 (H, W))``, for samples made in memory.
Generate = Callable[[int], tuple[NDArray[np.uint8], NDArray[np.int64]]]


class DatasetOptions(TypedDict, total=False):
    """Options every built-in dataset factory passes on to :class:`SegmentationDataset` (``**options``).

    Attributes:
        seed: Per-sample seed for the transforms (see :mod:`seg_data.seeding`); None draws from the global RNG.
        check: Verify the labels (default True): the values stored in each mask file must be defined by the
            dataset's label encoding (classes and the values it defines as void), and the mapped labels must be in
            ``[0, num_classes) | {ignore_index}``. False maps undefined stored values to ``ignore_index``.
    """

    seed: int | None
    check: bool


class SegmentationDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """A list of (stem, image path, mask path) pairs with a label mapping and optional transforms.

    Args:
        samples: ``(stem, image_path, mask_path_or_None)``, already paired by stem; a sample without mask
            (unannotated split) gets a mask filled with ``ignore_index``.
        metadata: Classes, colors and ignore index.
        transforms: Callable ``(image, mask) -> (image, mask)`` on ``tv_tensors.Image`` (uint8, CxHxW) and
            ``tv_tensors.Mask`` (int64, HxW); typically ``seg_data.Compose([augment, transform])``. It runs with
            this dataset's metadata in scope: transforms whose ``ignore_index`` is None fill masks with
            ``metadata.ignore_index``. None returns the decoded image scaled to float [0, 1].
        split: Split name (kept for messages and class-weight caching).
        lut: Lookup table for raw mask values (raw value -> class index); None keeps the raw values.
        mask_reader: Decoder of a mask file to its stored values; default: PNG and other image files.
        mask_mapper: ``(raw, path) -> class indices``, for encodings a lookup table cannot express (colors,
            reduce-zero-label); overrides ``lut``.
        generate: Samples made in memory: ``index -> (image uint8 (H, W, C), mask int64 (H, W))`` instead of
            reading the sample's files.
        mapping_id: Short text identifying the label mapping (class-weight cache key).
        root: The dataset folder (messages and class-weight caching).
        seed: When given, the transforms of sample ``i`` in epoch ``e`` draw from torch's RNG seeded by
            ``(seed, e, i)``: the same stream whatever the number of DataLoader workers.
        check: Verify the labels: the stored values of each single-channel mask file against ``raw_values``
            (before any lookup, so that an undefined value cannot hide as ``ignore_index``), then the mapped labels
            against ``[0, num_classes) | {ignore_index}``.
        raw_values: Boolean table of the stored mask values the label encoding defines (its classes and the values
            it defines as void; see :func:`~seg_data.labels.defined_values`). None derives it from ``lut``: the
            values it maps to a class, plus ``ignore_index``. Without ``lut`` and ``raw_values`` only the mapped
            labels are checked.

    Example:
        >>> from seg_data.metadata import DatasetMetadata
        >>> import numpy as np
        >>> def make(i):
        ...     return np.zeros((4, 4, 3), np.uint8), np.full((4, 4), i % 2, np.int64)
        >>> ds = SegmentationDataset([("a", Path("a"), None), ("b", Path("b"), None)], DatasetMetadata("toy", 2),
        ...                          generate=make)
        >>> image, mask = ds[1]
        >>> image.dtype, mask.tolist()[0]
        (torch.float32, [1, 1, 1, 1])
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        metadata: DatasetMetadata,
        transforms: Transform | None = None,
        *,
        split: str = "",
        lut: NDArray[np.int64] | None = None,
        mask_reader: MaskReader | None = None,
        mask_mapper: MaskMapper | None = None,
        generate: Generate | None = None,
        mapping_id: str = "",
        root: Path | None = None,
        seed: int | None = None,
        check: bool = True,
        raw_values: NDArray[np.bool_] | None = None,
    ) -> None:
        self.samples = list(samples)
        self.metadata = metadata
        self.transforms = transforms
        self.split = split
        self.lut = lut
        self.mask_reader: MaskReader = mask_reader or read_mask
        self.mask_mapper = mask_mapper
        self.generate = generate
        self.mapping_id = mapping_id
        self.root = root
        self.seed = seed
        self.epoch = 0
        self.check = check
        if raw_values is None and lut is not None:
            raw_values = defined_values(lut, metadata.ignore_index)
        self.raw_values = raw_values

    # -- public ----------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        """Number of classes (from the metadata)."""
        return self.metadata.num_classes

    @property
    def ignore_index(self) -> int:
        """Mask value of ignored pixels (from the metadata)."""
        return self.metadata.ignore_index

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.metadata.name!r}, split={self.split!r}, samples={len(self)}, "
            f"num_classes={self.num_classes}, root={str(self.root)!r})"
        )

    def set_epoch(self, epoch: int) -> None:
        """Change the epoch mixed into per-sample seeds (call at the start of each epoch)."""
        self.epoch = int(epoch)

    def load_image(self, index: int) -> torch.Tensor:
        """Decode image ``index`` to uint8 (3, H, W)."""
        return image_tensor(self.decode_image(index))

    def load_mask(self, index: int) -> torch.Tensor:
        """Decode and map mask ``index`` to int64 (H, W) (no image decoding: used for class weights).

        Splits without annotations give a mask filled with ``ignore_index`` of the image's size.

        Raises:
            DatasetError: Corrupt mask, or labels outside ``[0, num_classes) | {ignore}`` after mapping.
        """
        return mask_tensor(self.decode_mask(index))

    def decode_image(self, index: int) -> NDArray[np.uint8]:
        """Decode image ``index`` to a uint8 (H, W, 3) array (first stage of a sample)."""
        if self.generate is not None:
            return self.generate(index)[0]
        return read_image(self.samples[index][1])

    def decode_mask(self, index: int, image_hw: tuple[int, int] | None = None) -> NDArray[np.int64]:
        """Decode mask ``index`` and map it to checked class indices, int64 (H, W).

        Args:
            index: Sample index.
            image_hw: The image size, when known (masks of unannotated samples are made at that size).

        Raises:
            DatasetError: Corrupt mask, stored values the label encoding does not define, or labels outside
                ``[0, num_classes) | {ignore}`` after mapping.
        """
        _, image_path, mask_path = self.samples[index]
        if self.generate is not None:
            return self._checked(self.generate(index)[1], str(image_path))
        if mask_path is None:
            hw = image_hw if image_hw is not None else self.decode_image(index).shape[:2]
            return np.full(hw, self.ignore_index, dtype=np.int64)
        raw = self.read_raw_mask(mask_path)
        if self.check and self.raw_values is not None and np.ndim(raw) == 2:
            check_raw_labels(
                raw, self.raw_values, source=str(mask_path), encoding=f"the {self.metadata.name!r}",
                ignore_index=self.ignore_index,
            )  # fmt: skip
        return self._checked(self.map_mask(raw, mask_path), str(mask_path))

    def decode(self, index: int) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        """Decode sample ``index``: image uint8 (H, W, 3) and checked class indices int64 (H, W).

        Raises:
            DatasetError: A corrupt file, labels out of range, or image and mask of different sizes (names both).
        """
        if self.generate is not None:
            image, mask = self.generate(index)
            mask = self._checked(mask, str(self.samples[index][1]))
        else:
            image = self.decode_image(index)
            mask = self.decode_mask(index, image.shape[:2])
        if tuple(image.shape[:2]) != tuple(mask.shape):
            _, ip, mp = self.samples[index]
            raise DatasetError(
                f"image {ip} is {tuple(image.shape[:2])} (H, W) but its mask {mp} is {tuple(mask.shape)}"
            )
        return image, mask

    def read_raw_mask(self, path: Path) -> NDArray[np.integer]:
        """Decode the stored mask values with ``mask_reader``."""
        return self.mask_reader(path)

    def map_mask(self, raw: NDArray[np.integer], path: Path) -> NDArray[np.int64]:
        """Map raw values to class indices with ``mask_mapper``, else ``lut``, else keep them.

        Raises:
            DatasetError: A multi-channel mask without a ``mask_mapper``, or a value beyond the ``lut``.
        """
        if self.mask_mapper is not None:
            return self.mask_mapper(raw, path)
        if raw.ndim != 2:
            raise DatasetError(f"{path}: expected a single-channel index mask, got shape {raw.shape}")
        if self.lut is None:
            return as_label_array(raw, source=str(path))
        return apply_lut(raw, self.lut, source=str(path))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        image, mask = to_tensors(*self.decode(index))
        return self.apply_transforms(image, mask, index)

    def apply_transforms(self, image: Any, mask: Any, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``transforms`` (seeded per sample when ``seed`` is set, this dataset's metadata in scope).

        Returns:
            Plain tensors: float image (C, H, W), int64 mask (H, W).
        """
        if self.transforms is not None:
            seed = None if self.seed is None else sample_seed(self.seed, self.epoch, index)
            with metadata_scope(self.metadata), seeded(seed):
                image, mask = self.transforms(image, mask)
        return finalize(image, mask)

    # -- internals ---------------------------------------------------------------
    def _checked(self, mask: NDArray[np.integer], source: str) -> NDArray[np.int64]:
        if self.check:
            check_labels(mask, self.num_classes, self.ignore_index, source=source)
        return as_label_array(mask, source=source)
