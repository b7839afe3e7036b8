"""The volume dataset class every layout shares: read a case, check it, transform it.

A sample takes one path:

1. :meth:`VolumeDataset.load_case`: read the image (one file, or one file per channel) and the label, and
   check them: same spatial shape and geometry for every file of the case (an error names both files),
   labels in ``[0, num_classes) | {ignore_index}`` (an error names the file), the declared channel count;
2. the dataset's ``transforms`` (typically ``Compose([VolumeTransform(...), VolumeAugment(...)])``), seeded
   per sample when ``seed`` is set, and run inside :func:`~seg_3d.data.transforms.volume_scope` with the
   dataset's ignore index and the case's spacing;
3. plain tensors: float32 image ``(C, D, H, W)``, int64 label ``(D, H, W)``.

Dataset modules configure the class (cases, metadata, ``generate`` for volumes made in memory) instead of
subclassing it; it has the attributes seg-train's trainer reads (``metadata``, ``set_epoch``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch.utils.data import Dataset

from seg_3d.data.errors import VolumeError
from seg_3d.data.io import VolumeMeta, read_image, read_label
from seg_3d.data.metadata import VolumeMetadata
from seg_3d.data.transforms import volume_scope
from seg_core.seeding import sample_seed, seeded

__all__ = ["Case", "Generate", "LoadedCase", "Transform", "VolumeDataset"]

#: ``(image, label) -> (image, label)``.
Transform = Callable[[Any, Any], tuple[Any, Any]]
#: A decoded case: float32 image ``(C, D, H, W)``, int64 label ``(D, H, W)``, the image's meta.
LoadedCase = tuple[NDArray[np.float32], NDArray[np.int64], VolumeMeta]
#: Case index -> a decoded case, for volumes made in memory.
Generate = Callable[[int], LoadedCase]


@dataclass(frozen=True)
class Case:
    """One case: its files, paired by stem.

    Attributes:
        stem: The case name.
        images: The image file (3D, or 4D with the channels), or one file per channel in channel order
            (nnU-Net's ``<case>_0000``, ``<case>_0001``... naming).
        label: The label file, or None (unannotated: the label is all ``ignore_index``).
    """

    stem: str
    images: tuple[Path, ...]
    label: Path | None = None


def _same_geometry(a: VolumeMeta, b: VolumeMeta) -> bool:
    if not (a.has_geometry and b.has_geometry):
        return True
    scale = max(1.0, float(np.abs(a.affine).max()))
    return bool(np.allclose(a.affine, b.affine, rtol=1e-4, atol=1e-3 * scale))


class VolumeDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """A list of cases with their metadata and transforms; ``dataset[i]`` is ``(image, label)`` tensors.

    Args:
        cases: The cases, already paired.
        metadata: Classes, palette, ignore index, spacing and modalities.
        transforms: ``(image, label) -> (image, label)`` on a float32 ``(C, D, H, W)`` tensor and an int64
            ``(D, H, W)`` tensor; None returns the decoded volumes.
        split: The split's name (messages).
        root: The dataset folder (messages).
        seed: When given, the transforms of case ``i`` in epoch ``e`` draw from torch's RNG seeded by
            ``(seed, e, i)``: the same stream whatever the number of DataLoader workers.
        check: Verify the labels: values outside ``[0, num_classes) | {ignore_index}`` are an error naming the
            file; False maps them to ``ignore_index``.
        spacing: The spacing of files that store none (``.npy``, ``.npz`` without ``spacing``).
        generate: Cases made in memory: ``index -> (image, label, meta)`` instead of reading files.

    Example:
        >>> from seg_3d.data.io import default_affine
        >>> def make(i):
        ...     meta = VolumeMeta((4, 4, 4), (1.0, 1.0, 1.0), default_affine((1.0, 1.0, 1.0)), f"#{i}", "generated")
        ...     return np.zeros((1, 4, 4, 4), np.float32), np.full((4, 4, 4), i % 2, np.int64), meta
        >>> ds = VolumeDataset([Case("a", ()), Case("b", ())], VolumeMetadata("toy", 2), generate=make)
        >>> image, label = ds[1]
        >>> tuple(image.shape), int(label.max())
        ((1, 4, 4, 4), 1)
    """

    def __init__(
        self,
        cases: Sequence[Case],
        metadata: VolumeMetadata,
        transforms: Transform | None = None,
        *,
        split: str = "",
        root: Path | None = None,
        seed: int | None = None,
        check: bool = True,
        spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
        generate: Generate | None = None,
    ) -> None:
        self.cases = list(cases)
        self.metadata = metadata
        self.transforms = transforms
        self.split = split
        self.root = root
        self.seed = seed
        self.epoch = 0
        self.check = check
        self.spacing = spacing
        self.generate = generate

    @property
    def num_classes(self) -> int:
        """Number of classes (from the metadata)."""
        return self.metadata.num_classes

    @property
    def ignore_index(self) -> int:
        """Label value of ignored voxels (from the metadata)."""
        return self.metadata.ignore_index

    def __len__(self) -> int:
        return len(self.cases)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.metadata.name!r}, split={self.split!r}, cases={len(self)}, "
            f"num_classes={self.num_classes}, root={str(self.root)!r})"
        )

    def set_epoch(self, epoch: int) -> None:
        """Change the epoch mixed into the per-sample seeds (seg-train calls it at the start of each epoch)."""
        self.epoch = int(epoch)

    def load_case(self, index: int) -> LoadedCase:
        """Read and check case ``index``: float32 image ``(C, D, H, W)``, int64 label ``(D, H, W)``, image meta.

        The meta is what :func:`~seg_3d.data.io.write_prediction` needs to write a prediction of this case.

        Raises:
            VolumeError: A corrupt file; files of the case with different spatial shapes or geometry (names both);
                a channel count other than the metadata's modalities; labels outside the classes (``check``).
        """
        case = self.cases[index]
        if self.generate is not None:
            image, label, meta = self.generate(index)
            return image, self._checked(label, meta.source), meta
        first, meta = read_image(case.images[0], spacing=self.spacing)
        channels = [first]
        for path in case.images[1:]:
            more, other = read_image(path, spacing=self.spacing)
            self._check_partner(meta, other, what="channel file")
            channels.append(more)
        image = channels[0] if len(channels) == 1 else np.concatenate(channels, axis=0)
        expected = self.metadata.in_channels
        if image.shape[0] != expected:
            files = ", ".join(str(p) for p in case.images)
            raise VolumeError(
                f"case {case.stem!r} ({files}) has {image.shape[0]} image channel(s) but the dataset declares "
                f"{expected} modalities {list(self.metadata.modalities)}"
            )
        if case.label is None:
            label = np.full(meta.shape, self.ignore_index, dtype=np.int64)
        else:
            label, label_meta = read_label(case.label, spacing=self.spacing)
            self._check_partner(meta, label_meta, what="label")
            label = self._checked(label, str(case.label))
        return image, label, meta

    def _check_partner(self, image: VolumeMeta, other: VolumeMeta, *, what: str) -> None:
        if other.shape != image.shape:
            raise VolumeError(
                f"{what} {other.source} is {other.shape} (D, H, W) but its image {image.source} is {image.shape}: "
                "the pair would be misaligned"
            )
        if not _same_geometry(image, other):
            raise VolumeError(
                f"{what} {other.source} lies elsewhere in space than its image {image.source} (spacing "
                f"{other.spacing} vs {image.spacing}, affines differ): the pair would be misaligned; resample one "
                "onto the other first"
            )

    def _checked(self, label: NDArray[np.int64], source: str) -> NDArray[np.int64]:
        valid = ((label >= 0) & (label < self.num_classes)) | (label == self.ignore_index)
        if bool(valid.all()):
            return label
        if self.check:
            bad = np.unique(label[~valid])[:8].tolist()
            raise VolumeError(
                f"{source}: label values {bad} are outside the {self.num_classes} classes of "
                f"{self.metadata.name!r} and its ignore_index {self.ignore_index}; fix the file, declare the "
                "classes (metadata), or pass check=False to map them to ignore_index"
            )
        return np.where(valid, label, self.ignore_index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} cases")
        index %= len(self)
        image_np, label_np, meta = self.load_case(index)
        image, label = torch.from_numpy(image_np), torch.from_numpy(label_np)
        if self.transforms is not None:
            seed = None if self.seed is None else sample_seed(self.seed, self.epoch, index)
            with volume_scope(self.ignore_index, meta.spacing), seeded(seed):
                image, label = self.transforms(image, label)
        image = torch.as_tensor(image).as_subclass(torch.Tensor)
        label = torch.as_tensor(label).as_subclass(torch.Tensor)
        return image.float().contiguous(), label.long().contiguous()
