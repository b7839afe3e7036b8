"""The target spacing: the median spacing, with nnU-Net's rule for very anisotropic datasets.

Follows nnU-Net v2's ``ExperimentPlanner.determine_fullres_target_spacing``
(``nnunetv2/experiment_planning/experiment_planners/default_experiment_planner.py``, with
``ANISO_THRESHOLD = 3`` from ``nnunetv2/configuration.py``):

1. target = the per-axis median (50th percentile, linear) of the case spacings; the median size
   is the per-axis median of the case shapes.
2. worst = the axis with the largest target spacing (the first one on ties).
3. If target[worst] > 3 x the largest other target spacing (strict) **and** median size[worst] x 3
   < the smallest other median size (strict), the worst axis takes the 10th percentile of its case
   spacings instead, but never less than the largest other target spacing (then that + 1e-5).

The median alone would resample the thin-slice cases of a mostly thick-slice dataset (nnU-Net's
source names ACDC, 10 x 1.5 x 1.5 mm with some 5 mm cases) with heavy interpolation artefacts.

Example:
    >>> target_spacing([(10, 1.5625, 1.5625)] * 8 + [(5, 1.5625, 1.5625)] * 2, [(9, 256, 216)] * 10).spacing
    (5.0, 1.5625, 1.5625)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seg_3d.plan._stats import median, percentile
from seg_core.errors import ConfigError

__all__ = ["ANISO_THRESHOLD", "ANISO_TIE_MARGIN", "TargetSpacing", "resampled_shapes", "target_spacing"]

#: nnU-Net's ``ANISO_THRESHOLD``: an axis is anisotropic when it is more than 3x coarser than the others.
ANISO_THRESHOLD = 3
#: Added to the largest other spacing when the 10th percentile falls below it (nnU-Net's ``+ 1e-5``).
ANISO_TIE_MARGIN = 1e-5


@dataclass(frozen=True)
class TargetSpacing:
    """The chosen spacing and why.

    Attributes:
        spacing: The target spacing per axis (mm).
        median: The per-axis median spacing.
        median_size: The per-axis median of the case shapes (before resampling).
        worst_axis: The axis with the largest median spacing.
        anisotropic: Whether the 10th-percentile rule replaced the median on ``worst_axis``.
        reasons: One human-readable line per decision.
    """

    spacing: tuple[float, ...]
    median: tuple[float, ...]
    median_size: tuple[float, ...]
    worst_axis: int
    anisotropic: bool
    reasons: tuple[str, ...]


def _fmt(values: Sequence[float]) -> str:
    return " x ".join(f"{v:g}" for v in values)


def target_spacing(
    spacings: Sequence[Sequence[float]],
    shapes: Sequence[Sequence[int]],
    *,
    override: Sequence[float] | None = None,
) -> TargetSpacing:
    """nnU-Net's full-resolution target spacing (see the module docstring for the rule).

    Args:
        spacings: One spacing per case (per axis, mm).
        shapes: One shape per case (voxels), same axis order.
        override: Use this spacing instead (nnU-Net's ``-overwrite_target_spacing``).

    Returns:
        The `TargetSpacing`.

    Raises:
        ConfigError: No cases, or an ``override`` with the wrong number of axes or a value <= 0.

    Example:
        >>> target_spacing([(1.0, 1.0, 1.0), (1.2, 0.8, 0.8)], [(100, 100, 100)] * 2).spacing
        (1.1, 0.9, 0.9)
    """
    if not spacings or len(spacings) != len(shapes):
        raise ConfigError("target_spacing needs one spacing and one shape per case (at least one case)")
    dims = len(spacings[0])
    med = tuple(median([s[d] for s in spacings]) for d in range(dims))
    med_size = tuple(median([s[d] for s in shapes]) for d in range(dims))
    worst = max(range(dims), key=lambda d: (med[d], -d))  # argmax, the first axis on ties
    if override is not None:
        values = tuple(float(v) for v in override)
        if len(values) != dims or any(v <= 0 for v in values):
            raise ConfigError(f"target spacing override {list(override)!r} must be {dims} numbers > 0 (mm)")
        return TargetSpacing(
            values, med, med_size, worst, False, (f"target spacing {_fmt(values)} mm: given (override)",)
        )
    reasons = [f"median spacing {_fmt(med)} mm over {len(spacings)} case(s); median size {_fmt(med_size)} voxels"]
    if dims < 2:
        return TargetSpacing(med, med, med_size, worst, False, (*reasons, "target spacing = the median spacing"))
    others = [d for d in range(dims) if d != worst]
    max_other = max(med[d] for d in others)
    min_other_size = min(med_size[d] for d in others)
    aniso_spacing = med[worst] > ANISO_THRESHOLD * max_other
    aniso_voxels = med_size[worst] * ANISO_THRESHOLD < min_other_size
    if not (aniso_spacing and aniso_voxels):
        why = (
            f"axis {worst} is not more than {ANISO_THRESHOLD}x coarser ({med[worst]:g} <= {ANISO_THRESHOLD} x {max_other:g})"
            if not aniso_spacing
            else f"axis {worst} is coarse but not short ({med_size[worst]:g} x {ANISO_THRESHOLD} >= {min_other_size:g} voxels)"
        )
        reasons.append(f"target spacing = the median spacing {_fmt(med)} mm: {why}")
        return TargetSpacing(med, med, med_size, worst, False, tuple(reasons))
    tenth = percentile([s[worst] for s in spacings], 10)
    chosen = tenth
    if tenth < max_other:
        chosen = max(max_other, tenth) + ANISO_TIE_MARGIN
    target = tuple(chosen if d == worst else med[d] for d in range(dims))
    reasons.append(
        f"axis {worst} is anisotropic ({med[worst]:g} > {ANISO_THRESHOLD} x {max_other:g} mm and "
        f"{med_size[worst]:g} x {ANISO_THRESHOLD} < {min_other_size:g} voxels): its target is the 10th percentile "
        f"of its spacings, {tenth:g} mm"
        + (f", raised to the finest other axis {max_other:g} + {ANISO_TIE_MARGIN:g} mm" if chosen != tenth else "")
        + " (nnU-Net: the median would interpolate the thinner-slice cases heavily)"
    )
    reasons.append(f"target spacing {_fmt(target)} mm")
    return TargetSpacing(target, med, med_size, worst, True, tuple(reasons))


def resampled_shapes(
    spacings: Sequence[Sequence[float]], shapes: Sequence[Sequence[int]], target: Sequence[float]
) -> list[tuple[int, ...]]:
    """Each case's shape after resampling to ``target``: ``round(spacing / target * shape)`` (nnU-Net's ``compute_new_shape``).

    Example:
        >>> resampled_shapes([(2.0, 1.0)], [(10, 100)], (1.0, 1.0))
        [(20, 100)]
    """
    return [
        tuple(round(sp / t * n) for sp, t, n in zip(spacing, target, shape)) for spacing, shape in zip(spacings, shapes)
    ]
