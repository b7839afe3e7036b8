"""Percentiles on plain numbers, with numpy's default (``linear``) interpolation.

The planner works on lists of floats, so it needs no numpy; these match ``np.percentile(x, q)``
and ``np.median(x)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["median", "percentile"]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile with linear interpolation between the closest ranks (numpy's default).

    Args:
        values: At least one number.
        q: The percentile, 0..100.

    Returns:
        ``sorted(values)[h]`` interpolated at ``h = (n - 1) * q / 100``.

    Example:
        >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
        2.5
        >>> percentile([5.0] * 40 + [10.0] * 160, 10)
        5.0
    """
    ordered = sorted(float(v) for v in values)
    if not ordered:
        raise ValueError("percentile of an empty sequence")
    h = (len(ordered) - 1) * q / 100.0
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def median(values: Sequence[float]) -> float:
    """The 50th percentile (`percentile`).

    Example:
        >>> median([3, 1, 2])
        2.0
    """
    return percentile(values, 50)
