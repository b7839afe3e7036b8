"""The tensor stage of a sample: decoded arrays become tensors once; the one place uint8 becomes float.

A dataset sample takes one path:

1. decode: numpy image uint8 ``(H, W, C)`` and mapped mask int64 ``(H, W)``;
2. :func:`to_tensors`, the only conversion: ``tv_tensors.Image`` uint8 ``(C, H, W)`` and ``tv_tensors.Mask``
   int64 ``(H, W)`` (one copy for the image's channel-first layout, none for the mask);
3. augmentation, then transform (the dataset's ``transforms``, which keep the tv_tensor types);
4. :func:`finalize`: plain tensors, the image as float.

:func:`to_float_image` is the only function in seg-data that scales an integer image to float in [0, 1]:
:class:`~seg_data.transforms.SegmentationTransform` and :func:`finalize` both call it.

Example:
    >>> import numpy as np
    >>> image, mask = to_tensors(np.zeros((4, 5, 3), np.uint8), np.ones((4, 5), np.int64))
    >>> type(image).__name__, tuple(image.shape), type(mask).__name__, mask.dtype
    ('Image', (3, 4, 5), 'Mask', torch.int64)
    >>> x, y = finalize(image, mask)
    >>> x.dtype, type(y).__name__
    (torch.float32, 'Tensor')
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import numpy as np
import torch
from numpy.typing import NDArray
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as F

__all__ = ["finalize", "image_tensor", "mask_tensor", "to_float_image", "to_tensors"]

T = TypeVar("T", bound=torch.Tensor)


def _writable(arr: NDArray[Any]) -> NDArray[Any]:
    return arr if arr.flags.writeable else arr.copy()


def image_tensor(image: NDArray[np.integer] | NDArray[np.floating]) -> torch.Tensor:
    """Return a decoded ``(H, W, C)`` (or ``(H, W)``) image as a contiguous ``(C, H, W)`` tensor, same dtype.

    Args:
        image: The decoded image.

    Returns:
        The tensor (it shares memory with ``image`` when that is a channel-first buffer seen channel-last).
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(_writable(np.ascontiguousarray(arr.transpose(2, 0, 1))))


def mask_tensor(mask: NDArray[np.integer]) -> torch.Tensor:
    """Return a decoded ``(H, W)`` mask as an int64 tensor (no copy when it already is contiguous int64).

    Args:
        mask: The mapped mask.

    Returns:
        The tensor.
    """
    return torch.from_numpy(_writable(np.ascontiguousarray(mask, dtype=np.int64)))


def to_tensors(
    image: NDArray[np.integer] | NDArray[np.floating], mask: NDArray[np.integer]
) -> tuple[tv_tensors.Image, tv_tensors.Mask]:
    """Convert a decoded sample to the types the transforms receive (the sample's only conversion).

    Args:
        image: uint8 ``(H, W, C)``.
        mask: Class indices ``(H, W)``.

    Returns:
        ``tv_tensors.Image`` uint8 ``(C, H, W)`` and ``tv_tensors.Mask`` int64 ``(H, W)``.
    """
    return tv_tensors.Image(image_tensor(image)), tv_tensors.Mask(mask_tensor(mask))


def to_float_image(image: T, dtype: torch.dtype = torch.float32) -> T:
    """Return ``image`` as ``dtype``: integer images are scaled to [0, 1] (uint8 / 255), float ones only cast.

    The only uint8 -> float scaling in seg-data. The tensor type (plain or ``tv_tensors.Image``) is kept.

    Args:
        image: ``(..., C, H, W)`` image.
        dtype: Floating output dtype.

    Returns:
        The float image.

    Example:
        >>> to_float_image(torch.tensor([[[0, 255]]], dtype=torch.uint8)).tolist()
        [[[0.0, 1.0]]]
    """
    if image.is_floating_point():
        return cast(T, image.to(dtype))
    return cast(T, F.to_dtype(image, dtype, scale=True))


def finalize(image: Any, mask: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Return what a dataset yields: plain float image ``(C, H, W)`` and int64 mask ``(H, W)``.

    Integer images (no transform scaled them) go through :func:`to_float_image`; a ``(1, H, W)`` mask is squeezed.

    Args:
        image: The transformed image (tensor, tv_tensor or array).
        mask: The transformed mask.

    Returns:
        ``(image, mask)`` as plain tensors.
    """
    img = to_float_image(torch.as_tensor(image).as_subclass(torch.Tensor))
    msk = torch.as_tensor(mask).as_subclass(torch.Tensor)
    if msk.ndim == 3 and msk.shape[0] == 1:
        msk = msk[0]
    return img, msk.to(torch.int64)
