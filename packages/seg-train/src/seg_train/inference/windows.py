"""Window geometry for sliding-window inference: sizes, padding, starts and blending weights.

Everything here follows MONAI's ``sliding_window_inference`` to the last detail (its scan interval
truncates in float64, the last window is pulled back, the Gaussian is the closed form with an
absolute 1e-3 floor), so the results agree with MONAI's.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from seg_core.errors import ConfigError

__all__ = ["CellGrid", "WindowPlan", "importance_map", "plan_windows", "window_starts"]


def _per_axis(value: Any, n: int, name: str) -> tuple[Any, ...]:
    if value is None or isinstance(value, (int, float)):
        return (value,) * n
    values = tuple(value)
    if len(values) != n:
        raise ConfigError(f"{name} has {len(values)} values but the input has {n} spatial axes; give one per axis")
    return values


def window_starts(size: int, window: int, overlap: float) -> list[int]:
    """The starts of the windows along one axis of ``size`` (already padded to at least ``window``).

    Example:
        >>> window_starts(110, 64, 0.5)
        [0, 32, 46]
    """
    interval = window if window == size else int(window * (1 - overlap)) or 1
    count = 1 + max(0, math.ceil((size - window) / interval))
    return [k * interval - max(k * interval + window - size, 0) for k in range(count)]


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows go on one (padded) image.

    Attributes:
        image_size: The spatial size of the input.
        window_size: The window's spatial size.
        padded_size: The size after padding (at least the window on each axis).
        padding: ``(before, after)`` per axis.
        starts: Per axis, the window starts.
    """

    image_size: tuple[int, ...]
    window_size: tuple[int, ...]
    padded_size: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    starts: tuple[tuple[int, ...], ...]

    def windows(self) -> list[tuple[slice, ...]]:
        """Every window's spatial slices, first axis slowest (C order, as MONAI enumerates them)."""
        return [
            tuple(slice(s, s + w) for s, w in zip(corner, self.window_size))
            for corner in itertools.product(*self.starts)
        ]

    @property
    def count(self) -> int:
        """The number of windows per image."""
        return math.prod(len(s) for s in self.starts)

    def pad_arguments(self) -> list[int]:
        """The padding as ``torch.nn.functional.pad`` takes it (last axis first)."""
        return [p for before, after in reversed(self.padding) for p in (before, after)]

    def crop(self) -> tuple[slice, ...]:
        """The spatial slices that remove the padding from a padded-size output."""
        return tuple(slice(before, before + size) for (before, _), size in zip(self.padding, self.image_size))


@dataclass(frozen=True)
class CellGrid:
    """The cells cut by every window start and end: what ``output="labels"`` accumulates and frees.

    Along each axis the window starts and ends are the cell edges, so every window covers whole
    cells, and a cell is final (its labels can be computed and its memory freed) once every window
    that covers it has run.

    Attributes:
        edges: Per axis, the sorted window starts and ends (from 0 to the padded size).
        cover: Per axis, for each cell, how many window starts cover it.

    Example:
        >>> grid = CellGrid.of(plan_windows((192,), 96, 0.5))
        >>> grid.edges, grid.cover
        (((0, 48, 96, 144, 192),), ((1, 2, 2, 1),))
    """

    edges: tuple[tuple[int, ...], ...]
    cover: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, plan: WindowPlan) -> CellGrid:
        """The grid of ``plan``'s windows."""
        edges = tuple(
            tuple(sorted({e for s in starts for e in (s, s + size)}))
            for starts, size in zip(plan.starts, plan.window_size)
        )
        cover = tuple(
            tuple(sum(s <= lo and hi <= s + size for s in starts) for lo, hi in itertools.pairwise(axis))
            for axis, starts, size in zip(edges, plan.starts, plan.window_size)
        )
        return cls(edges, cover)

    def cells(self, window: Sequence[slice]) -> list[tuple[int, ...]]:
        """The cells a window covers (C order)."""
        ranges = [range(axis.index(w.start), axis.index(w.stop)) for axis, w in zip(self.edges, window)]
        return list(itertools.product(*ranges))

    def bounds(self, cell: Sequence[int]) -> tuple[slice, ...]:
        """A cell's spatial slices in the padded image."""
        return tuple(slice(axis[c], axis[c + 1]) for axis, c in zip(self.edges, cell))

    def windows_covering(self, cell: Sequence[int]) -> int:
        """How many windows cover a cell."""
        return math.prod(axis[c] for axis, c in zip(self.cover, cell))

    def peak_live(self, windows: Sequence[Sequence[slice]]) -> int:
        """The most positions held at once when ``windows`` run in order and each cell is freed after
        its last window (the streamed accumulator's peak, in positions; times ``K·s`` for bytes).

        Example:
            >>> plan = plan_windows((192, 192, 192), 96, 0.5)
            >>> CellGrid.of(plan).peak_live(plan.windows()) / (96 * 192 * 192)  # of one window-deep slab
            0.6875
        """
        remaining: dict[tuple[int, ...], int] = {}
        live: dict[tuple[int, ...], int] = {}
        held = peak = 0
        for window in windows:
            cells = self.cells(window)
            for cell in cells:
                if cell not in live:
                    live[cell] = math.prod(s.stop - s.start for s in self.bounds(cell))
                    remaining[cell] = self.windows_covering(cell)
                    held += live[cell]
            peak = max(peak, held)
            for cell in cells:
                remaining[cell] -= 1
                if remaining[cell] == 0:
                    held -= live.pop(cell)
        return peak


def plan_windows(
    image_size: Sequence[int], window_size: int | Sequence[int | None], overlap: float | Sequence[float]
) -> WindowPlan:
    """Lay out the windows on an image.

    Args:
        image_size: The input's spatial size.
        window_size: One int for every axis, or one per axis; None, 0 or a negative value means the
            whole axis.
        overlap: In [0, 1), one value or one per axis.

    Returns:
        The plan.

    Raises:
        ConfigError: An overlap outside [0, 1), or a per-axis value with the wrong length.

    Example:
        >>> plan_windows((200,), 96, 0.5).starts
        ((0, 48, 96, 104),)
    """
    image = tuple(int(s) for s in image_size)
    n = len(image)
    sizes = _per_axis(window_size, n, "window_size")
    window = tuple(image[d] if (s is None or int(s) <= 0) else int(s) for d, s in enumerate(sizes))
    overlaps = _per_axis(overlap, n, "overlap")
    for o in overlaps:
        if not isinstance(o, (int, float)) or isinstance(o, bool) or not 0 <= o < 1:
            raise ConfigError(f"overlap={overlap!r}: each value must be in [0, 1)")
    padding = tuple(((max(w - i, 0)) // 2, max(w - i, 0) - max(w - i, 0) // 2) for i, w in zip(image, window))
    padded = tuple(max(i, w) for i, w in zip(image, window))
    starts = tuple(tuple(window_starts(p, w, float(o))) for p, w, o in zip(padded, window, overlaps))
    return WindowPlan(image, window, padded, padding, starts)


def importance_map(
    window_size: Sequence[int],
    mode: str = "constant",
    sigma_scale: float | Sequence[float] = 0.125,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The blending weight of each position of a window.

    ``"constant"``: ones. ``"gaussian"``: the product over axes of ``exp(-x^2 / (2 sigma^2))`` with
    ``x`` the distance to the window's centre and ``sigma = sigma_scale * size``, not normalised,
    with every value below 1e-3 raised to 1e-3 (MONAI's closed form, since MONAI 1.1).

    Raises:
        ConfigError: Another mode, or a non-positive ``sigma_scale``.

    Example:
        >>> importance_map((5,), "gaussian").round(decimals=4)
        tensor([0.0060, 0.2780, 1.0000, 0.2780, 0.0060])
    """
    if mode not in ("constant", "gaussian"):
        raise ConfigError(f"mode={mode!r}; accepted: 'constant', 'gaussian'")
    if mode == "constant":
        return torch.ones(tuple(window_size), device=device, dtype=dtype)
    scales = _per_axis(sigma_scale, len(window_size), "sigma_scale")
    if any(not isinstance(s, (int, float)) or s <= 0 for s in scales):
        raise ConfigError(f"sigma_scale={sigma_scale!r} must be > 0")
    weights = torch.ones((), device=device, dtype=torch.float32)
    for axis, (size, scale) in enumerate(zip(window_size, scales)):
        sigma = float(scale) * size
        x = torch.arange(size, device=device, dtype=torch.float32) - (size - 1) / 2
        profile = torch.exp(x**2 / (-2 * sigma**2))
        shape = [1] * len(window_size)
        shape[axis] = size
        weights = weights * profile.reshape(shape)
    floor = max(float(weights.min()), 1e-3)
    return weights.clamp(min=floor).to(dtype)
