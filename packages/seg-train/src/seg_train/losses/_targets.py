"""One place that checks a (prediction, target) pair and lays it out as (N, C, P) for a mode.

Every loss goes through `prepare`, so each has the same shape rules, the same refusal of
out-of-range labels (a 255 that is not ``ignore_index`` is an error, never silently a class or
silently ignored), and the same ignore mask. Spatial dimensions are flattened, so a 5D (3D) input
gives exactly the result of the same pixels laid out in 4D.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from seg_core.errors import InputShapeError
from seg_train.losses.base import BINARY, MULTICLASS

__all__ = ["Prepared", "activate", "prepare"]


@dataclass(frozen=True)
class Prepared:
    """A checked pair, flattened to (N, C, P) with P the number of pixels (voxels) per image.

    Attributes:
        pred: The prediction as given (logits or probabilities), (N, C, P).
        target: Float targets in [0, 1] (one-hot for multiclass), zero where ignored, (N, C, P).
        valid: Where the target counts: (N, 1, P) for binary and multiclass, (N, C, P) for multilabel.
        labels: Multiclass only: the class indices (N, P), 0 where ignored.
    """

    pred: torch.Tensor
    target: torch.Tensor
    valid: torch.Tensor
    labels: torch.Tensor | None = None


def prepare(owner: str, pred: torch.Tensor, target: torch.Tensor, mode: str, ignore_index: int | None) -> Prepared:
    """Check ``pred`` and ``target`` for ``mode`` and flatten them.

    Args:
        owner: The loss's class name, for messages.
        pred: (N, C, *spatial) logits or probabilities; C is 1 for binary.
        target: (N, *spatial) class indices (multiclass), (N, *spatial) or (N, 1, *spatial) in [0, 1]
            (binary), (N, C, *spatial) in [0, 1] (multilabel); ``ignore_index`` anywhere.
        mode: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        ignore_index: Target value that marks pixels not to count, or None.

    Returns:
        The flattened, checked pair.

    Raises:
        InputShapeError: Shapes that do not fit the mode, with the shape that would.
        ValueError: Target values that are neither a valid label nor ``ignore_index``.
    """
    if not isinstance(pred, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError(
            f"{owner} takes tensors (prediction, target); got {type(pred).__name__}, {type(target).__name__}"
        )
    if pred.ndim < 3:
        raise InputShapeError(
            f"{owner}: the prediction must be (N, C, *spatial), e.g. (N, C, H, W) or (N, C, D, H, W); got shape "
            f"{tuple(pred.shape)}" + (" (add the channel dimension: pred.unsqueeze(1))" if mode == BINARY else "")
        )
    if not pred.is_floating_point():
        raise TypeError(f"{owner}: the prediction must be floating point (logits or probabilities); got {pred.dtype}")
    n, c = pred.shape[:2]
    spatial = tuple(pred.shape[2:])
    if mode == MULTICLASS:
        return _multiclass(owner, pred, target, ignore_index, n, c, spatial)
    if mode == BINARY:
        if c != 1:
            raise InputShapeError(
                f"{owner}: mode='binary' takes a prediction with 1 channel, (N, 1, *spatial); got {c} channels "
                f"(shape {tuple(pred.shape)}). For {c} classes use mode='multiclass' or 'multilabel'"
                + (
                    "; if it is (N, H, W) without a channel, add one: pred.unsqueeze(1)"
                    if tuple(target.shape) == tuple(pred.shape)
                    else ""
                )
            )
        if tuple(target.shape) == (n, *spatial):
            target = target.unsqueeze(1)
    expected = (n, c, *spatial)
    if tuple(target.shape) != expected:
        accepted = f"{expected} or {(n, *spatial)}" if mode == BINARY else f"{expected}"
        raise InputShapeError(
            f"{owner}: mode={mode!r} needs a target of shape {accepted} for a prediction of shape "
            f"{tuple(pred.shape)}; got {tuple(target.shape)}"
        )
    flat_target = target.reshape(n, c, -1)
    valid = flat_target != ignore_index if ignore_index is not None else torch.ones_like(flat_target, dtype=torch.bool)
    kept = flat_target[valid]
    if kept.numel() and (kept.min() < 0 or kept.max() > 1):
        bad = kept[(kept < 0) | (kept > 1)][0].item()
        raise ValueError(
            f"{owner}: mode={mode!r} takes target values in [0, 1]"
            + ("" if ignore_index is None else f" or ignore_index={ignore_index}")
            + f"; found {bad}"
            + ("" if ignore_index is not None else ". If that value marks pixels to ignore, pass ignore_index")
        )
    clean = torch.where(valid, flat_target, torch.zeros((), dtype=flat_target.dtype, device=flat_target.device))
    return Prepared(pred.reshape(n, c, -1), clean.to(pred.dtype), valid)


def _multiclass(
    owner: str,
    pred: torch.Tensor,
    target: torch.Tensor,
    ignore_index: int | None,
    n: int,
    c: int,
    spatial: tuple[int, ...],
) -> Prepared:
    if tuple(target.shape) != (n, *spatial):
        hint = ""
        if tuple(target.shape) == (n, 1, *spatial):
            hint = " (squeeze the channel dimension: target[:, 0])"
        elif tuple(target.shape) == (n, c, *spatial):
            hint = " (that is a one-hot or multilabel target: use target.argmax(1), or mode='multilabel')"
        raise InputShapeError(
            f"{owner}: mode='multiclass' needs a target of class indices of shape {(n, *spatial)} for a prediction "
            f"of shape {tuple(pred.shape)}; got {tuple(target.shape)}{hint}"
        )
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(
            f"{owner}: mode='multiclass' needs integer class indices (torch.long); got {target.dtype}. "
            "Convert with target.long() if the values are whole numbers"
        )
    labels = target.reshape(n, -1).long()
    valid = labels != ignore_index if ignore_index is not None else torch.ones_like(labels, dtype=torch.bool)
    kept = labels[valid]
    if kept.numel() and (kept.min() < 0 or kept.max() >= c):
        bad = kept[(kept < 0) | (kept >= c)][0].item()
        raise ValueError(
            f"{owner}: target value {bad} is not a class of a prediction with {c} channels (0..{c - 1})"
            + (
                f" nor ignore_index={ignore_index}"
                if ignore_index is not None
                else ". If it marks pixels to ignore, pass ignore_index"
            )
        )
    labels = torch.where(valid, labels, torch.zeros((), dtype=labels.dtype, device=labels.device))
    one_hot = F.one_hot(labels, c).permute(0, 2, 1).to(pred.dtype) * valid.unsqueeze(1)
    return Prepared(pred.reshape(n, c, -1), one_hot, valid.unsqueeze(1), labels)


def activate(pred: torch.Tensor, mode: str, from_logits: bool) -> torch.Tensor:
    """Probabilities from ``pred``: softmax over classes (multiclass) or sigmoid, if ``from_logits``."""
    if not from_logits:
        return pred
    if mode == MULTICLASS:
        return pred.log_softmax(dim=1).exp()
    return F.logsigmoid(pred).exp()
