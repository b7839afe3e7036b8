"""The dataset base class shared by every layout: decode, map labels, check, transform."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset
from torchvision import tv_tensors

from seg_data._decode import read_image, read_mask
from seg_data.errors import DatasetError
from seg_data.labels import apply_lut, check_labels
from seg_data.metadata import DatasetMetadata

__all__ = ["Sample", "SegmentationDataset", "finalize"]

Sample = tuple[str, Path, Path | None]
Transform = Callable[[Any, Any], tuple[Any, Any]]

_MIX = 0x9E3779B97F4A7C15


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Deterministic 63-bit seed for one sample of one epoch (independent of worker count)."""
    x = (seed * _MIX + epoch * 0xBF58476D1CE4E5B9 + index * 0x94D049BB133111EB) & ((1 << 64) - 1)
    x ^= x >> 31
    return x & ((1 << 63) - 1)


def finalize(image: Any, mask: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Return plain tensors: image float (C, H, W) (uint8 scaled to [0, 1]) and mask int64 (H, W)."""
    img = torch.as_tensor(image).as_subclass(torch.Tensor)
    if not img.is_floating_point():
        img = img.to(torch.float32) / 255.0
    msk = torch.as_tensor(mask).as_subclass(torch.Tensor)
    if msk.ndim == 3 and msk.shape[0] == 1:
        msk = msk[0]
    return img, msk.to(torch.int64)


class SegmentationDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """A list of (stem, image path, mask path) pairs with a label mapping and optional transforms.

    Subclasses find the pairs in their official layout and set ``lut`` (raw value -> class index) or
    override :meth:`map_mask`.

    Args:
        samples: ``(stem, image_path, mask_path_or_None)``, already paired by stem.
        metadata: Classes, colors and ignore index.
        transforms: Callable ``(image, mask) -> (image, mask)`` on ``tv_tensors.Image`` (uint8, CxHxW) and
            ``tv_tensors.Mask`` (int64, HxW); typically ``seg_data.Compose([augment, transform])``. None
            returns the decoded image scaled to float [0, 1].
        split: Split name (kept for messages and class-weight caching).
        lut: Lookup table for raw mask values, or None when :meth:`map_mask` is overridden.
        mapping_id: Short text identifying the label mapping (class-weight cache key).
        seed: When given, the transforms of sample ``i`` in epoch ``e`` draw from a generator seeded by
            ``(seed, e, i)``: the same stream whatever the number of DataLoader workers.
        check: Verify that mapped labels are in ``[0, num_classes) | {ignore_index}``.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        metadata: DatasetMetadata,
        transforms: Transform | None = None,
        *,
        split: str = "",
        lut: NDArray[np.int64] | None = None,
        mapping_id: str = "",
        root: Path | None = None,
        seed: int | None = None,
        check: bool = True,
    ) -> None:
        self.samples = list(samples)
        self.metadata = metadata
        self.transforms = transforms
        self.split = split
        self.lut = lut
        self.mapping_id = mapping_id
        self.root = root
        self.seed = seed
        self.epoch = 0
        self.check = check

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
        return read_image(self.samples[index][1])

    def load_mask(self, index: int) -> torch.Tensor:
        """Decode and map mask ``index`` to int64 (H, W) (no image decoding: used for class weights).

        Splits without annotations give a mask filled with ``ignore_index`` of the image's size.

        Raises:
            DatasetError: Corrupt mask, or labels outside ``[0, num_classes) | {ignore}`` after mapping.
        """
        mask_path = self.samples[index][2]
        if mask_path is None:
            h, w = self.load_image(index).shape[-2:]
            return torch.full((h, w), self.ignore_index, dtype=torch.int64)
        mapped = self.map_mask(self.read_raw_mask(mask_path), mask_path)
        if self.check:
            check_labels(mapped, self.num_classes, self.ignore_index, source=str(mask_path))
        return torch.from_numpy(np.ascontiguousarray(mapped, dtype=np.int64))

    def read_raw_mask(self, path: Path) -> NDArray[np.integer]:
        """Decode the stored mask values (override for non-image formats such as .mat)."""
        return read_mask(path)

    def map_mask(self, raw: NDArray[np.integer], path: Path) -> NDArray[np.int64]:
        """Map raw values to class indices with ``self.lut`` (override for other encodings)."""
        if raw.ndim != 2:
            raise DatasetError(f"{path}: expected a single-channel index mask, got shape {raw.shape}")
        if self.lut is None:
            return raw.astype(np.int64)
        return apply_lut(raw, self.lut, source=str(path))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        image = self.load_image(index)
        mask = self.load_mask(index)
        if tuple(image.shape[-2:]) != tuple(mask.shape):
            _, ip, mp = self.samples[index]
            raise DatasetError(
                f"image {ip} is {tuple(image.shape[-2:])} (H, W) but its mask {mp} is {tuple(mask.shape)}"
            )
        return self.apply_transforms(tv_tensors.Image(image), tv_tensors.Mask(mask), index)

    def apply_transforms(self, image: Any, mask: Any, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``transforms`` (seeded per sample when ``seed`` is set) and return plain tensors."""
        if self.transforms is not None:
            if self.seed is None:
                image, mask = self.transforms(image, mask)
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(sample_seed(self.seed, self.epoch, index))
                    image, mask = self.transforms(image, mask)
        return finalize(image, mask)
