"""Functional 3D operations on an ``(image, label)`` pair: the kernels of :mod:`seg_3d.data.transforms`.

Images are ``(C, D, H, W)`` float tensors, labels ``(D, H, W)`` integer tensors. Every geometric operation moves
both through the same map: images are interpolated (trilinear, or separable cubic), labels are gathered with
nearest-neighbour indices, so a label value is never blended or invented; voxels that come from outside the
volume are 0 in the image and ``ignore_index`` in the label. Flips and 90-degree rotations are exact index
permutations. Everything runs on torch ops (``F.interpolate``, ``F.grid_sample``, indexing), on any device.

Example:
    >>> import torch
    >>> image, label = torch.rand(1, 8, 8, 8), torch.randint(0, 3, (8, 8, 8))
    >>> x, y = flip(image, label, (0, 2))
    >>> torch.equal(y, label.flip(0, 2))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from seg_core.errors import ConfigError, InputShapeError

__all__ = [
    "check_volume_pair",
    "ct_window",
    "extract_patch",
    "flip",
    "pad_to_multiple",
    "resample",
    "resampled_shape",
    "rot90",
    "zscore",
]

Pair = tuple[torch.Tensor, torch.Tensor]
Triple = tuple[float, float, float]


def _as_tensor(value: Any, what: str, owner: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.as_subclass(torch.Tensor)
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputShapeError(f"{owner}: the {what} must be a tensor or array, got {type(value).__name__}") from exc


def check_volume_pair(image: Any, label: Any, owner: str = "transform") -> Pair:
    """Check one ``(image, label)`` volume pair and return it as tensors.

    Args:
        image: ``(C, D, H, W)`` image (float, or integer intensities).
        label: ``(D, H, W)`` (or ``(1, D, H, W)``) integer label map of the same spatial shape.
        owner: Who checks, for the message.

    Returns:
        ``(image, label)``; a float image is kept, an integer one becomes float32; the label is int64 ``(D, H, W)``.

    Raises:
        InputShapeError: Wrong ranks, different spatial shapes, or a non-integer label; names both shapes.

    Example:
        >>> check_volume_pair(torch.zeros(1, 4, 4, 4), torch.zeros(4, 4, 5, dtype=torch.long))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        seg_core.errors.InputShapeError: transform: image (1, 4, 4, 4) and label (4, 4, 5) have different ...
    """
    img, lab = _as_tensor(image, "image", owner), _as_tensor(label, "label", owner)
    shapes = f"image {tuple(img.shape)} and label {tuple(lab.shape)}"
    if img.ndim != 4 or min(img.shape) < 1:
        raise InputShapeError(f"{owner}: {shapes}: the image must be (C, D, H, W) with every size >= 1")
    if lab.ndim == 4 and lab.shape[0] == 1:
        lab = lab[0]
    if lab.ndim != 3:
        raise InputShapeError(f"{owner}: {shapes}: the label must be (D, H, W)")
    if img.shape[1:] != lab.shape:
        raise InputShapeError(f"{owner}: {shapes} have different spatial shapes (D, H, W); transform them together")
    if lab.is_floating_point() or lab.is_complex():
        raise InputShapeError(f"{owner}: {shapes}: the label dtype {lab.dtype} is not an integer type")
    if not img.is_floating_point():
        img = img.float()
    return img, lab.long()


def flip(image: torch.Tensor, label: torch.Tensor, axes: Sequence[int]) -> Pair:
    """Flip both along the spatial ``axes`` (0 = D, 1 = H, 2 = W)."""
    if not axes:
        return image, label
    return image.flip([1 + a for a in axes]), label.flip(list(axes))


def rot90(image: torch.Tensor, label: torch.Tensor, k: int, plane: tuple[int, int]) -> Pair:
    """Rotate both by ``k`` quarter turns in the spatial ``plane`` (two of 0 = D, 1 = H, 2 = W), as ``torch.rot90``.

    Raises:
        InputShapeError: An odd ``k`` in a plane whose two sizes differ would change the shape (a batch of
            patches needs one shape); use ``k = 2`` there.
    """
    k %= 4
    if k == 0:
        return image, label
    a, b = plane
    if k % 2 and label.shape[a] != label.shape[b]:
        raise InputShapeError(
            f"rot90: a quarter turn in plane {plane} of a {tuple(label.shape)} volume changes its shape; only k=2 "
            "keeps it (or use a patch with equal sizes on those axes)"
        )
    return torch.rot90(image, k, (1 + a, 1 + b)), torch.rot90(label, k, (a, b))


def zscore(image: torch.Tensor, *, nonzero: bool = False, eps: float = 1e-8) -> torch.Tensor:
    """Normalize each channel to zero mean and unit standard deviation (MRI and most modalities).

    Args:
        image: ``(C, D, H, W)``.
        nonzero: Compute the statistics over the non-zero voxels only and keep zero voxels at 0 (nnU-Net's
            ``use_mask_for_norm`` for skull-stripped scans).
        eps: Floor of the standard deviation (a constant channel becomes 0).

    Returns:
        The normalized float image.
    """
    x = image.float()
    flat = x.reshape(x.shape[0], -1)
    if not nonzero:
        mean = flat.mean(1)
        std = flat.std(1, unbiased=False)
        return (x - mean.view(-1, 1, 1, 1)) / std.clamp_min(eps).view(-1, 1, 1, 1)
    mask = flat != 0
    count = mask.sum(1).clamp_min(1)
    mean = (flat * mask).sum(1) / count
    var = (((flat - mean[:, None]) * mask) ** 2).sum(1) / count
    out = (x - mean.view(-1, 1, 1, 1)) / var.sqrt().clamp_min(eps).view(-1, 1, 1, 1)
    return torch.where(x != 0, out, torch.zeros_like(out))


def ct_window(
    image: torch.Tensor, window: tuple[float, float], *, mean: float | None = None, std: float | None = None
) -> torch.Tensor:
    """Clip CT intensities (Hounsfield units) to a window, then normalize.

    Args:
        image: ``(C, D, H, W)``.
        window: ``(low, high)`` in HU, e.g. ``(-160, 240)`` for abdominal soft tissue.
        mean: With ``std``: ``(clipped - mean) / std`` (nnU-Net's CT scheme, with the dataset's foreground
            statistics). Without: the window is scaled linearly to ``[0, 1]``.
        std: See ``mean``.

    Returns:
        The normalized float image.

    Raises:
        ConfigError: ``low >= high``, a non-positive ``std``, or only one of ``mean`` / ``std``.
    """
    low, high = float(window[0]), float(window[1])
    if not low < high:
        raise ConfigError(f"ct_window: window={tuple(window)!r} needs low < high (HU)")
    if (mean is None) != (std is None) or (std is not None and std <= 0):
        raise ConfigError(f"ct_window: give both mean and a positive std, or neither; got mean={mean}, std={std}")
    x = image.float().clamp(low, high)
    if mean is not None and std is not None:
        return (x - mean) / std
    return (x - low) / (high - low)


def resampled_shape(shape: Sequence[int], spacing: Sequence[float], target_spacing: Sequence[float]) -> tuple[int, ...]:
    """The shape of a volume of ``shape`` voxels of ``spacing`` mm resampled to ``target_spacing`` (nnU-Net's rule).

    Example:
        >>> resampled_shape((10, 64, 64), (5.0, 0.8, 0.8), (2.5, 1.6, 1.6))
        (20, 32, 32)
    """
    return tuple(max(1, round(n * s / t)) for n, s, t in zip(shape, spacing, target_spacing, strict=True))


def _cubic(image: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
    """Separable cubic resize of ``(C, D, H, W)``: bicubic in (H, W), then bicubic along D."""
    c, d, _, _ = image.shape
    x = F.interpolate(image.reshape(1, c * d, *image.shape[2:]), size=size[1:], mode="bicubic", align_corners=False)
    x = x.reshape(c, d, size[1] * size[2]).transpose(1, 2).reshape(1, c * size[1] * size[2], d, 1)
    x = F.interpolate(x, size=(size[0], 1), mode="bicubic", align_corners=False)
    return x.reshape(c, size[1] * size[2], size[0]).transpose(1, 2).reshape(c, *size)


def resample(
    image: torch.Tensor,
    label: torch.Tensor | None,
    spacing: Sequence[float],
    target_spacing: Sequence[float],
    *,
    interpolation: str = "trilinear",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Resample a volume pair to ``target_spacing``: image trilinear (or cubic), label nearest.

    Both use the same voxel-centre mapping (``align_corners=False``; ``nearest-exact`` for the label), so the
    label stays on the image; label values are only copied, never blended.

    Args:
        image: ``(C, D, H, W)``.
        label: ``(D, H, W)`` or None.
        spacing: The current spacing ``(D, H, W)`` in mm.
        target_spacing: The wanted spacing.
        interpolation: ``"trilinear"`` or ``"cubic"`` (separable; may overshoot the input's range).

    Returns:
        ``(image, label)`` of shape :func:`resampled_shape`.

    Raises:
        ConfigError: Spacings that are not three positive numbers, or an unknown interpolation.
    """
    for what, value in (("spacing", spacing), ("target_spacing", target_spacing)):
        if len(value) != 3 or min(float(v) for v in value) <= 0:
            raise ConfigError(f"resample: {what} must be three positive numbers (D, H, W) in mm, got {value!r}")
    if interpolation not in ("trilinear", "cubic"):
        raise ConfigError(f"resample: interpolation={interpolation!r} is unknown; use 'trilinear' or 'cubic'")
    size = resampled_shape(image.shape[1:], spacing, target_spacing)
    s3 = (size[0], size[1], size[2])
    if s3 == tuple(image.shape[1:]):
        return image, label
    x = image.float()
    if interpolation == "trilinear":
        out = F.interpolate(x[None], size=s3, mode="trilinear", align_corners=False)[0]
    else:
        out = _cubic(x, s3)
    out_label = None
    if label is not None:
        out_label = F.interpolate(label[None, None].double(), size=s3, mode="nearest-exact")[0, 0].to(label.dtype)
    return out, out_label


def _axis_coords(center: float, size: int, step: float, device: torch.device) -> torch.Tensor:
    """Input coordinates of the ``size`` output voxels of one axis: ``center + (o - (size - 1) / 2) * step``."""
    offsets = torch.arange(size, dtype=torch.float64, device=device) - (size - 1) / 2
    return center + offsets * step


def extract_patch(
    image: torch.Tensor,
    label: torch.Tensor,
    center: Sequence[float],
    size: Sequence[int],
    *,
    step: Sequence[float] = (1.0, 1.0, 1.0),
    ignore_index: int = 255,
) -> Pair:
    """Cut a patch of ``size`` voxels centred on ``center`` (input voxel coordinates), sampled every ``step``.

    Output voxel ``o`` of an axis reads input coordinate ``center + (o - (size - 1) / 2) * step``. When every
    step is 1 and the coordinates are whole numbers the patch is an exact crop (with padding where it leaves the
    volume); otherwise (scale jitter) the image is sampled trilinearly with ``grid_sample`` and the label at the
    nearest voxel of the same coordinates. Voxels outside the volume are 0 in the image and ``ignore_index``
    in the label.

    Args:
        image: ``(C, D, H, W)`` float.
        label: ``(D, H, W)`` integer.
        center: Patch centre per axis, in input voxels.
        size: Patch shape ``(D, H, W)``.
        step: Input voxels per output voxel, per axis (``1 / scale``).
        ignore_index: Label fill outside the volume.

    Returns:
        ``(image (C, *size), label (*size))``.
    """
    device = image.device
    shape = label.shape
    coords = [_axis_coords(float(center[a]), int(size[a]), float(step[a]), device) for a in range(3)]
    exact = all(float(s) == 1.0 for s in step) and all(bool((c == c.round()).all()) for c in coords)
    if exact:
        starts = [int(c[0]) for c in coords]
        out_i = image.new_zeros((image.shape[0], *size))
        out_l = label.new_full(tuple(int(s) for s in size), ignore_index)
        src, dst = [], []
        for a in range(3):
            lo, hi = max(starts[a], 0), min(starts[a] + int(size[a]), shape[a])
            if lo >= hi:
                return out_i, out_l
            src.append(slice(lo, hi))
            dst.append(slice(lo - starts[a], hi - starts[a]))
        out_i[:, dst[0], dst[1], dst[2]] = image[:, src[0], src[1], src[2]]
        out_l[dst[0], dst[1], dst[2]] = label[src[0], src[1], src[2]]
        return out_i, out_l
    # grid_sample with align_corners=False: voxel x of an axis of n voxels is at (2x + 1) / n - 1
    normalized = [((2 * c + 1) / n - 1).float() for c, n in zip(coords, shape, strict=True)]
    gd, gh, gw = torch.meshgrid(*normalized, indexing="ij")
    grid = torch.stack((gw, gh, gd), dim=-1)[None]  # grid_sample wants (x, y, z) = (W, H, D)
    out_image = F.grid_sample(image.float()[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    nearest = [torch.floor(c + 0.5).long() for c in coords]
    valid = [(n >= 0) & (n < length) for n, length in zip(nearest, shape, strict=True)]
    idx = [n.clamp(0, length - 1) for n, length in zip(nearest, shape, strict=True)]
    out_label = label[idx[0][:, None, None], idx[1][None, :, None], idx[2][None, None, :]].clone()
    inside = valid[0][:, None, None] & valid[1][None, :, None] & valid[2][None, None, :]
    out_label[~inside] = ignore_index
    return out_image[0].to(image.dtype), out_label


def pad_to_multiple(image: torch.Tensor, label: torch.Tensor, multiple: Sequence[int], *, ignore_index: int) -> Pair:
    """Pad the end of each spatial axis up to a multiple of ``multiple`` (image 0, label ``ignore_index``).

    For whole-volume validation with a model whose input must be divisible by its total reduction.
    """
    pads: list[int] = []
    for n, m in zip(reversed(label.shape), reversed(list(multiple)), strict=True):
        pads += [0, (-n) % int(m)]
    if not any(pads):
        return image, label
    return F.pad(image, pads, value=0.0), F.pad(label, pads, value=ignore_index)
