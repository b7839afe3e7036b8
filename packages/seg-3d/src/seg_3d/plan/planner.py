"""``plan``: nnU-Net v2's 3D full-resolution planning for the residual-encoder presets M, L and XL.

Follows ``ExperimentPlanner.get_plans_for_configuration`` and the ResEnc planners
(``nnunetv2/experiment_planning/experiment_planners/default_experiment_planner.py`` and
``.../residual_unets/residual_encoder_unet_planners.py``, nnU-Net v2.8.1):

1. target spacing (`seg_3d.plan.spacing`), and the median shape of the cases resampled to it;
2. initial patch: 256**3 voxels in the aspect of ``1 / spacing`` (isotropic in mm), each axis
   clipped to the median shape;
3. topology (`seg_3d.plan.topology`): strides, kernels, stages, and the patch padded to the divisor;
4. feature-map estimate (`seg_3d.plan.memory`) against the preset's reference value
   (``reference_3d x gpu_memory_gb / preset GB``); while it is larger, shrink the axis with the
   largest patch / median ratio (the last such axis on ties) by one divisor step and recompute;
5. batch size ``round(reference / estimate x 2)``, capped by the dataset
   (``round(dataset voxels x max_dataset_covered / patch voxels)``; no cap for the presets) and at least 2.

Every decision is recorded in `Plan.reasons`.

Example:
    >>> from seg_3d.plan import Fingerprint, plan
    >>> p = plan(Fingerprint.from_lists([(1.0, 1.0, 1.0)] * 1251, [(140, 170, 140)] * 1251, num_classes=4))
    >>> p.patch_size, p.batch_size
    ((128, 128, 128), 2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seg_3d.encoders.resenc_presets import BLOCKS_PER_STAGE, RESENC_PRESETS, ResEncPreset, features
from seg_3d.plan._stats import median
from seg_3d.plan.fingerprint import Fingerprint
from seg_3d.plan.memory import feature_map_size
from seg_3d.plan.spacing import resampled_shapes, target_spacing
from seg_3d.plan.topology import MIN_FEATURE_MAP_SIZE, Topology, topology
from seg_core.errors import ConfigError

__all__ = ["INITIAL_PATCH_VOXELS", "MIN_BATCH_SIZE", "Plan", "plan"]

#: The initial patch volume in 3D (nnU-Net: ``256 ** 3``).
INITIAL_PATCH_VOXELS = 256**3
#: The smallest batch size (nnU-Net's ``UNet_min_batch_size``).
MIN_BATCH_SIZE = 2
#: ResEnc decoders use one convolution per stage (nnU-Net's ``n_conv_per_stage_decoder``).
DECODER_CONVS = 1

Axes = tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    """A 3D full-resolution training plan.

    Attributes:
        preset: ``"m"``, ``"l"`` or ``"xl"``.
        spacing: The target spacing (mm per voxel), in the data's axis order.
        median_shape: The per-axis median case shape after resampling to ``spacing``.
        patch_size: The training patch (crop) size, divisible by ``divisor``.
        strides: One per-axis stride per stage; stage 0 (full resolution) is all 1.
        kernel_sizes: One per-axis kernel size per stage (1 on an axis still too coarse).
        features: Channels per stage (``min(32 * 2**s, 320)``).
        blocks: Residual blocks per encoder stage.
        batch_size: The training batch size.
        feature_map_size: The memory estimate of the chosen patch (`seg_3d.plan.memory`).
        reference: The estimate's budget for ``gpu_memory_gb``.
        gpu_memory_gb: The GPU memory target.
        num_classes: The classes (background included) the estimate and config use.
        in_channels: The image channels.
        num_cases: The cases in the fingerprint.
        dataset: The registered dataset the fingerprint came from, if known.
        root: The dataset folder, if known.
        reasons: One human-readable line per decision, in order.
        modalities: The channel names, if known (``("CT",)`` selects CT normalisation in the config).
        intensity: The fingerprint's intensity statistics, if any.
        assumed: The values not known from the dataset and assumed (``"num_classes"``, ``"in_channels"``).
    """

    preset: str
    spacing: tuple[float, ...]
    median_shape: tuple[float, ...]
    patch_size: Axes
    strides: tuple[Axes, ...]
    kernel_sizes: tuple[Axes, ...]
    features: tuple[int, ...]
    blocks: tuple[int, ...]
    batch_size: int
    feature_map_size: int
    reference: float
    gpu_memory_gb: float
    num_classes: int
    in_channels: int
    num_cases: int
    dataset: str | None
    root: str | None
    reasons: tuple[str, ...]
    modalities: tuple[str, ...] | None = None
    intensity: Mapping[str, Any] | None = field(default=None, compare=False)
    assumed: tuple[str, ...] = ()

    @property
    def depth(self) -> int:
        """The number of stages (resolutions), stage 0 included."""
        return len(self.strides)

    @property
    def pools_per_axis(self) -> Axes:
        """How many times each axis is halved."""
        return tuple(sum(1 for s in self.strides if s[d] == 2) for d in range(len(self.patch_size)))

    @property
    def encoder_name(self) -> str:
        """The registered encoder of this preset (``resenc_m_3d``, ``resenc_l_3d``, ``resenc_xl_3d``)."""
        return f"resenc_{self.preset}_3d"

    def explain(self) -> str:
        """The reasons, one per line."""
        return "\n".join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON-ready data."""
        return {
            "preset": self.preset,
            "encoder_name": self.encoder_name,
            "spacing": list(self.spacing),
            "median_shape": list(self.median_shape),
            "patch_size": list(self.patch_size),
            "depth": self.depth,
            "strides": [list(s) for s in self.strides],
            "kernel_sizes": [list(k) for k in self.kernel_sizes],
            "features": list(self.features),
            "blocks": list(self.blocks),
            "batch_size": self.batch_size,
            "feature_map_size": self.feature_map_size,
            "reference": self.reference,
            "gpu_memory_gb": self.gpu_memory_gb,
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "assumed": list(self.assumed),
            "reasons": list(self.reasons),
        }


def _fmt(values: Sequence[float]) -> str:
    return " x ".join(f"{v:g}" for v in values)


def _preset(preset: str | ResEncPreset) -> ResEncPreset:
    if isinstance(preset, ResEncPreset):
        return preset
    key = str(preset).lower()
    if key not in RESENC_PRESETS:
        raise ConfigError(f"preset={preset!r} is not a ResEnc preset; use one of {', '.join(RESENC_PRESETS)}")
    return RESENC_PRESETS[key]


def _initial_patch(spacing: Sequence[float], median_shape: Sequence[float]) -> tuple[list[float], list[int]]:
    inverse = [1.0 / s for s in spacing]
    scale = (INITIAL_PATCH_VOXELS / math.prod(inverse)) ** (1.0 / len(spacing))
    raw = [round(i * scale) for i in inverse]
    return [min(float(r), float(m)) for r, m in zip(raw, median_shape)], raw


class _Estimator:
    """The feature-map estimate for a topology, cached per (patch, strides) as nnU-Net does."""

    def __init__(self, classes: int) -> None:
        self.classes = classes
        self.cache: dict[tuple[Axes, tuple[Axes, ...]], int] = {}

    def __call__(self, topo: Topology) -> int:
        key = (topo.patch_size, topo.strides)
        if key not in self.cache:
            n = topo.n_stages
            self.cache[key] = feature_map_size(
                topo.patch_size,
                topo.strides,
                features(n, 3),
                BLOCKS_PER_STAGE[:n],
                self.classes,
                decoder_convs=DECODER_CONVS,
            )
        return self.cache[key]


def _stage_lines(spacing: Sequence[float], topo: Topology) -> list[str]:
    lines = []
    current = list(spacing)
    size = list(topo.patch_size)
    for s, (stride, kernel) in enumerate(zip(topo.strides, topo.kernel_sizes)):
        current = [c * st for c, st in zip(current, stride)]
        size = [z // st for z, st in zip(size, stride)]
        finest = min(current)
        flat = [d for d, k in enumerate(kernel) if k == 1]
        why = (
            "; kernel 1 on axis " + ", ".join(f"{d} (spacing {current[d]:g} >= 2 x {finest:g})" for d in flat)
            if flat
            else ""
        )
        lines.append(
            f"  stage {s}: stride {stride}, kernel {kernel}, feature map {_fmt(size)} at spacing {_fmt(current)} mm{why}"
        )
    return lines


def plan(
    fingerprint: Fingerprint,
    preset: str | ResEncPreset = "m",
    gpu_memory_gb: float | None = None,
    *,
    num_classes: int | None = None,
    in_channels: int | None = None,
    spacing: Sequence[float] | None = None,
    min_feature_map_size: int = MIN_FEATURE_MAP_SIZE,
) -> Plan:
    """Plan a 3D full-resolution ResEnc U-Net for a dataset (see the module docstring for the steps).

    Args:
        fingerprint: The cases' spacings and shapes (3 axes).
        preset: ``"m"`` (8 GB), ``"l"`` (24 GB) or ``"xl"`` (40 GB), or a `ResEncPreset`.
        gpu_memory_gb: The GPU memory target; None: the preset's. The reference value scales linearly
            (nnU-Net's ``-gpu_memory_target``).
        num_classes: Classes, background included (default: the fingerprint's, else 2).
        in_channels: Image channels (default: the fingerprint's, else 1).
        spacing: Use this target spacing instead of the rule (nnU-Net's ``-overwrite_target_spacing``).
        min_feature_map_size: The smallest feature-map edge (nnU-Net: 4).

    Returns:
        The `Plan`, with its reasons.

    Raises:
        ConfigError: An unknown preset, a fingerprint that is not 3D, a non-positive memory target or
            class count, or a memory target too small for any patch.
    """
    if not isinstance(fingerprint, Fingerprint):
        raise ConfigError(f"plan() takes a seg_3d.plan.Fingerprint, got {type(fingerprint).__name__}")
    if fingerprint.spatial_dims != 3:
        raise ConfigError(
            f"plan() plans 3D volumes; the fingerprint has {fingerprint.spatial_dims} axes per case "
            "(give spacings and shapes with 3 values each)"
        )
    chosen = _preset(preset)
    gpu = float(chosen.gpu_memory_gb if gpu_memory_gb is None else gpu_memory_gb)
    if not math.isfinite(gpu) or gpu <= 0:
        raise ConfigError(f"gpu_memory_gb must be a number > 0 (GB), got {gpu_memory_gb!r}")
    classes = num_classes if num_classes is not None else fingerprint.num_classes
    channels = in_channels if in_channels is not None else fingerprint.in_channels
    for name, value in (("num_classes", classes), ("in_channels", channels)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")
    reasons: list[str] = [f"preset ResEnc {chosen.name.upper()} (encoder resenc_{chosen.name}_3d)"]
    assumed: list[str] = []
    if classes is None:
        classes = 2
        assumed.append("num_classes")
        reasons.append("classes unknown: assuming 2 (background + 1) for the memory estimate; pass num_classes")
    if channels is None:
        channels = 1
        assumed.append("in_channels")
        reasons.append("image channels unknown: assuming 1; pass in_channels")

    # 1. target spacing and median shape
    target = target_spacing(fingerprint.spacings, fingerprint.shapes, override=spacing)
    reasons += target.reasons
    new_shapes = resampled_shapes(fingerprint.spacings, fingerprint.shapes, target.spacing)
    median_shape = tuple(median([s[d] for s in new_shapes]) for d in range(3))
    dataset_voxels = math.prod(median_shape) * fingerprint.num_cases
    reasons.append(f"median shape at the target spacing: {_fmt(median_shape)} voxels ({fingerprint.num_cases} cases)")

    # 2. initial patch
    initial, raw = _initial_patch(target.spacing, median_shape)
    reasons.append(
        f"initial patch: 256^3 voxels in the aspect of 1/spacing = {_fmt(raw)}, clipped to the median shape: {_fmt(initial)}"
    )

    # 3. topology and 4. the shrink loop
    topo = topology(target.spacing, initial, min_feature_map_size)
    estimate = _Estimator(classes)
    reference = chosen.reference_3d * gpu / chosen.gpu_memory_gb
    reasons.append(
        f"memory budget: reference {chosen.reference_3d:,} x {gpu:g} GB / {chosen.gpu_memory_gb} GB = {reference:,.0f} "
        f"feature-map elements (ResEnc {chosen.name.upper()}, reference batch {chosen.reference_batch_3d})"
    )
    if gpu != chosen.gpu_memory_gb:
        reasons.append(
            f"gpu_memory_gb={gpu:g} differs from the preset's {chosen.gpu_memory_gb} GB: the budget scales linearly "
            "(nnU-Net warns here; the reference values were tuned at the preset's target)"
        )
    first = topo
    steps: list[str] = []
    while estimate(topo) > reference:
        patch = list(topo.patch_size)
        ratios = [p / m for p, m in zip(patch, median_shape)]
        axis = max(range(3), key=lambda d: (ratios[d], d))  # np.argsort(...)[-1]: the last axis on ties
        trial = list(patch)
        trial[axis] -= topo.divisor[axis]
        if trial[axis] < 1:
            raise ConfigError(
                f"gpu_memory_gb={gpu:g} is too small: even a patch of {_fmt(patch)} voxels needs "
                f"{estimate(topo):,} feature-map elements (budget {reference:,.0f}); give more memory"
            )
        step = topology(target.spacing, trial, min_feature_map_size).divisor[axis]
        patch[axis] -= step
        topo = topology(target.spacing, patch, min_feature_map_size)
        steps.append(f"axis {axis} -> {_fmt(topo.patch_size)}")
    if steps:
        reasons.append(
            f"patch {_fmt(first.patch_size)} needs {estimate(first):,} elements > budget: shrink the axis with the "
            f"largest patch/median ratio, one divisor step at a time ({len(steps)} steps: {', '.join(steps)})"
        )
    reasons.append(
        f"patch {_fmt(topo.patch_size)}: estimate {estimate(topo):,} <= budget {reference:,.0f}; "
        f"{topo.n_stages} stages, pools per axis {topo.pools_per_axis}, divisible by {_fmt(topo.divisor)}"
    )
    reasons += _stage_lines(target.spacing, topo)
    n = topo.n_stages
    feats = features(n, 3)
    blocks = BLOCKS_PER_STAGE[:n]
    reasons.append(f"features per stage {list(feats)} (min(32 * 2^s, 320)); residual blocks {list(blocks)}")

    # 5. batch size
    raw_bs = round(reference / estimate(topo) * chosen.reference_batch_3d)
    cap = round(dataset_voxels * chosen.max_dataset_covered / math.prod(topo.patch_size))
    batch = max(min(raw_bs, cap), MIN_BATCH_SIZE)
    reasons.append(
        f"batch size {batch}: round(budget / estimate x {chosen.reference_batch_3d}) = {raw_bs}; dataset cap "
        f"round({dataset_voxels:,.0f} voxels x {chosen.max_dataset_covered:g} / {math.prod(topo.patch_size):,}) = {cap}; "
        f"at least {MIN_BATCH_SIZE}"
    )
    return Plan(
        preset=chosen.name,
        spacing=target.spacing,
        median_shape=median_shape,
        patch_size=topo.patch_size,
        strides=topo.strides,
        kernel_sizes=topo.kernel_sizes,
        features=feats,
        blocks=tuple(blocks),
        batch_size=batch,
        feature_map_size=estimate(topo),
        reference=reference,
        gpu_memory_gb=gpu,
        num_classes=classes,
        in_channels=channels,
        num_cases=fingerprint.num_cases,
        dataset=fingerprint.dataset,
        root=fingerprint.root,
        reasons=tuple(reasons),
        modalities=fingerprint.modalities,
        intensity=fingerprint.intensity,
        assumed=tuple(assumed),
    )
