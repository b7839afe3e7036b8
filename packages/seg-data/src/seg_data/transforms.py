"""Deterministic transforms vs random augmentations, both on image and mask together (torchvision v2).

* :class:`SegmentationTransform` is deterministic: uint8 -> float, optional resize or pad-crop to a size
  (mask padded with ``ignore_index``), optional normalization with the encoder's mean/std.
* :class:`SegmentationAugment` is random: flips, scale jitter, random crop, rotation, perspective, color
  jitter, blur. Masks always use nearest interpolation and are filled with ``ignore_index``.

Compose them as ``Compose([augment, transform])`` for training and use ``transform`` alone for validation
and visualization (unnormalized originals: ``SegmentationTransform()``).

Example:
    >>> import torch
    >>> aug = SegmentationAugment(hflip=0.5, scale_range=(0.5, 2.0), crop_size=32)
    >>> tf = SegmentationTransform(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    >>> image = torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8)
    >>> mask = torch.randint(0, 3, (40, 50))
    >>> x, y = Compose([aug, tf])(image, mask)
    >>> tuple(x.shape), tuple(y.shape), x.dtype
    ((3, 32, 32), (32, 32), torch.float32)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as F

from seg_core.errors import ConfigError

__all__ = [
    "Compose",
    "RandomScale",
    "SegmentationAugment",
    "SegmentationTransform",
    "augment_batch",
    "make_generator",
    "seed_worker",
    "to_tv",
]

Pair = tuple[Any, Any]


def to_tv(image: Any, mask: Any) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """Wrap plain tensors as ``tv_tensors.Image`` / ``tv_tensors.Mask`` (no copy) so v2 treats them right."""
    img = image if isinstance(image, tv_tensors.Image) else tv_tensors.Image(image)
    msk = mask if isinstance(mask, tv_tensors.Mask) else tv_tensors.Mask(mask)
    return img, msk


def _size2(size: int | Sequence[int], what: str) -> tuple[int, int]:
    hw = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(hw) != 2 or min(hw) < 1:
        raise ConfigError(f"{what} must be an int or (H, W) of positive ints, got {size!r}")
    return hw[0], hw[1]


class Compose:
    """Apply ``(image, mask)`` callables in order.

    Args:
        steps: Callables taking and returning ``(image, mask)``; None entries are skipped.
    """

    def __init__(self, steps: Sequence[Callable[[Any, Any], Pair] | None]) -> None:
        self.steps = [s for s in steps if s is not None]

    def __call__(self, image: Any, mask: Any) -> Pair:
        for step in self.steps:
            image, mask = step(image, mask)
        return image, mask

    def __repr__(self) -> str:
        return f"Compose({self.steps!r})"


class SegmentationTransform:
    """The deterministic part: dtype, optional resize or pad-crop, optional normalization.

    Args:
        size: Output ``(H, W)`` (or int); None keeps the size.
        mode: ``"resize"`` (bilinear image, nearest mask) or ``"pad_crop"`` (pad to at least ``size`` with 0 /
            ``ignore_index`` at the bottom-right, then center-crop; no interpolation).
        mean: Per-channel mean for normalization of the [0, 1] image (None: no normalization).
        std: Per-channel std (required with ``mean``).
        ignore_index: Mask fill value.
        dtype: Image dtype.

    Raises:
        ConfigError: Bad size, mode, or mean without std.
    """

    def __init__(
        self,
        size: int | Sequence[int] | None = None,
        *,
        mode: str = "resize",
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        ignore_index: int = 255,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if mode not in ("resize", "pad_crop"):
            raise ConfigError(f"SegmentationTransform: mode={mode!r} is unknown; use 'resize' or 'pad_crop'")
        if (mean is None) != (std is None):
            raise ConfigError("SegmentationTransform: give both mean and std (the encoder's preprocessing), or none")
        self.size = _size2(size, "size") if size is not None else None
        self.mode = mode
        self.mean = list(mean) if mean is not None else None
        self.std = list(std) if std is not None else None
        self.ignore_index = ignore_index
        self.dtype = dtype

    def __call__(self, image: Any, mask: Any) -> Pair:
        image, mask = to_tv(image, mask)
        if image.dtype == torch.uint8 or not image.is_floating_point():
            image = F.to_dtype(image, self.dtype, scale=True)
        else:
            image = image.to(self.dtype)
        if self.size is not None:
            if self.mode == "resize":
                image = F.resize(image, list(self.size), antialias=True)
                mask = F.resize(mask, list(self.size))
            else:
                h, w = image.shape[-2:]
                ph, pw = max(0, self.size[0] - h), max(0, self.size[1] - w)
                if ph or pw:
                    image = F.pad(image, [0, 0, pw, ph], fill=0)
                    mask = F.pad(mask, [0, 0, pw, ph], fill=self.ignore_index)
                image, mask = F.center_crop(image, list(self.size)), F.center_crop(mask, list(self.size))
        if self.mean is not None and self.std is not None:
            image = F.normalize(image, self.mean, self.std)
        return image, mask

    def __repr__(self) -> str:
        return f"SegmentationTransform(size={self.size}, mode={self.mode!r}, mean={self.mean}, std={self.std})"


class RandomScale(v2.Transform):
    """Resize image and mask by a factor drawn uniformly from ``scale_range`` (mask: nearest)."""

    def __init__(
        self, scale_range: tuple[float, float], interpolation: InterpolationMode = InterpolationMode.BILINEAR
    ) -> None:
        super().__init__()
        self.interpolation = interpolation
        lo, hi = float(scale_range[0]), float(scale_range[1])
        if not 0 < lo <= hi:
            raise ConfigError(f"scale_range must satisfy 0 < low <= high, got {scale_range!r}")
        self.scale_range = (lo, hi)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        h, w = v2.query_size(flat_inputs)
        s = self.scale_range[0] + float(torch.rand(())) * (self.scale_range[1] - self.scale_range[0])
        return {"size": [max(1, round(h * s)), max(1, round(w * s))]}

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, tv_tensors.Mask):
            return F.resize(inpt, params["size"])  # always nearest for masks
        if isinstance(inpt, tv_tensors.Image):
            return F.resize(inpt, params["size"], interpolation=self.interpolation, antialias=True)
        return inpt


class SegmentationAugment:
    """The random part; every option defaults to off. Order: scale, crop, flips, rotation, perspective,
    color jitter, blur.

    Args:
        hflip: Probability of a horizontal flip.
        vflip: Probability of a vertical flip.
        scale_range: ``(low, high)`` factors for scale jitter (``(1, 1)`` = off).
        crop_size: Random crop ``(H, W)`` (or int); images smaller than it are padded (mask with ignore).
        rotation: Maximum absolute rotation angle in degrees (0 = off).
        perspective: Distortion scale of a random perspective (0 = off), applied with probability 0.5.
        color_jitter: ``(brightness, contrast, saturation, hue)`` or None.
        blur: Probability of a Gaussian blur (kernel ``blur_kernel``, sigma in ``blur_sigma``).
        blur_kernel: Odd kernel size.
        blur_sigma: ``(min, max)`` sigma.
        ignore_index: Mask fill value for padded, rotated-in or warped-in pixels.
        interpolation: Image interpolation for scale, rotation and perspective (masks always use nearest).

    Raises:
        ConfigError: Out-of-range probabilities or sizes.

    Example:
        >>> aug = SegmentationAugment(hflip=0.5, rotation=10, color_jitter=(0.2, 0.2, 0.2, 0.0))
    """

    def __init__(
        self,
        *,
        hflip: float = 0.0,
        vflip: float = 0.0,
        scale_range: tuple[float, float] = (1.0, 1.0),
        crop_size: int | Sequence[int] | None = None,
        rotation: float = 0.0,
        perspective: float = 0.0,
        color_jitter: Sequence[float] | None = None,
        blur: float = 0.0,
        blur_kernel: int = 5,
        blur_sigma: tuple[float, float] = (0.1, 2.0),
        ignore_index: int = 255,
        interpolation: InterpolationMode = InterpolationMode.BILINEAR,
    ) -> None:
        for name, p in (("hflip", hflip), ("vflip", vflip), ("blur", blur)):
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"SegmentationAugment: {name}={p} must be a probability in [0, 1]")
        if not 0.0 <= perspective < 1.0:
            raise ConfigError(f"SegmentationAugment: perspective={perspective} must be in [0, 1)")
        fill = {tv_tensors.Image: 0, tv_tensors.Mask: ignore_index}
        steps: list[v2.Transform] = []
        if tuple(scale_range) != (1.0, 1.0):
            steps.append(RandomScale(scale_range, interpolation))
        if crop_size is not None:
            steps.append(v2.RandomCrop(_size2(crop_size, "crop_size"), pad_if_needed=True, fill=fill))
        if hflip:
            steps.append(v2.RandomHorizontalFlip(hflip))
        if vflip:
            steps.append(v2.RandomVerticalFlip(vflip))
        if rotation:
            steps.append(v2.RandomRotation(abs(rotation), interpolation=interpolation, fill=fill))
        if perspective:
            steps.append(v2.RandomPerspective(perspective, p=0.5, interpolation=interpolation, fill=fill))
        if color_jitter is not None:
            b, c, s, h = (list(color_jitter) + [0.0] * 4)[:4]
            steps.append(v2.ColorJitter(brightness=b, contrast=c, saturation=s, hue=h))
        if blur:
            steps.append(v2.RandomApply([v2.GaussianBlur(blur_kernel, blur_sigma)], p=blur))
        self.ignore_index = ignore_index
        self.pipeline = v2.Compose(steps)

    def __call__(self, image: Any, mask: Any) -> Pair:
        image, mask = to_tv(image, mask)
        out_image, out_mask = self.pipeline(image, mask)
        return out_image, out_mask

    def __repr__(self) -> str:
        return f"SegmentationAugment({self.pipeline!r})"


def augment_batch(
    augment: Callable[[Any, Any], Pair], images: torch.Tensor, masks: torch.Tensor, *, per_sample: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch on its device (e.g. CUDA) after collation.

    Args:
        augment: A :class:`SegmentationAugment` (without a crop that changes sizes when ``per_sample``).
        images: (B, C, H, W) tensor.
        masks: (B, H, W) tensor.
        per_sample: Draw parameters per sample (loop) instead of one draw for the whole batch.

    Returns:
        The augmented ``(images, masks)`` as plain tensors on the same device.
    """
    if not per_sample:
        out_i, out_m = augment(tv_tensors.Image(images), tv_tensors.Mask(masks))
        return out_i.as_subclass(torch.Tensor), out_m.as_subclass(torch.Tensor)
    pairs = [augment(tv_tensors.Image(i), tv_tensors.Mask(m)) for i, m in zip(images, masks, strict=True)]
    return (
        torch.stack([p[0].as_subclass(torch.Tensor) for p in pairs]),
        torch.stack([p[1].as_subclass(torch.Tensor) for p in pairs]),
    )


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for DataLoader: seed ``random`` and numpy from the worker's torch seed.

    torch itself is seeded per worker by the DataLoader from its ``generator``; pass
    ``generator=make_generator(seed)`` for a reproducible stream.
    """
    del worker_id
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


def make_generator(seed: int) -> torch.Generator:
    """Return a CPU ``torch.Generator`` seeded with ``seed`` (for the DataLoader's shuffling and worker seeds)."""
    return torch.Generator().manual_seed(int(seed))
