"""Synthetic volumes made in memory: spheres, cubes and ellipsoids of several classes on a noisy background.

Deterministic: case ``i`` of split ``s`` with ``data_seed`` is always the same volume (seeded per index),
whatever the worker or the order. Each class has its own intensity level and shape (class ``k`` is a sphere,
a cube or an ellipsoid for ``k % 3`` = 1, 2, 0), so a tiny 3D network learns it in seconds; shapes are round in
millimetres, so an anisotropic ``spacing`` gives the flattened voxel shapes of thick-slice scans. It is the
embedded default of the 3D demo and the tests (no download). torch is imported when volumes are generated.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seg_3d.data.io import VolumeMeta, default_affine
from seg_3d.data.metadata import VolumeMetadata
from seg_core.errors import ConfigError

if TYPE_CHECKING:
    from seg_3d.data.dataset import LoadedCase, Transform, VolumeDataset

__all__ = ["SyntheticVolumes", "synthetic_volumes", "synthetic_volumes_metadata"]

_SHAPES = ("background", "sphere", "cube", "ellipsoid")


def synthetic_volumes_metadata(
    num_classes: int = 3,
    ignore_index: int = 255,
    spacing: float | Sequence[float] = 1.0,
    channels: int = 1,
) -> VolumeMetadata:
    """Return the synthetic volumes' metadata.

    Args:
        num_classes: Classes including background (class 0).
        ignore_index: Label of ignored voxels.
        spacing: Voxel spacing ``(D, H, W)`` in mm (one number: isotropic).
        channels: Image channels (``channel_<i>`` modalities).

    Returns:
        The metadata: classes named after their shapes (``sphere_2``... beyond the first three).

    Example:
        >>> synthetic_volumes_metadata(4).labels
        ('background', 'sphere', 'cube', 'ellipsoid')
    """
    labels = ["background"] + [
        _SHAPES[k] if k < len(_SHAPES) else f"{_SHAPES[1 + (k - 1) % 3]}_{k}" for k in range(1, num_classes)
    ]
    modalities = ["image"] if channels == 1 else [f"channel_{c}" for c in range(channels)]
    return VolumeMetadata(
        "synthetic_volumes", num_classes, labels[:num_classes], ignore_index, spacing=_spacing(spacing),
        modalities=modalities,
    )  # fmt: skip


def _spacing(spacing: float | Sequence[float]) -> tuple[float, float, float]:
    values = [spacing] * 3 if isinstance(spacing, (int, float)) else list(spacing)
    if len(values) != 3 or min(float(v) for v in values) <= 0:
        raise ConfigError(f"synthetic_volumes: spacing must be one or three positive numbers, got {spacing!r}")
    return float(values[0]), float(values[1]), float(values[2])


@dataclass(frozen=True)
class SyntheticVolumes:
    """The generator of one split's volumes (the dataset's ``generate``; picklable for DataLoader workers).

    Args:
        base_seed: Seed of case 0 (case ``i`` uses ``base_seed + i``).
        size: ``(D, H, W)``.
        num_classes: Classes including background.
        channels: Image channels.
        spacing: Voxel spacing ``(D, H, W)`` in mm.
        noise: Standard deviation of the Gaussian noise.
    """

    base_seed: int
    size: tuple[int, int, int]
    num_classes: int
    channels: int
    spacing: tuple[float, float, float]
    noise: float

    def __call__(self, index: int) -> LoadedCase:
        """Return case ``index``: float32 image ``(C, D, H, W)``, int64 label ``(D, H, W)``, meta."""
        import torch

        g = torch.Generator().manual_seed(self.base_seed + index)
        d, h, w = self.size
        sd, sh, sw = self.spacing
        zz = (torch.arange(d, dtype=torch.float32) * sd).view(d, 1, 1)
        yy = (torch.arange(h, dtype=torch.float32) * sh).view(1, h, 1)
        xx = (torch.arange(w, dtype=torch.float32) * sw).view(1, 1, w)
        extent = torch.tensor([d * sd, h * sh, w * sw])
        # smooth background around 0: a slow wave plus noise
        f, p = (torch.rand(2, generator=g) * torch.tensor([0.2, 6.28])).tolist()
        background = 0.1 * torch.sin(zz * f + p) * torch.cos((xx + yy) * f)
        level = torch.zeros(d, h, w)
        label = torch.zeros(d, h, w, dtype=torch.int64)
        count = int(torch.randint(2, 2 + max(2, self.num_classes), (1,), generator=g)) if self.num_classes > 1 else 0
        for _ in range(count):
            cls = int(torch.randint(1, self.num_classes, (1,), generator=g))
            cz, cy, cx = (torch.rand(3, generator=g) * extent).tolist()
            r = (0.12 + 0.15 * float(torch.rand(1, generator=g))) * float(extent.min()) + max(self.spacing)
            kind = cls % 3
            if kind == 1:  # sphere
                region = (zz - cz) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            elif kind == 2:  # cube
                region = ((zz - cz).abs() <= r) & ((yy - cy).abs() <= r) & ((xx - cx).abs() <= r)
            else:  # ellipsoid, its axes drawn in [0.5, 1.2] x r
                az, ay, ax = (r * (0.5 + 0.7 * torch.rand(3, generator=g))).tolist()
                region = ((zz - cz) / az) ** 2 + ((yy - cy) / ay) ** 2 + ((xx - cx) / ax) ** 2 <= 1.0
            level = torch.where(region, torch.tensor(cls / max(1, self.num_classes - 1)), level)
            label[region] = cls
        gains = 1.0 + 0.5 * torch.arange(self.channels, dtype=torch.float32).view(-1, 1, 1, 1)
        noise = self.noise * torch.randn(self.channels, d, h, w, generator=g)
        image = gains * (level + background)[None] + noise
        meta = VolumeMeta(
            self.size, self.spacing, default_affine(self.spacing), f"<synthetic_volumes #{index}>", "generated",
            has_geometry=False,
        )  # fmt: skip
        return image.numpy().astype(np.float32), label.numpy(), meta


def synthetic_volumes(
    root: str | Path | None = None,
    split: str = "train",
    transforms: Transform | None = None,
    *,
    num_samples: int = 8,
    size: int | Sequence[int] = 32,
    num_classes: int = 3,
    channels: int = 1,
    spacing: float | Sequence[float] = 1.0,
    noise: float = 0.1,
    data_seed: int = 0,
    ignore_index: int = 255,
    seed: int | None = None,
    check: bool = True,
) -> VolumeDataset:
    """The built-in synthetic volume dataset (no files; ``root`` is ignored).

    Args:
        root: Ignored (every dataset takes it; optional here).
        split: Any name; different splits give different volumes.
        transforms: ``(image, label) -> (image, label)`` callable (see :mod:`seg_3d.data.transforms`).
        num_samples: Number of volumes.
        size: ``(D, H, W)`` or one int for cubes.
        num_classes: Classes including background (class 0); at least 1.
        channels: Image channels (each a scaled copy of the intensities with its own noise).
        spacing: Voxel spacing ``(D, H, W)`` in mm, one number for isotropic voxels.
        noise: Standard deviation of the Gaussian noise (class levels are ``k / (num_classes - 1)``).
        data_seed: Seed of the generated content.
        ignore_index: Label of ignored voxels (the generator writes none; transforms fill with it).
        seed: Per-sample seed for the transforms.
        check: Verify the labels (always valid here; accepted as by every dataset).

    Returns:
        A :class:`~seg_3d.data.dataset.VolumeDataset` with ``metadata`` from
        :func:`synthetic_volumes_metadata`.

    Raises:
        ConfigError: Sizes below 4, a negative count, fewer than 1 class or channel, non-positive spacing or
            negative noise.

    Example:
        >>> ds = synthetic_volumes(num_samples=2, size=(8, 16, 16), num_classes=3)
        >>> image, label = ds[0]
        >>> tuple(image.shape), tuple(label.shape), image.dtype, label.dtype
        ((1, 8, 16, 16), (8, 16, 16), torch.float32, torch.int64)
    """
    dhw = [size] * 3 if isinstance(size, int) else list(size)
    if len(dhw) != 3 or min(int(s) for s in dhw) < 4 or num_samples < 0 or num_classes < 1 or channels < 1:
        raise ConfigError(
            f"synthetic_volumes: need size (D, H, W) >= 4, num_samples >= 0, num_classes >= 1, channels >= 1; got "
            f"size={size!r}, num_samples={num_samples}, num_classes={num_classes}, channels={channels}"
        )
    if noise < 0:
        raise ConfigError(f"synthetic_volumes: noise={noise} must be >= 0")
    from seg_3d.data.dataset import Case, VolumeDataset

    meta = synthetic_volumes_metadata(num_classes, ignore_index, spacing, channels)
    cases = [Case(f"{split}_{i:05d}", ()) for i in range(num_samples)]
    base_seed = data_seed * 1_000_003 + zlib.crc32(split.encode())
    make = SyntheticVolumes(
        base_seed, (int(dhw[0]), int(dhw[1]), int(dhw[2])), num_classes, channels, _spacing(spacing), float(noise)
    )
    return VolumeDataset(cases, meta, transforms, split=split, seed=seed, check=check, generate=make)
