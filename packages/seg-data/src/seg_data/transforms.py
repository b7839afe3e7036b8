"""Deterministic transforms vs random augmentations, both on image and mask together.

* :class:`SegmentationTransform` is deterministic (torchvision v2 kernels): uint8 -> float, optional resize or
  pad-crop to a size (mask padded with ``ignore_index``), optional normalization with the encoder's mean/std.
* :class:`SegmentationAugment` is random: flips, scale jitter, random crop, rotation, perspective, color
  jitter, blur. Masks always use nearest sampling and are filled with ``ignore_index``. One vectorized
  implementation (:mod:`seg_data._augment_ops`) serves single samples in DataLoader workers and whole
  batches on the GPU with per-sample draws (:meth:`SegmentationAugment.batch`, :func:`augment_batch`).

Compose them as ``Compose([augment, transform])`` for training and use ``transform`` alone for validation
and visualization (unnormalized originals: ``SegmentationTransform()``).

``ignore_index`` defaults to None: the ignore index of the dataset that runs the transform. Datasets call
their ``transforms`` inside :func:`metadata_scope` with their metadata, so the fill always matches the
dataset (255, ``-100``, a folder's own value...). An explicit value that differs from the dataset's is an error.
Outside any dataset (a standalone call, or ``batch`` after the DataLoader) None means
:data:`DEFAULT_IGNORE_INDEX` (255): pass ``ignore_index=dataset.ignore_index`` there, or run the call inside
``metadata_scope(dataset.metadata)``.

Both check their input before touching it (:func:`check_pair`): the image must be channel-first ``(C, H, W)``
(uint8, or float in [0, 1]), the mask ``(H, W)`` or ``(1, H, W)`` of integer class values, with the image's spatial
size. Anything else is an :class:`~seg_core.errors.InputShapeError` naming both shapes: a channel-last image or a
mask of another size would otherwise come back misaligned.

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

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F

from seg_core.errors import ConfigError, InputShapeError
from seg_data import _augment_ops as _ops
from seg_data.convert import to_float_image

if TYPE_CHECKING:
    from seg_data.metadata import DatasetMetadata

__all__ = [
    "DEFAULT_IGNORE_INDEX",
    "Compose",
    "SegmentationAugment",
    "SegmentationTransform",
    "augment_batch",
    "check_pair",
    "metadata_scope",
    "resolve_ignore_index",
    "to_tv",
]

Pair = tuple[Any, Any]

#: Mask fill of a transform created with ``ignore_index=None`` when it runs outside any dataset.
DEFAULT_IGNORE_INDEX = 255

_SCOPE: ContextVar[DatasetMetadata | None] = ContextVar("seg_data_transform_metadata", default=None)


@contextmanager
def metadata_scope(metadata: DatasetMetadata) -> Iterator[None]:
    """Run the block with ``metadata`` as the dataset of the transforms called in it.

    Transforms created with ``ignore_index=None`` fill masks with ``metadata.ignore_index`` inside the block;
    datasets run their ``transforms`` this way. Scopes nest (the innermost wins) and are per thread.

    Args:
        metadata: The dataset's metadata.

    Example:
        >>> from seg_data.metadata import DatasetMetadata
        >>> aug = SegmentationAugment(crop_size=4)
        >>> with metadata_scope(DatasetMetadata("ade_like", 2, ignore_index=-1)):
        ...     _, mask = aug(torch.zeros(3, 2, 2, dtype=torch.uint8), torch.zeros(2, 2, dtype=torch.int64))
        >>> int(mask.min())
        -1
    """
    token = _SCOPE.set(metadata)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def resolve_ignore_index(ignore_index: int | None, owner: str) -> int:
    """Return the mask fill a transform uses now.

    Args:
        ignore_index: The transform's own value; None takes the dataset's (see :func:`metadata_scope`), or
            :data:`DEFAULT_IGNORE_INDEX` outside any dataset.
        owner: The transform's name, for the error message.

    Returns:
        The ignore index.

    Raises:
        ConfigError: ``ignore_index`` is set and differs from the running dataset's metadata.

    Example:
        >>> resolve_ignore_index(None, "SegmentationAugment")
        255
    """
    meta = _SCOPE.get()
    if ignore_index is None:
        return meta.ignore_index if meta is not None else DEFAULT_IGNORE_INDEX
    if meta is not None and ignore_index != meta.ignore_index:
        raise ConfigError(
            f"{owner}: ignore_index={ignore_index} but dataset {meta.name!r} has metadata ignore_index="
            f"{meta.ignore_index}; leave ignore_index unset (None takes the dataset's) or set it to {meta.ignore_index}"
        )
    return ignore_index


def to_tv(image: Any, mask: Any) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """Wrap plain tensors as ``tv_tensors.Image`` / ``tv_tensors.Mask`` (no copy) so v2 treats them right."""
    img = image if isinstance(image, tv_tensors.Image) else tv_tensors.Image(image)
    msk = mask if isinstance(mask, tv_tensors.Mask) else tv_tensors.Mask(mask)
    return img, msk


def _as_tensor(value: Any, what: str, owner: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(np.ascontiguousarray(value) if isinstance(value, np.ndarray) else value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputShapeError(
            f"{owner}: the {what} must be a tensor or numpy array, got {type(value).__name__} ({exc})"
        ) from exc


def _mask_dtype_for(mask: torch.Tensor, fill: int | None) -> torch.Tensor:
    """``mask``, as int64 when its dtype is bool or cannot hold the fill value ``fill``."""
    if mask.dtype == torch.bool:
        return mask.to(torch.int64)
    if fill is not None and mask.dtype != torch.int64:
        info = torch.iinfo(mask.dtype)
        if not info.min <= fill <= info.max:
            return mask.to(torch.int64)
    return mask


def _check_dtypes(image: torch.Tensor, mask: torch.Tensor, owner: str, shapes: str) -> None:
    if not (image.dtype == torch.uint8 or image.is_floating_point()):
        raise InputShapeError(
            f"{owner}: image dtype {image.dtype} is not supported ({shapes}); use uint8 (0..255) or float in [0, 1]: "
            "image.to(torch.uint8) for 0..255 values, image.float() / max_value for other ranges"
        )
    if mask.is_floating_point() or mask.is_complex():
        raise InputShapeError(
            f"{owner}: mask dtype {mask.dtype} is not an integer type ({shapes}); masks hold class indices: "
            "mask.long() if its values are whole numbers"
        )


def check_pair(image: Any, mask: Any, owner: str = "transform", *, fill: int | None = None) -> Pair:
    """Check one ``(image, mask)`` sample before a paired transform and return them as tensors.

    The image must be channel-first ``(C, H, W)`` (uint8, or float), the mask ``(H, W)`` or ``(1, H, W)`` of an
    integer (or bool) dtype, with the same ``(H, W)``: a channel-last image or a mask of another size would come
    back misaligned. Tensor subclasses (``tv_tensors``) are kept; numpy arrays become tensors.

    Args:
        image: The image.
        mask: The mask.
        owner: The transform's name, for the message.
        fill: The value the transform may write into the mask (its ignore index): bool masks and masks whose
            dtype cannot hold it are returned as int64.

    Returns:
        ``(image, mask)`` as tensors.

    Raises:
        InputShapeError: Wrong rank, an empty side, different spatial sizes, a channel-last image or an unsupported
            dtype; names both shapes.

    Example:
        >>> check_pair(torch.zeros(4, 5, 3), torch.zeros(4, 5, dtype=torch.int64))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        seg_core.errors.InputShapeError: transform: image (4, 5, 3) and mask (4, 5) ... channel-last ...
    """
    img, msk = _as_tensor(image, "image", owner), _as_tensor(mask, "mask", owner)
    shapes = f"image {tuple(img.shape)} and mask {tuple(msk.shape)}"
    if img.ndim != 3 or min(img.shape) < 1:
        raise InputShapeError(f"{owner}: {shapes}: the image must be (C, H, W) with C, H, W >= 1")
    if not (msk.ndim == 2 or (msk.ndim == 3 and msk.shape[0] == 1)) or min(msk.shape) < 1:
        raise InputShapeError(f"{owner}: {shapes}: the mask must be (H, W) or (1, H, W)")
    if img.shape[-2:] != msk.shape[-2:]:
        hint = (
            "; the image looks channel-last (H, W, C): pass image.permute(2, 0, 1)"
            if img.shape[:2] == msk.shape[-2:]
            else ": resize or crop them together"
        )
        raise InputShapeError(f"{owner}: {shapes} have different spatial sizes (H, W){hint}")
    _check_dtypes(img, msk, owner, shapes)
    return img, _mask_dtype_for(msk, fill)


def _check_batch(images: torch.Tensor, masks: torch.Tensor, owner: str, fill: int | None) -> torch.Tensor:
    """Check a collated batch like :func:`check_pair`; returns ``masks`` (int64 when needed for ``fill``)."""
    shapes = f"images {tuple(images.shape)} and masks {tuple(masks.shape)}"
    if (
        images.ndim != 4
        or masks.ndim != 3
        or images.shape[0] != masks.shape[0]
        or images.shape[-2:] != masks.shape[-2:]
        or min(images.shape[1:]) < 1
    ):
        hint = (
            "; the images look channel-last (B, H, W, C): pass images.permute(0, 3, 1, 2)"
            if images.ndim == 4 and images.shape[1:3] == masks.shape[-2:]
            else ""
        )
        raise InputShapeError(
            f"{owner}: need images (B, C, H, W) and masks (B, H, W) of the same B, H, W; got {shapes}{hint}"
        )
    _check_dtypes(images, masks, owner, shapes)
    return _mask_dtype_for(masks, fill)


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
        ignore_index: Mask fill value of ``pad_crop``; None (default) takes the running dataset's metadata
            ``ignore_index`` (see :func:`resolve_ignore_index`).
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
        ignore_index: int | None = None,
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
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.dtype = dtype

    def __call__(self, image: Any, mask: Any) -> Pair:
        """Transform one sample (see :func:`check_pair` for what it accepts).

        Raises:
            InputShapeError: A channel-last image, image and mask of different sizes, a wrong rank or dtype, or
                ``mean``/``std`` that do not match the channels (names the shapes).
        """
        fill = resolve_ignore_index(self.ignore_index, "SegmentationTransform")
        image, mask = check_pair(image, mask, "SegmentationTransform", fill=fill)
        channels = image.shape[0]
        for what, values in (("mean", self.mean), ("std", self.std)):
            if values is not None and len(values) not in (1, channels):
                raise InputShapeError(
                    f"SegmentationTransform: {what} has {len(values)} values but the image {tuple(image.shape)} has "
                    f"{channels} channels"
                )
        image, mask = to_tv(image, mask)
        image = to_float_image(image, self.dtype)
        if self.size is not None:
            if self.mode == "resize":
                image = F.resize(image, list(self.size), antialias=True)
                mask = F.resize(mask, list(self.size))
            else:
                h, w = image.shape[-2:]
                ph, pw = max(0, self.size[0] - h), max(0, self.size[1] - w)
                if ph or pw:
                    image = F.pad(image, [0, 0, pw, ph], fill=0)
                    mask = F.pad(mask, [0, 0, pw, ph], fill=fill)
                image, mask = F.center_crop(image, list(self.size)), F.center_crop(mask, list(self.size))
        if self.mean is not None and self.std is not None:
            image = F.normalize(image, self.mean, self.std)
        return image, mask

    def __repr__(self) -> str:
        return (
            f"SegmentationTransform(size={self.size}, mode={self.mode!r}, mean={self.mean}, std={self.std}, "
            f"ignore_index={self.ignore_index})"
        )


_MODES = {
    InterpolationMode.NEAREST: "nearest",
    InterpolationMode.BILINEAR: "bilinear",
    InterpolationMode.BICUBIC: "bicubic",
}


class SegmentationAugment:
    """The random part; every option defaults to off. Vectorized: the same code augments one sample in a
    DataLoader worker (``aug(image, mask)``) and a collated batch on its device (``aug.batch(images, masks)``).

    Order: scale, crop (pad where the scaled image is smaller), flips, rotation, perspective, color jitter, blur.
    All geometric steps are composed into one map per sample and the image is resampled once, at the output
    size: crop-then-rotate reads real pixels from around the crop where there are some, and only pixels from
    outside the image are filled (image 0, mask ``ignore_index``). Maps without rotation, perspective or
    scaling (crop, pad, flips) are exact integer gathers that keep uint8 images uint8.

    Args:
        hflip: Probability of a horizontal flip.
        vflip: Probability of a vertical flip.
        scale_range: ``(low, high)`` factors for scale jitter (``(1, 1)`` = off).
        crop_size: Random crop ``(H, W)`` (or int); images smaller than it are padded (mask with ignore). Without
            it a single sample keeps its scaled size and a batch keeps its input size.
        rotation: Maximum absolute rotation angle in degrees (0 = off), about the crop center.
        perspective: Distortion scale of a random perspective (0 = off), applied with probability
            ``perspective_p``.
        color_jitter: ``(brightness, contrast, saturation, hue)`` or None: factors drawn uniformly in
            ``[1 - x, 1 + x]`` (hue: shift in ``[-h, h]`` turns, ``h <= 0.5``), applied in that order as one
            affine color map, clamped once; hue rotates the YIQ chroma plane (a cheap HSV-like hue shift).
        blur: Probability of a Gaussian blur (kernel ``blur_kernel``, sigma uniform in ``blur_sigma``).
        blur_kernel: Odd kernel size.
        blur_sigma: ``(min, max)`` sigma.
        ignore_index: Mask fill value for padded, rotated-in or warped-in pixels; None (default) takes the running
            dataset's metadata ``ignore_index`` (see :func:`resolve_ignore_index`).
        interpolation: Image interpolation for scale, rotation and perspective: NEAREST, BILINEAR or BICUBIC
            (masks always use nearest). Downscaling does not antialias.
        perspective_p: Probability of the perspective step.

    Raises:
        ConfigError: Out-of-range probabilities, sizes, jitter or an unsupported interpolation.

    Example:
        >>> import torch
        >>> aug = SegmentationAugment(hflip=0.5, rotation=10, color_jitter=(0.2, 0.2, 0.2, 0.0), crop_size=16)
        >>> x, y = aug(torch.zeros(3, 20, 24, dtype=torch.uint8), torch.zeros(20, 24, dtype=torch.int64))
        >>> tuple(x.shape), x.dtype
        ((3, 16, 16), torch.uint8)
        >>> xb, yb = aug.batch(torch.rand(4, 3, 20, 24), torch.zeros(4, 20, 24, dtype=torch.int64))
        >>> tuple(xb.shape), tuple(yb.shape)
        ((4, 3, 16, 16), (4, 16, 16))
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
        ignore_index: int | None = None,
        interpolation: InterpolationMode = InterpolationMode.BILINEAR,
        perspective_p: float = 0.5,
    ) -> None:
        for name, p in (("hflip", hflip), ("vflip", vflip), ("blur", blur), ("perspective_p", perspective_p)):
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"SegmentationAugment: {name}={p} must be a probability in [0, 1]")
        if not 0.0 <= perspective < 1.0:
            raise ConfigError(f"SegmentationAugment: perspective={perspective} must be in [0, 1)")
        lo, hi = float(scale_range[0]), float(scale_range[1])
        if not 0 < lo <= hi:
            raise ConfigError(f"SegmentationAugment: scale_range must satisfy 0 < low <= high, got {scale_range!r}")
        if blur_kernel < 1 or blur_kernel % 2 == 0:
            raise ConfigError(f"SegmentationAugment: blur_kernel={blur_kernel} must be a positive odd int")
        if not 0.0 < blur_sigma[0] <= blur_sigma[1]:
            raise ConfigError(f"SegmentationAugment: blur_sigma={blur_sigma!r} must satisfy 0 < min <= max")
        jitter: tuple[float, float, float, float] | None = None
        if color_jitter is not None:
            b, c, s, h = (float(v) for v in (list(color_jitter) + [0.0] * 4)[:4])
            if min(b, c, s, h) < 0 or h > 0.5:
                raise ConfigError(
                    f"SegmentationAugment: color_jitter={tuple(color_jitter)!r} needs non-negative values and hue <= 0.5"
                )
            jitter = (b, c, s, h)
        if interpolation not in _MODES:
            raise ConfigError(
                f"SegmentationAugment: interpolation={interpolation!r} is unsupported; use NEAREST, BILINEAR or BICUBIC"
            )
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.config = _ops.AugmentConfig(
            hflip=float(hflip),
            vflip=float(vflip),
            scale_range=(lo, hi),
            crop_size=_size2(crop_size, "crop_size") if crop_size is not None else None,
            rotation=abs(float(rotation)),
            perspective=float(perspective),
            perspective_p=float(perspective_p),
            color_jitter=jitter,
            blur=float(blur),
            blur_kernel=int(blur_kernel),
            blur_sigma=(float(blur_sigma[0]), float(blur_sigma[1])),
            mode=_MODES[interpolation],
        )

    def __call__(self, image: Any, mask: Any) -> Pair:
        """Augment one sample: image (C, H, W) uint8 or float, mask (H, W); draws from torch's global RNG.

        Args:
            image: ``(C, H, W)`` image (tensor or ``tv_tensors.Image``).
            mask: ``(H, W)`` or ``(1, H, W)`` mask.

        Returns:
            ``(tv_tensors.Image, tv_tensors.Mask)`` with the input dtypes (a bool mask, or one whose dtype cannot
            hold ``ignore_index``, comes back int64).

        Raises:
            InputShapeError: A channel-last image, image and mask of different sizes, a wrong rank or an unsupported
                dtype (names both shapes).
        """
        fill = resolve_ignore_index(self.ignore_index, "SegmentationAugment")
        img, msk = check_pair(image, mask, "SegmentationAugment", fill=fill)
        img, msk = img.as_subclass(torch.Tensor), msk.as_subclass(torch.Tensor)
        out_i, out_m = self._run(img[None], msk.reshape(1, *msk.shape[-2:]), None, per_sample=True, fixed_out=False)
        return tv_tensors.Image(out_i[0]), tv_tensors.Mask(out_m[0][None] if msk.ndim == 3 else out_m[0])

    def batch(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        per_sample: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment a collated batch on its device with independent draws per sample, vectorized.

        Args:
            images: (B, C, H, W) uint8, or float in [0, 1] (before normalization), on any device.
            masks: (B, H, W) integer masks on the same device.
            generator: CPU generator for the draws (None: torch's global RNG). The same seed gives the same
                draws on every device (results agree up to floating-point rounding).
            per_sample: False shares one draw across the batch.

        Returns:
            Plain ``(images, masks)`` on the input device with the input dtypes; spatial size ``crop_size``, or
            the input size without it.

        Raises:
            InputShapeError: Wrong ranks, mismatched sizes, channel-last images or unsupported dtypes.
        """
        images = _as_tensor(images, "images", "SegmentationAugment.batch").as_subclass(torch.Tensor)
        masks = _as_tensor(masks, "masks", "SegmentationAugment.batch").as_subclass(torch.Tensor)
        fill = resolve_ignore_index(self.ignore_index, "SegmentationAugment")
        masks = _check_batch(images, masks, "SegmentationAugment.batch", fill)
        return self._run(images, masks, generator, per_sample=per_sample, fixed_out=True)

    def _run(
        self,
        images: torch.Tensor,
        masks: torch.Tensor,
        generator: torch.Generator | None,
        *,
        per_sample: bool,
        fixed_out: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.config
        n = images.shape[0]
        draws = n if per_sample else 1
        geo = _ops.draw_geometry(cfg, draws, (images.shape[-2], images.shape[-1]), generator, fixed_out=fixed_out)
        color = _ops.draw_color(cfg.color_jitter, draws, generator) if cfg.color_jitter is not None else None
        blur_on = torch.rand(draws, generator=generator, dtype=torch.float64) < cfg.blur
        sigma = cfg.blur_sigma[0] + (cfg.blur_sigma[1] - cfg.blur_sigma[0]) * torch.rand(
            draws, generator=generator, dtype=torch.float64
        )
        if not per_sample and n > 1:
            geo = _ops.Geometry(geo.inverse.expand(n, 3, 3), geo.out_hw)
            color = color.expand(n, 4) if color is not None else None
            blur_on, sigma = blur_on.expand(n), sigma.expand(n)
        out_m = _ops.warp_mask(masks, geo, resolve_ignore_index(self.ignore_index, "SegmentationAugment"))
        out_i = _ops.warp_image(images, geo, cfg.mode)
        max_value = 1.0 if images.is_floating_point() else 255.0
        if color is not None or bool(blur_on.any()):
            out_i = out_i if out_i.is_floating_point() else out_i.float()
            if color is not None:
                out_i = _ops.color_jitter(out_i, color, max_value)
            if bool(blur_on.any()):
                out_i = _ops.gaussian_blur(out_i, torch.where(blur_on, sigma, 0.0), cfg.blur_kernel)
        if out_i.dtype != images.dtype:
            out_i = (
                out_i.round_().clamp_(0, 255).to(images.dtype)
                if not images.is_floating_point()
                else out_i.to(images.dtype)
            )
        return out_i, out_m

    def __repr__(self) -> str:
        return f"SegmentationAugment({self.config!r}, ignore_index={self.ignore_index})"


def augment_batch(
    augment: Callable[[Any, Any], Pair],
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    per_sample: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a collated batch on its device (e.g. CUDA) after the DataLoader.

    A :class:`SegmentationAugment` runs vectorized (:meth:`SegmentationAugment.batch`); any other
    ``(image, mask)`` callable is applied sample by sample (its outputs must have equal sizes).

    Args:
        augment: The augmentation.
        images: (B, C, H, W) uint8 or float in [0, 1].
        masks: (B, H, W) integer masks.
        per_sample: Independent draws per sample (False: one draw for the whole batch).
        generator: CPU generator for reproducible draws (SegmentationAugment only).

    Returns:
        The augmented ``(images, masks)`` as plain tensors on the same device.

    Example:
        >>> import torch
        >>> aug = SegmentationAugment(hflip=0.5, scale_range=(0.5, 2.0), crop_size=8, rotation=10)
        >>> g = torch.Generator().manual_seed(0)
        >>> x, y = augment_batch(aug, torch.rand(2, 3, 12, 12), torch.zeros(2, 12, 12, dtype=torch.long), generator=g)
        >>> tuple(x.shape), tuple(y.shape)
        ((2, 3, 8, 8), (2, 8, 8))
    """
    if isinstance(augment, SegmentationAugment):
        return augment.batch(images, masks, generator=generator, per_sample=per_sample)
    images = _as_tensor(images, "images", "augment_batch").as_subclass(torch.Tensor)
    masks = _check_batch(
        images, _as_tensor(masks, "masks", "augment_batch").as_subclass(torch.Tensor), "augment_batch", None
    )
    if not per_sample:
        out_i, out_m = augment(tv_tensors.Image(images), tv_tensors.Mask(masks))
        return out_i.as_subclass(torch.Tensor), out_m.as_subclass(torch.Tensor)
    pairs = [augment(tv_tensors.Image(i), tv_tensors.Mask(m)) for i, m in zip(images, masks, strict=True)]
    outs_i = [torch.as_tensor(p[0]).as_subclass(torch.Tensor) for p in pairs]
    outs_m = [torch.as_tensor(p[1]).as_subclass(torch.Tensor) for p in pairs]
    sizes = sorted({(tuple(i.shape), tuple(m.shape)) for i, m in zip(outs_i, outs_m, strict=True)})
    if len(sizes) > 1:
        raise InputShapeError(
            f"augment_batch: {augment!r} returned samples of different sizes {sizes}; a batch needs one size "
            "(give the augmentation a fixed crop_size)"
        )
    return torch.stack(outs_i), torch.stack(outs_m)
