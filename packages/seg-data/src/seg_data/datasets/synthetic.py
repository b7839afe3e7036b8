"""A synthetic dataset generated in memory: textured backgrounds with shapes of several classes.

Deterministic from ``seed``: sample ``i`` of split ``s`` is always the same image and mask. It is the
built-in dataset for the demo, the examples and the tests (no download, any size and class count).
torch is imported when samples are generated, not with this module.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from seg_data.errors import ConfigError
from seg_data.factory import dataset_factory
from seg_data.metadata import DatasetMetadata

if TYPE_CHECKING:
    import torch

    from seg_data.base import SegmentationDataset, Transform

__all__ = ["SyntheticSamples", "synthetic", "synthetic_metadata"]

_SHAPES = ("background", "square", "disc", "triangle", "stripe")


def synthetic_metadata(num_classes: int = 4, ignore_index: int = 255) -> DatasetMetadata:
    """Return the synthetic dataset's metadata.

    Args:
        num_classes: Classes including background (class 0).
        ignore_index: Value of ignored pixels.

    Returns:
        The metadata; classes are named after their shapes (``shape_<i>`` beyond the named ones).

    Example:
        >>> synthetic_metadata(3).labels
        ('background', 'square', 'disc')
    """
    labels = [_SHAPES[i] if i < len(_SHAPES) else f"shape_{i}" for i in range(num_classes)]
    return DatasetMetadata("synthetic", num_classes, labels, ignore_index)


def _generate(seed: int, size: tuple[int, int], num_classes: int, ignore_index: int, ignore_border: int
              ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Sample ``seed``: uint8 image (3, H, W) and int64 mask (H, W)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    h, w = size
    yy = torch.arange(h, dtype=torch.float32).view(h, 1).expand(h, w)
    xx = torch.arange(w, dtype=torch.float32).view(1, w).expand(h, w)
    # textured background: two random sinusoids plus noise on a random base color
    f1, f2, p1, p2 = (torch.rand(4, generator=g) * torch.tensor([0.3, 0.3, 6.28, 6.28])).tolist()
    texture = 0.5 + 0.25 * torch.sin(xx * f1 + p1) * torch.cos(yy * f2 + p2)
    base = torch.rand(3, 1, 1, generator=g) * 0.5 + 0.25
    image = base * texture + 0.05 * torch.randn(3, h, w, generator=g)
    mask = torch.zeros(h, w, dtype=torch.int64)
    n_shapes = int(torch.randint(2, 2 + max(2, num_classes), (1,), generator=g))
    for _ in range(n_shapes):
        cls = int(torch.randint(1, num_classes, (1,), generator=g)) if num_classes > 1 else 0
        cy, cx = float(torch.rand(1, generator=g)) * h, float(torch.rand(1, generator=g)) * w
        r = (0.08 + 0.17 * float(torch.rand(1, generator=g))) * min(h, w) + 1.0
        kind = cls % 3
        if kind == 0:  # square
            region = ((yy - cy).abs() <= r) & ((xx - cx).abs() <= r)
        elif kind == 1:  # disc
            region = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        else:  # triangle (apex up)
            region = (yy >= cy - r) & (yy <= cy + r) & ((xx - cx).abs() <= (yy - (cy - r)) / 2)
        # each class has its own hue and stripe frequency, so the classes are learnable
        hue = torch.tensor([(cls * 0.37) % 1.0, (cls * 0.61) % 1.0, (cls * 0.83) % 1.0]).view(3, 1, 1)
        stripes = 0.85 + 0.15 * torch.sin((xx + yy) * (0.2 + 0.15 * cls))
        image = torch.where(region, hue * stripes, image)
        mask[region] = cls
    if ignore_border > 0:
        mask[:ignore_border, :] = ignore_index
        mask[-ignore_border:, :] = ignore_index
    image = (image.clamp(0, 1) * 255).round().to(torch.uint8)
    return image, mask


@dataclass(frozen=True)
class SyntheticSamples:
    """The generator of one split's samples (``generate`` of the dataset; picklable for DataLoader workers).

    Args:
        base_seed: Seed of sample 0 (sample ``i`` uses ``base_seed + i``).
        size: ``(H, W)``.
        num_classes: Classes including background.
        ignore_index: Value of ignored pixels.
        ignore_border: Rows at the top and bottom set to ``ignore_index``.
    """

    base_seed: int
    size: tuple[int, int]
    num_classes: int
    ignore_index: int
    ignore_border: int

    def __call__(self, index: int) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        """Return sample ``index`` decoded: uint8 image (H, W, 3) and int64 mask (H, W)."""
        image, mask = _generate(
            self.base_seed + index, self.size, self.num_classes, self.ignore_index, self.ignore_border
        )
        return image.permute(1, 2, 0).numpy(), mask.numpy()


@dataset_factory
def synthetic(
    root: str | Path | None = None,
    split: str = "train",
    transforms: Transform | None = None,
    *,
    num_samples: int = 16,
    size: int | tuple[int, int] = (64, 64),
    num_classes: int = 4,
    data_seed: int = 0,
    ignore_index: int = 255,
    ignore_border: int = 0,
    seed: int | None = None,
) -> SegmentationDataset:
    """The built-in synthetic dataset (no files; ``root`` is ignored).

    Args:
        root: Ignored (accepted so every dataset has the same call; optional, unlike file datasets).
        split: Any name; different splits give different samples.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        num_samples: Number of samples.
        size: ``(H, W)`` or one int for squares.
        num_classes: Classes including background (class 0); at least 1.
        data_seed: Seed of the generated content.
        ignore_index: Value for ignored pixels.
        ignore_border: Rows at the top and bottom marked ``ignore_index`` (to exercise ignore handling).
        seed: Per-sample seed for the transforms.

    Returns:
        A dataset whose ``metadata`` is ``resolve_metadata("synthetic", num_classes=num_classes)``.

    Raises:
        ConfigError: Non-positive sizes or counts, or an unknown option (named, with close matches).

    Example:
        >>> ds = synthetic(num_samples=2, size=32, num_classes=3)
        >>> image, mask = ds[0]
        >>> tuple(image.shape), tuple(mask.shape), image.dtype, mask.dtype
        ((3, 32, 32), (32, 32), torch.float32, torch.int64)
    """
    hw = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if min(hw) < 4 or num_samples < 0 or num_classes < 1:
        raise ConfigError(
            f"synthetic: need size >= 4, num_samples >= 0, num_classes >= 1; got size={size!r}, "
            f"num_samples={num_samples}, num_classes={num_classes}"
        )
    from seg_data.base import SegmentationDataset

    meta = synthetic_metadata(num_classes, ignore_index)
    samples = [(f"{split}_{i:05d}", Path(f"<synthetic {split} #{i}>"), None) for i in range(num_samples)]
    base_seed = data_seed * 1_000_003 + zlib.crc32(split.encode())
    make = SyntheticSamples(base_seed, hw, num_classes, ignore_index, ignore_border)
    return SegmentationDataset(
        samples, meta, transforms, split=split, generate=make, mapping_id=f"synthetic-{num_classes}", seed=seed
    )
