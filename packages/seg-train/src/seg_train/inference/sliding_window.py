"""N-d sliding-window inference with Gaussian blending, batched windows, and memory bounded by the output.

``output="logits"`` and ``"probabilities"`` keep a classes x volume accumulator, as MONAI does (and
give MONAI's numbers). ``output="labels"`` streams the argmax: windows are processed row by row along
the first spatial axis into a slab one window thick, and each part of the slab is reduced to labels
and freed as soon as no later window touches it. See ``docs/train/inference.md`` for the memory
formulas.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from seg_core.errors import ConfigError, InputShapeError
from seg_train.inference.windows import CellGrid, WindowPlan, importance_map, plan_windows

__all__ = ["OUTPUTS", "PADDING_MODES", "select_output", "sliding_window_inference"]

#: What `sliding_window_inference` can return.
OUTPUTS = ("logits", "probabilities", "labels")
#: How an image smaller than the window is padded.
PADDING_MODES = ("constant", "reflect", "replicate", "circular")


def select_output(result: Any, key: str | int | None = None) -> torch.Tensor:
    """The tensor to keep from a model's result: a tensor, a tuple/list (``key``: an index, default 0)
    or a dict (``key``: a key, default ``"out"``, else the only key).

    Raises:
        ConfigError: ``key`` is not in the result, or a dict has several keys and none was chosen.
    """
    if isinstance(result, torch.Tensor):
        return result
    if isinstance(result, Mapping):
        if key is None:
            if "out" in result:
                return result["out"]
            if len(result) == 1:
                return next(iter(result.values()))
            raise ConfigError(f"the model returns a dict with keys {sorted(result)}; pass output_key= to pick one")
        if key not in result:
            raise ConfigError(f"output_key={key!r} is not among the model's outputs {sorted(result)}")
        return result[key]
    if isinstance(result, (tuple, list)):
        index = 0 if key is None else key
        if not isinstance(index, int) or not -len(result) <= index < len(result):
            raise ConfigError(f"output_key={key!r}: the model returns {len(result)} outputs; pick an index")
        return result[index]
    raise ConfigError(f"the model returned a {type(result).__name__}; expected a tensor, a tuple or a dict")


def _index(*parts: Any) -> Any:
    """A subscript tuple (``tensor[_index(b, slice(None), *window)]``)."""
    return parts


def _activate_(logits: torch.Tensor, activation: str) -> torch.Tensor:
    """Softmax over the class axis or sigmoid, in place (no second accumulator; the temporaries are
    one class wide)."""
    if activation == "sigmoid":
        return logits.sigmoid_()
    logits.sub_(logits.amax(1, keepdim=True)).exp_()
    return logits.div_(logits.sum(1, keepdim=True))


def _labels(scores: torch.Tensor, activation: str) -> torch.Tensor:
    """Sigmoid: ``logit > 0`` per class (B, K, ...); softmax: the argmax (B, ...); one softmax channel: ``> 0``."""
    if activation == "sigmoid":
        return (scores > 0).to(torch.uint8)
    if scores.shape[1] == 1:
        return (scores[:, 0] > 0).to(torch.uint8)
    indices = scores.max(1).indices  # the first maximum, as argmax, and several times faster on CPU
    return indices if scores.shape[1] > 256 else indices.to(torch.uint8)


def sliding_window_inference(
    inputs: torch.Tensor,
    model: Callable[..., Any],
    window_size: int | Sequence[int | None],
    *,
    overlap: float | Sequence[float] = 0.25,
    mode: str = "constant",
    sigma_scale: float | Sequence[float] = 0.125,
    padding_mode: str = "constant",
    padding_value: float = 0.0,
    batch_size: int = 1,
    device: torch.device | str | None = None,
    window_device: torch.device | str | None = None,
    output: str = "logits",
    output_key: str | int | None = None,
    activation: str = "softmax",
    dtype: torch.dtype | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Run ``model`` over overlapping windows of ``inputs`` and blend the results.

    One implementation for 1D, 2D and 3D (any number of spatial axes). For ``output="logits"`` the
    result equals MONAI's ``sliding_window_inference`` with the same window, overlap, mode and sigma
    (and a full-image forward when one window covers the image).

    Args:
        inputs: ``(B, C, *spatial)``, floating point.
        model: Called on ``(n, C, *window_size)`` batches of windows; returns logits
            ``(n, K, *window_size)``, or a tuple / dict of them (see ``output_key``).
        window_size: The window; one int for every axis or one per axis (None or <= 0: the whole axis).
        overlap: Fraction of a window shared with its neighbour, in [0, 1); one value or one per axis.
        mode: ``"constant"`` (plain mean of overlapping windows) or ``"gaussian"`` (centre-weighted).
        sigma_scale: Gaussian ``sigma = sigma_scale * window size``, per axis or one value.
        padding_mode: How an image smaller than the window is padded: ``"constant"``, ``"reflect"``,
            ``"replicate"`` or ``"circular"``.
        padding_value: The value for ``"constant"`` padding.
        batch_size: Windows per model call (the result does not depend on it).
        device: Where the result accumulates (default: the input's device), e.g. ``"cpu"``.
        window_device: Where the windows run (default: ``device``), e.g. ``"cuda"`` with
            ``device="cpu"`` for a volume that does not fit on the GPU.
        output: ``"logits"`` (the blended logits), ``"probabilities"`` (their softmax or sigmoid), or
            ``"labels"`` (their argmax, streamed: memory for the labels plus one slab).
        output_key: Which output of a model returning a tuple (index) or a dict (key) to keep.
        activation: ``"softmax"`` (classes exclude each other) or ``"sigmoid"`` (multilabel / binary):
            for ``"probabilities"`` and ``"labels"`` (sigmoid labels are ``logit > 0``, per class).
        dtype: The accumulator's dtype (default: the input's; fp16 / bf16 halve the memory on a GPU).
        progress: Show a progress bar over the window batches.

    Returns:
        ``(B, K, *spatial)`` logits or probabilities in ``dtype``; labels ``(B, *spatial)`` (uint8 up
        to 256 classes, else int64), or ``(B, K, *spatial)`` with ``activation="sigmoid"``.

    Raises:
        InputShapeError: ``inputs`` is not ``(B, C, *spatial)`` or not floating point.
        ConfigError: A bad argument (named, with the accepted values).

    Example:
        >>> import torch
        >>> model = torch.nn.Conv3d(1, 3, 3, padding=1)
        >>> volume = torch.randn(1, 1, 40, 40, 40)
        >>> with torch.no_grad():
        ...     labels = sliding_window_inference(volume, model, 32, overlap=0.5, mode="gaussian", output="labels")
        >>> labels.shape
        torch.Size([1, 40, 40, 40])
    """
    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 3:
        raise InputShapeError(
            f"sliding_window_inference takes (B, C, *spatial) inputs; got "
            f"{tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__}"
        )
    if not inputs.is_floating_point():
        raise InputShapeError(
            f"sliding_window_inference takes floating-point inputs; got {inputs.dtype} (use .float())"
        )
    if output not in OUTPUTS:
        raise ConfigError(f"output={output!r}; accepted: {', '.join(map(repr, OUTPUTS))}")
    if activation not in ("softmax", "sigmoid"):
        raise ConfigError(f"activation={activation!r}; accepted: 'softmax', 'sigmoid'")
    if padding_mode not in PADDING_MODES:
        raise ConfigError(f"padding_mode={padding_mode!r}; accepted: {', '.join(map(repr, PADDING_MODES))}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r} must be an int >= 1")
    device = torch.device(device) if device is not None else inputs.device
    window_device = torch.device(window_device) if window_device is not None else device
    dtype = dtype or inputs.dtype
    plan = plan_windows(inputs.shape[2:], window_size, overlap)
    weights = importance_map(plan.window_size, mode, sigma_scale, device=window_device, dtype=dtype)
    if padding_mode in ("reflect", "circular"):
        for axis, ((before, after), size, window) in enumerate(zip(plan.padding, plan.image_size, plan.window_size)):
            limit = size - 1 if padding_mode == "reflect" else size
            if max(before, after) > limit:
                largest = size + 2 * limit
                raise ConfigError(
                    f"window_size {window} on spatial axis {axis} is larger than the image ({size}) by more than "
                    f"{padding_mode!r} padding can fill (at most {largest}); use a window <= {largest}, or "
                    "padding_mode='constant' or 'replicate'"
                )
    padded = inputs
    if any(p for pair in plan.padding for p in pair):
        kwargs = {"value": padding_value} if padding_mode == "constant" else {}
        padded = F.pad(inputs, plan.pad_arguments(), mode=padding_mode, **kwargs)

    def run(batch: torch.Tensor) -> torch.Tensor:
        result = select_output(model(batch.to(window_device)), output_key)
        if tuple(result.shape[2:]) != plan.window_size or result.shape[0] != batch.shape[0]:
            raise InputShapeError(
                f"the model returned shape {tuple(result.shape)} for windows of shape {tuple(batch.shape)}; "
                "sliding_window_inference needs outputs of the window's size (N, K, *window_size)"
            )
        return result

    with torch.no_grad():
        if output == "labels":
            return _streamed_labels(padded, plan, run, weights, batch_size, device, dtype, activation, progress)
        blended = _blended(padded, plan, run, weights, batch_size, device, dtype, progress)
        blended = blended[_index(slice(None), slice(None), *plan.crop())]
        return _activate_(blended, activation) if output == "probabilities" else blended


def _bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="windows", unit="window", leave=False)


def _weighted(result: torch.Tensor, weights: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """The window outputs times the importance map, in place when the model's output allows it."""
    result = result.to(dtype)
    if result.is_contiguous() and not result.requires_grad:
        result.mul_(weights)
    else:
        result = result * weights
    return result.to(device)


def _blended(
    padded: torch.Tensor,
    plan: WindowPlan,
    run: Callable[[torch.Tensor], torch.Tensor],
    weights: torch.Tensor,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    progress: bool,
) -> torch.Tensor:
    """MONAI's order: windows of image 0, then image 1...; batches may span images.

    The weighting and the final division are in place, and each batch's outputs are released
    before the next model call, so the peak is the accumulator, the count map, one batch of window
    outputs and the model's activations.
    """
    windows = plan.windows()
    jobs = [(b, w) for b in range(padded.shape[0]) for w in windows]
    total: torch.Tensor | None = None
    count = torch.zeros((1, 1, *plan.padded_size), device=device, dtype=dtype)
    placed = weights.to(device)
    for w in windows:
        count[_index(slice(None), slice(None), *w)] += placed
    del placed
    with _bar(len(jobs), progress) as bar:
        for first in range(0, len(jobs), batch_size):
            chunk = jobs[first : first + batch_size]
            batch = torch.cat([padded[_index(slice(b, b + 1), slice(None), *w)] for b, w in chunk])
            result = _weighted(run(batch), weights, dtype, device)
            del batch
            if total is None:
                total = torch.zeros((padded.shape[0], result.shape[1], *plan.padded_size), device=device, dtype=dtype)
            for i, (b, w) in enumerate(chunk):
                total[_index(slice(b, b + 1), slice(None), *w)] += result[i : i + 1]
            del result
            if bar is not None:
                bar.update(len(chunk))
    assert total is not None
    return total.div_(count)


def _streamed_labels(
    padded: torch.Tensor,
    plan: WindowPlan,
    run: Callable[[torch.Tensor], torch.Tensor],
    weights: torch.Tensor,
    batch_size: int,
    device: torch.device,
    dtype: torch.dtype,
    activation: str,
    progress: bool,
) -> torch.Tensor:
    """Argmax of the blended logits, accumulated cell by cell (`CellGrid`) and finalized early.

    Every window start and end cuts the padded image into cells. A cell's accumulator is allocated
    when the first window reaches it, and reduced to labels and freed after the last window that
    covers it: in C order that holds at most one window-deep slab, usually much less. The blending
    weights are the same for every class of a position, so the argmax of the weighted sum is the
    argmax of the weighted mean: no count map is needed.
    """
    grid = CellGrid.of(plan)
    crop = plan.crop()
    windows = plan.windows()
    jobs = [(b, w) for b in range(padded.shape[0]) for w in windows]
    live: dict[tuple[int, ...], torch.Tensor] = {}
    remaining: dict[tuple[int, ...], int] = {}
    labels: torch.Tensor | None = None
    with _bar(len(jobs), progress) as bar:
        for first in range(0, len(jobs), batch_size):
            chunk = jobs[first : first + batch_size]
            batch = torch.cat([padded[_index(slice(b, b + 1), slice(None), *w)] for b, w in chunk])
            result = _weighted(run(batch), weights, dtype, device)
            del batch
            for i, (b, w) in enumerate(chunk):
                for cell in grid.cells(w):
                    key = (b, *cell)
                    bounds = grid.bounds(cell)
                    local = tuple(slice(c.start - s.start, c.stop - s.start) for c, s in zip(bounds, w))
                    part = result[_index(slice(i, i + 1), slice(None), *local)]
                    if key in live:
                        live[key] += part
                    else:
                        live[key] = part.clone()
                        remaining[key] = grid.windows_covering(cell)
                    remaining[key] -= 1
                    if remaining[key] == 0:
                        del remaining[key]
                        labels = _finalize(labels, live.pop(key), b, bounds, crop, activation, padded.shape[0])
                    del part  # a view: it would keep the batch's outputs alive through the next model call
            del result
            if bar is not None:
                bar.update(len(chunk))
    assert labels is not None and not live
    return labels


def _finalize(
    labels: torch.Tensor | None,
    cell: torch.Tensor,
    b: int,
    bounds: tuple[slice, ...],
    crop: tuple[slice, ...],
    activation: str,
    batch: int,
) -> torch.Tensor:
    """Reduce a finished cell (padded coordinates ``bounds``) to labels, into the output (image coordinates)."""
    reduced = _labels(cell, activation)  # (1, *cell) or (1, K, *cell)
    channels = tuple(reduced.shape[1 : -len(crop)]) if reduced.ndim == len(crop) + 2 else ()
    if labels is None:
        sizes = [s.stop - s.start for s in crop]
        labels = torch.zeros((batch, *channels, *sizes), dtype=reduced.dtype, device=reduced.device)
    source, target = [], []
    for c, keep in zip(bounds, crop):
        lo, hi = max(c.start, keep.start), min(c.stop, keep.stop)
        if lo >= hi:
            return labels  # the cell lies in the padding
        source.append(slice(lo - c.start, hi - c.start))
        target.append(slice(lo - keep.start, hi - keep.start))
    lead = [slice(None)] * len(channels)
    labels[_index(b, *lead, *target)] = reduced[_index(0, *lead, *source)]
    return labels
