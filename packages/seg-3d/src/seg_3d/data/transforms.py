"""3D transforms on ``(image, label)`` pairs: a deterministic part and a random part, as seg-data's for 2D.

* :class:`VolumeTransform` is deterministic: resampling to a target spacing (image trilinear or cubic, label
  nearest), intensity normalization (per-channel z-score, or a CT window clip), padding to a multiple.
* :class:`VolumeAugment` is random: a patch (with nnU-Net's foreground oversampling: a share of the patches is
  centred on a foreground voxel), scale jitter, flips and 90-degree rotations.

Labels always take nearest-neighbour values and voxels from outside the volume get ``ignore_index``; no other
label value is ever changed. The kernels are in :mod:`seg_3d.data.ops` (torch ops, no Python voxel loops).

Volumes run the deterministic part first, on the whole volume (normalization statistics of the volume, not of
a patch; resampling before cutting), then the random part: training uses ``Compose([transform, augment])`` and
validation ``transform`` alone. :func:`build_transforms` builds both from a training config's ``[data.transform]``
and ``[data.augment]`` tables; the volume datasets declare it in their registry entry (``transforms=`` info), so
seg-train uses it in place of seg-data's 2D transforms.

``ignore_index=None`` (the default) takes the running dataset's ignore index: datasets call their transforms
inside :func:`volume_scope`, which also carries the case's spacing for :class:`VolumeTransform`'s resampling.

Example:
    >>> import torch
    >>> train = Compose([VolumeTransform(normalize="zscore"), VolumeAugment(patch_size=16, flip=0.5, rot90=0.5)])
    >>> image, label = train(torch.rand(1, 20, 24, 24), torch.randint(0, 3, (20, 24, 24)))
    >>> tuple(image.shape), tuple(label.shape)
    ((1, 16, 16, 16), (16, 16, 16))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import torch

import seg_3d.data.ops as ops
from seg_core.errors import ConfigError
from seg_core.suggest import unexpected_arguments

__all__ = [
    "DEFAULT_IGNORE_INDEX",
    "Compose",
    "PatchDraw",
    "VolumeAugment",
    "VolumeContext",
    "VolumeTransform",
    "build_transforms",
    "resolve_ignore_index",
    "volume_scope",
]

Pair = tuple[Any, Any]

#: Label fill of a transform created with ``ignore_index=None`` when it runs outside any dataset.
DEFAULT_IGNORE_INDEX = 255


@dataclass(frozen=True)
class VolumeContext:
    """What a dataset tells the transforms it runs: its ignore index and the case's spacing ``(D, H, W)``."""

    ignore_index: int = DEFAULT_IGNORE_INDEX
    spacing: tuple[float, ...] | None = None


_SCOPE: ContextVar[VolumeContext | None] = ContextVar("seg_3d_volume_context", default=None)


@contextmanager
def volume_scope(ignore_index: int, spacing: Sequence[float] | None = None) -> Iterator[None]:
    """Run the block with the dataset's ``ignore_index`` and the case's ``spacing`` in scope.

    Args:
        ignore_index: The dataset's ignore index (the fill of transforms with ``ignore_index=None``).
        spacing: The case's voxel spacing ``(D, H, W)`` (read by ``VolumeTransform(target_spacing=...)``).

    Example:
        >>> with volume_scope(-100, (3.0, 1.0, 1.0)):
        ...     _, label = VolumeAugment(patch_size=6)(torch.zeros(1, 4, 4, 4), torch.zeros(4, 4, 4, dtype=torch.long))
        >>> int(label.min())
        -100
    """
    token = _SCOPE.set(VolumeContext(int(ignore_index), None if spacing is None else tuple(float(s) for s in spacing)))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def resolve_ignore_index(ignore_index: int | None, owner: str) -> int:
    """Return the label fill a transform uses now (its own, else the running dataset's, else 255).

    Raises:
        ConfigError: ``ignore_index`` is set and differs from the running dataset's.
    """
    context = _SCOPE.get()
    if ignore_index is None:
        return context.ignore_index if context is not None else DEFAULT_IGNORE_INDEX
    if context is not None and ignore_index != context.ignore_index:
        raise ConfigError(
            f"{owner}: ignore_index={ignore_index} but the dataset's is {context.ignore_index}; leave ignore_index "
            f"unset (None takes the dataset's) or set it to {context.ignore_index}"
        )
    return ignore_index


def _triple(value: Any, what: str, *, integer: bool = False, positive: bool = True) -> tuple[Any, Any, Any]:
    items = [value] * 3 if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    try:
        out = tuple(int(v) if integer else float(v) for v in items)
    except (TypeError, ValueError):
        out = ()
    if (
        len(out) != 3
        or (integer and any(isinstance(v, bool) or int(v) != v for v in items))
        or (positive and min(out) <= 0)
    ):
        kind = "positive ints" if integer else "positive numbers"
        raise ConfigError(f"{what} must be one or three {kind} (D, H, W), got {value!r}")
    return out[0], out[1], out[2]


def _probability(value: float, what: str) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{what}={value} must be a probability in [0, 1]")
    return float(value)


class Compose:
    """Apply ``(image, label)`` callables in order.

    Args:
        steps: Callables taking and returning ``(image, label)``; None entries are skipped.
    """

    def __init__(self, steps: Sequence[Callable[[Any, Any], Pair] | None]) -> None:
        self.steps = [s for s in steps if s is not None]

    def __call__(self, image: Any, label: Any) -> Pair:
        for step in self.steps:
            image, label = step(image, label)
        return image, label

    def __repr__(self) -> str:
        return f"Compose({self.steps!r})"


_NORMALIZE = (None, "zscore", "ct")


class VolumeTransform:
    """The deterministic part: resample to a spacing, normalize intensities, pad to a multiple.

    Args:
        target_spacing: Resample to this spacing ``(D, H, W)`` in mm (image ``interpolation``, label nearest);
            the case's spacing comes from the dataset (:func:`volume_scope`). None keeps the voxels.
        interpolation: ``"trilinear"`` or ``"cubic"`` for the image.
        normalize: ``"zscore"`` (per channel), ``"ct"`` (clip to ``window``, then ``(x - mean) / std`` or the
            window scaled to [0, 1]) or None.
        nonzero: z-score statistics over non-zero voxels only, zeros kept (skull-stripped MRI).
        window: ``(low, high)`` HU window for ``normalize="ct"``.
        mean: CT mean after clipping (with ``std``; e.g. the dataset's foreground mean, as nnU-Net).
        std: CT standard deviation.
        divisible_by: Pad the end of each axis (image 0, label ignore) to a multiple of this: one int or one per
            axis (the model's total reduction, for whole-volume validation). None: no padding.
        ignore_index: Label fill of the padding; None takes the running dataset's.

    Raises:
        ConfigError: An unknown ``normalize`` or ``interpolation``, ``normalize="ct"`` without ``window``, or
            malformed spacing / multiples.
    """

    def __init__(
        self,
        *,
        target_spacing: float | Sequence[float] | None = None,
        interpolation: str = "trilinear",
        normalize: str | None = None,
        nonzero: bool = False,
        window: Sequence[float] | None = None,
        mean: float | None = None,
        std: float | None = None,
        divisible_by: int | Sequence[int] | None = None,
        ignore_index: int | None = None,
    ) -> None:
        if normalize not in _NORMALIZE:
            raise ConfigError(f"VolumeTransform: normalize={normalize!r} is unknown; use 'zscore', 'ct' or None")
        if interpolation not in ("trilinear", "cubic"):
            raise ConfigError(
                f"VolumeTransform: interpolation={interpolation!r} is unknown; use 'trilinear' or 'cubic'"
            )
        if normalize == "ct":
            if window is None or len(window) != 2 or not float(window[0]) < float(window[1]):
                raise ConfigError(
                    f"VolumeTransform: normalize='ct' needs window=[low, high] in HU with low < high, got {window!r}"
                )
            if (mean is None) != (std is None) or (std is not None and std <= 0):
                raise ConfigError("VolumeTransform: give both mean and a positive std for normalize='ct', or neither")
        elif window is not None or mean is not None or std is not None:
            raise ConfigError("VolumeTransform: window, mean and std belong to normalize='ct'")
        self.target_spacing = (
            None if target_spacing is None else _triple(target_spacing, "VolumeTransform: target_spacing")
        )
        self.interpolation = interpolation
        self.normalize = normalize
        self.nonzero = bool(nonzero)
        self.window = None if window is None else (float(window[0]), float(window[1]))
        self.mean = None if mean is None else float(mean)
        self.std = None if std is None else float(std)
        self.divisible_by = (
            None if divisible_by is None else _triple(divisible_by, "VolumeTransform: divisible_by", integer=True)
        )
        self.ignore_index = None if ignore_index is None else int(ignore_index)

    def __call__(self, image: Any, label: Any) -> Pair:
        """Transform one ``(C, D, H, W)`` image and ``(D, H, W)`` label.

        Raises:
            InputShapeError: Wrong ranks or different spatial shapes (names both).
            ConfigError: ``target_spacing`` set but the case's spacing is unknown (called outside a dataset).
        """
        fill = resolve_ignore_index(self.ignore_index, "VolumeTransform")
        x, y = ops.check_volume_pair(image, label, "VolumeTransform")
        if self.target_spacing is not None:
            context = _SCOPE.get()
            if context is None or context.spacing is None:
                raise ConfigError(
                    "VolumeTransform(target_spacing=...) needs the case's spacing: run it inside a volume dataset, "
                    "inside volume_scope(ignore_index, spacing), or call seg_3d.data.ops.resample directly"
                )
            x, out = ops.resample(x, y, context.spacing, self.target_spacing, interpolation=self.interpolation)
            assert out is not None
            y = out
        if self.normalize == "zscore":
            x = ops.zscore(x, nonzero=self.nonzero)
        elif self.normalize == "ct":
            assert self.window is not None
            x = ops.ct_window(x, self.window, mean=self.mean, std=self.std)
        if self.divisible_by is not None:
            x, y = ops.pad_to_multiple(x, y, self.divisible_by, ignore_index=fill)
        return x, y

    def __repr__(self) -> str:
        return (
            f"VolumeTransform(target_spacing={self.target_spacing}, normalize={self.normalize!r}, "
            f"window={self.window}, divisible_by={self.divisible_by})"
        )


@dataclass(frozen=True)
class PatchDraw:
    """The random choices of one :class:`VolumeAugment` call (see :meth:`VolumeAugment.draw`).

    Attributes:
        center: Patch centre per axis, in input voxels.
        step: Input voxels per patch voxel, per axis (``1 / scale``).
        foreground: Whether the centre was drawn on a foreground voxel (oversampling).
        flips: The flipped spatial axes.
        rotation: ``(k, plane)``: quarter turns in a plane of the patch, or None.
    """

    center: tuple[float, float, float]
    step: tuple[float, float, float]
    foreground: bool
    flips: tuple[int, ...]
    rotation: tuple[int, tuple[int, int]] | None


def _uniform(generator: torch.Generator | None) -> float:
    return float(torch.rand((), generator=generator, dtype=torch.float64))


def _randint(high: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(high, (), generator=generator))


class VolumeAugment:
    """The random part: patch with foreground oversampling, scale jitter, flips, 90-degree rotations.

    Order: one patch (centre, then scale about it), then flips, then a rotation of the patch. Flips and
    rotations are exact; the patch is an exact crop unless the scale is jittered (then trilinear image,
    nearest label, the same coordinates).

    Args:
        patch_size: Patch ``(D, H, W)`` (or one int); a volume smaller than it is padded (image 0, label
            ignore). None keeps the volume's shape.
        foreground: Probability that the patch is centred on a foreground voxel (a label other than 0 and
            ``ignore_index``): a foreground class present in the volume is drawn uniformly, then one of its
            voxels. nnU-Net oversamples a third of the patches (the default). The patch is then moved, if
            needed, to stay inside the volume; the voxel stays in the patch. Other patches lie uniformly in
            the volume.
        scale_range: ``(low, high)`` zoom factors for scale jitter (``> 1`` enlarges the content); ``(1, 1)``
            is off. One factor per sample, on every axis.
        flip: Probability of flipping each axis of ``flip_axes``.
        flip_axes: Spatial axes that may flip (0 = D, 1 = H, 2 = W).
        rot90: Probability of a rotation by 1, 2 or 3 quarter turns in one of ``rot90_planes`` (only half
            turns in a plane whose two patch sizes differ, so the patch keeps its shape).
        rot90_planes: Planes (pairs of spatial axes) to rotate in; the default ``((1, 2),)`` rotates in-plane
            (H, W), which is safe for thick-slice data.
        ignore_index: Label fill outside the volume; None takes the running dataset's.

    Raises:
        ConfigError: Out-of-range probabilities, sizes, scales or axes.

    Example:
        >>> aug = VolumeAugment(patch_size=(8, 16, 16), foreground=1.0)
        >>> label = torch.zeros(20, 40, 40, dtype=torch.long)
        >>> label[10, 30, 5] = 2
        >>> _, patch = aug(torch.rand(1, 20, 40, 40), label)
        >>> int((patch == 2).sum())
        1
    """

    def __init__(
        self,
        *,
        patch_size: int | Sequence[int] | None = None,
        foreground: float = 1 / 3,
        scale_range: Sequence[float] = (1.0, 1.0),
        flip: float = 0.0,
        flip_axes: Sequence[int] = (0, 1, 2),
        rot90: float = 0.0,
        rot90_planes: Sequence[Sequence[int]] = ((1, 2),),
        ignore_index: int | None = None,
    ) -> None:
        self.patch_size = None if patch_size is None else _triple(patch_size, "VolumeAugment: patch_size", integer=True)
        self.foreground = _probability(foreground, "VolumeAugment: foreground")
        if len(scale_range) != 2 or not 0 < float(scale_range[0]) <= float(scale_range[1]):
            raise ConfigError(f"VolumeAugment: scale_range must satisfy 0 < low <= high, got {scale_range!r}")
        self.scale_range = (float(scale_range[0]), float(scale_range[1]))
        self.flip = _probability(flip, "VolumeAugment: flip")
        self.flip_axes = tuple(int(a) for a in flip_axes)
        self.rot90 = _probability(rot90, "VolumeAugment: rot90")
        planes = []
        for plane in rot90_planes:
            pair = tuple(int(a) for a in plane)
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ConfigError(f"VolumeAugment: rot90_planes entries are two different axes, got {plane!r}")
            planes.append((pair[0], pair[1]))
        self.rot90_planes = tuple(planes)
        for axis in (*self.flip_axes, *(a for p in self.rot90_planes for a in p)):
            if axis not in (0, 1, 2):
                raise ConfigError(f"VolumeAugment: spatial axes are 0 (D), 1 (H) and 2 (W), got {axis}")
        if self.rot90 > 0 and not self.rot90_planes:
            raise ConfigError("VolumeAugment: rot90 > 0 needs at least one plane in rot90_planes")
        self.ignore_index = None if ignore_index is None else int(ignore_index)

    def draw(self, label: torch.Tensor, generator: torch.Generator | None = None) -> PatchDraw:
        """Draw the random choices for a label volume ``(D, H, W)`` (torch's global RNG without ``generator``).

        Args:
            label: The label (foreground voxels for oversampling; its shape).
            generator: CPU generator for reproducible draws.

        Returns:
            The :class:`PatchDraw` that :meth:`apply` carries out.
        """
        shape = tuple(int(s) for s in label.shape)
        size = self.patch_size or shape
        low, high = self.scale_range
        scale = low if low == high else low + (high - low) * _uniform(generator)
        step = 1.0 / scale
        ignore = resolve_ignore_index(self.ignore_index, "VolumeAugment")
        forced = self.foreground > 0 and _uniform(generator) < self.foreground
        voxel = self._foreground_voxel(label, ignore, generator) if forced else None
        center = []
        for axis in range(3):
            half = (size[axis] - 1) * step / 2
            lo, hi = half, shape[axis] - 1 - half
            a, b = min(lo, hi), max(lo, hi)
            c = min(max(float(voxel[axis]), a), b) if voxel is not None else a + (b - a) * _uniform(generator)
            if step == 1.0:  # whole-voxel start: an exact crop
                c = float(torch.floor(torch.tensor(c - (size[axis] - 1) / 2 + 0.5))) + (size[axis] - 1) / 2
            center.append(c)
        flips = tuple(a for a in self.flip_axes if self.flip > 0 and _uniform(generator) < self.flip)
        rotation = None
        if self.rot90 > 0 and _uniform(generator) < self.rot90:
            plane = self.rot90_planes[_randint(len(self.rot90_planes), generator)]
            k = 1 + _randint(3, generator) if size[plane[0]] == size[plane[1]] else 2
            rotation = (k, plane)
        return PatchDraw((center[0], center[1], center[2]), (step, step, step), voxel is not None, flips, rotation)

    @staticmethod
    def _foreground_voxel(
        label: torch.Tensor, ignore: int, generator: torch.Generator | None
    ) -> tuple[int, int, int] | None:
        foreground = (label > 0) & (label != ignore)
        counts = torch.bincount(label[foreground].flatten())
        classes = torch.nonzero(counts).flatten()
        if classes.numel() == 0:
            return None
        chosen = classes[_randint(classes.numel(), generator)]
        voxels = torch.nonzero(label == chosen)
        d, h, w = voxels[_randint(voxels.shape[0], generator)].tolist()
        return int(d), int(h), int(w)

    def apply(self, image: Any, label: Any, draw: PatchDraw) -> Pair:
        """Carry out ``draw`` on one pair: image ``(C, D, H, W)``, label ``(D, H, W)``."""
        fill = resolve_ignore_index(self.ignore_index, "VolumeAugment")
        x, y = ops.check_volume_pair(image, label, "VolumeAugment")
        size = self.patch_size or tuple(y.shape)
        if self.patch_size is not None or draw.step != (1.0, 1.0, 1.0):
            x, y = ops.extract_patch(x, y, draw.center, size, step=draw.step, ignore_index=fill)
        x, y = ops.flip(x, y, draw.flips)
        if draw.rotation is not None:
            x, y = ops.rot90(x, y, draw.rotation[0], draw.rotation[1])
        return x, y

    def __call__(self, image: Any, label: Any) -> Pair:
        """Augment one pair with fresh draws from torch's global RNG (seeded per sample by the datasets)."""
        _, y = ops.check_volume_pair(image, label, "VolumeAugment")
        return self.apply(image, label, self.draw(y))

    def __repr__(self) -> str:
        return (
            f"VolumeAugment(patch_size={self.patch_size}, foreground={self.foreground:.3g}, "
            f"scale_range={self.scale_range}, flip={self.flip}, rot90={self.rot90}, rot90_planes={self.rot90_planes})"
        )


def _accepted(cls: type, options: Mapping[str, Any], what: str) -> dict[str, Any]:
    import inspect

    names = [n for n in inspect.signature(cls).parameters if n != "self"]
    unknown = [k for k in options if k not in names]
    if unknown:
        raise ConfigError(unexpected_arguments(what, unknown, names))
    return dict(options)


def build_transforms(
    augment: Mapping[str, Any], transform: Mapping[str, Any], *, train: bool
) -> Callable[[Any, Any], Pair]:
    """The transforms of a training config's ``[data.augment]`` and ``[data.transform]``, for volumes.

    The volume datasets' registry entries declare this builder (``transforms="seg_3d.data.transforms:
    build_transforms"``), and seg-train calls it instead of building seg-data's 2D transforms.

    Args:
        augment: :class:`VolumeAugment` arguments (training only; empty: no augmentation).
        transform: :class:`VolumeTransform` arguments (both splits).
        train: Training (``Compose([transform, augment])``) or validation (``transform``).

    Returns:
        The ``(image, label)`` callable.

    Raises:
        ConfigError: An argument the transform does not take (named, with close matches), or a bad value.

    Example:
        >>> train = build_transforms({"patch_size": 32, "flip": 0.5}, {"normalize": "zscore"}, train=True)
        >>> [type(step).__name__ for step in train.steps]
        ['VolumeTransform', 'VolumeAugment']
        >>> build_transforms({"patch_size": 32}, {"normalize": "zscore"}, train=False)
        VolumeTransform(target_spacing=None, normalize='zscore', window=None, divisible_by=None)
    """
    deterministic = VolumeTransform(**_accepted(VolumeTransform, transform, "data.transform (VolumeTransform)"))
    if not train or not augment:
        return deterministic
    random = VolumeAugment(**_accepted(VolumeAugment, augment, "data.augment (VolumeAugment)"))
    return Compose([deterministic, random])
