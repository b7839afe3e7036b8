"""A synthetic dataset generated in memory: textured backgrounds with shapes of several classes.

Deterministic from ``seed``: sample ``i`` of split ``s`` is always the same image and mask. It is the
built-in dataset for the demo, the examples and the tests (no download, any size and class count).
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import torch

from seg_data.base import SegmentationDataset
from seg_data.errors import ConfigError
from seg_data.metadata import resolve_metadata


def _generate(seed: int, size: tuple[int, int], num_classes: int, ignore_index: int, ignore_border: int
              ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
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


class SyntheticDataset(SegmentationDataset):
    """Generated images and masks (see :func:`synthetic`)."""

    def __init__(self, *, num_samples: int, size: tuple[int, int], num_classes: int, data_seed: int,
                 ignore_index: int, ignore_border: int, split: str, transforms: Any, seed: int | None) -> None:  # fmt: skip
        meta = resolve_metadata("synthetic", num_classes=num_classes, ignore_index=ignore_index)
        samples = [(f"{split}_{i:05d}", Path(f"<synthetic {split} #{i}>"), None) for i in range(num_samples)]
        super().__init__(samples, meta, transforms, split=split, mapping_id=f"synthetic-{num_classes}", seed=seed)
        self.size = size
        self.ignore_border = ignore_border
        self._base_seed = data_seed * 1_000_003 + zlib.crc32(split.encode())

    def generate(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return sample ``index`` as (uint8 image (3, H, W), int64 mask (H, W))."""
        return _generate(self._base_seed + index, self.size, self.num_classes, self.ignore_index, self.ignore_border)

    def load_image(self, index: int) -> torch.Tensor:
        """Generated uint8 image."""
        return self.generate(index)[0]

    def load_mask(self, index: int) -> torch.Tensor:
        """Generated mask (no image work is saved: generation is cheap)."""
        return self.generate(index)[1]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} samples")
        index %= len(self)
        from torchvision import tv_tensors

        image, mask = self.generate(index)
        return self.apply_transforms(tv_tensors.Image(image), tv_tensors.Mask(mask), index)


def synthetic(
    root: str | Path | None = None,
    split: str = "train",
    transforms: Any = None,
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
        root: Ignored (accepted so every dataset has the same call).
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
        ConfigError: Non-positive sizes or counts.

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
    return SyntheticDataset(
        num_samples=num_samples, size=hw, num_classes=num_classes, data_seed=data_seed, ignore_index=ignore_index,
        ignore_border=ignore_border, split=split, transforms=transforms, seed=seed,
    )  # fmt: skip
