"""Region losses: Dice, Jaccard, Tversky, generalised Dice and MCC.

They score overlap per class from soft counts over the batch and the pixels (voxels)::

    TP_c = (sum p + sum t - sum |p - t|) / 2      (soft-label safe; = sum p*t for hard labels)
    FP_c = sum p - TP_c,   FN_c = sum t - TP_c

with ``p`` the probabilities and ``t`` the (one-hot) targets, both zero at ignored pixels, so ignored
pixels are in neither a numerator nor a denominator. Arguments and values follow smp where smp is
right (a class absent from the target contributes 0, and the mean is over all selected classes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from seg_core.errors import ConfigError
from seg_train.losses._checks import (
    as_class_weight,
    check_choice,
    check_ignore_index,
    check_mode,
    check_number,
    check_weight_size,
)
from seg_train.losses._targets import Prepared, activate, prepare
from seg_train.losses.base import BINARY, SegLoss

__all__ = ["DiceLoss", "GeneralizedDiceLoss", "JaccardLoss", "MCCLoss", "TverskyLoss"]


class _RegionLoss(SegLoss):
    """Shared arguments and reductions of the region losses."""

    def __init__(
        self,
        mode: str,
        classes: Sequence[int] | None = None,
        log_loss: bool = False,
        from_logits: bool = True,
        smooth: float = 0.0,
        ignore_index: int | None = None,
        eps: float = 1e-7,
        weight: Sequence[float] | torch.Tensor | None = None,
        class_weights: Sequence[float] | torch.Tensor | None = None,
        per_image: bool = False,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.mode = check_mode(type(self), mode)
        if weight is not None and class_weights is not None:
            raise ConfigError(f"{name}: pass the per-class weights once: weight= (class_weights= is smp's name)")
        weight = class_weights if weight is None else weight
        self.register_buffer("weight", as_class_weight(name, weight), persistent=False)
        if self.weight is not None and self.mode == BINARY:
            raise ConfigError(
                f"{name}: weight is one number per class, and mode='binary' has one class; use mode='multiclass' with "
                "2 channels to weight background and foreground",
            )
        self.classes = _check_classes(name, classes, self.mode)
        self.log_loss = bool(check_choice(name, "log_loss", log_loss, (True, False)))
        self.from_logits = bool(check_choice(name, "from_logits", from_logits, (True, False)))
        self.per_image = bool(check_choice(name, "per_image", per_image, (True, False)))
        self.smooth = check_number(name, "smooth", smooth, low=0.0)
        self.eps = check_number(name, "eps", eps, low=0.0)
        self.ignore_index = check_ignore_index(name, ignore_index)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss, a scalar.

        Args:
            pred: (N, C, *spatial) logits (``from_logits=True``) or probabilities.
            target: See `seg_train.losses` for the shape each mode takes.
        """
        prepared = prepare(type(self).__name__, pred, target, self.mode, self.ignore_index)
        check_weight_size(type(self).__name__, self.weight, prepared.pred.shape[1])
        probs = activate(prepared.pred, self.mode, self.from_logits) * prepared.valid
        per_class = self.class_losses(probs, prepared)  # (C,) or (N, C)
        return self.reduce(per_class)

    def counts(self, probs: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Soft TP, FP, FN per class, summed over pixels (and the batch unless ``per_image``)."""
        dims = (2,) if self.per_image else (0, 2)
        pred_sum = probs.sum(dims)
        target_sum = target.sum(dims)
        difference = (probs - target).abs().sum(dims)
        tp = (pred_sum + target_sum - difference) / 2
        return tp, pred_sum - tp, target_sum - tp

    def class_losses(self, probs: torch.Tensor, prepared: Prepared) -> torch.Tensor:
        """The loss of each class (zero for a class absent from the target)."""
        tp, fp, fn = self.counts(probs, prepared.target)
        score = self.score(tp, fp, fn)
        loss = -torch.log(score.clamp_min(self.eps)) if self.log_loss else 1.0 - score
        present = (tp + fn) > 0
        return loss * present.to(loss.dtype)

    def score(self, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
        """The overlap score from the soft counts."""
        raise NotImplementedError

    def reduce(self, per_class: torch.Tensor) -> torch.Tensor:
        """Select ``classes``, then the (weighted) mean over classes, then over images if ``per_image``."""
        weight = self.weight
        if self.classes is not None:
            index = torch.as_tensor(self.classes, device=per_class.device)
            _check_class_range(type(self).__name__, self.classes, per_class.shape[-1])
            per_class = per_class.index_select(-1, index)
            weight = None if weight is None else weight.to(per_class.device).index_select(0, index)
        if weight is None:
            loss = per_class.mean(-1)
        else:
            weight = weight.to(per_class)
            loss = (per_class * weight).sum(-1) / weight.sum()
        return self.finish(loss.mean() if self.per_image else loss)

    def finish(self, loss: torch.Tensor) -> torch.Tensor:
        """A last transformation of the reduced loss (Tversky's power)."""
        return loss


class DiceLoss(_RegionLoss):
    """Soft Dice loss: ``1 - (2 TP + smooth) / (2 TP + FP + FN + smooth)`` per class.

    smp's ``DiceLoss`` with the same arguments and values, plus ``weight`` (smp's
    ``class_weights``, also accepted) and ``per_image``.

    Args:
        mode: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        classes: Class indices that count (all by default).
        log_loss: ``-log(score)`` instead of ``1 - score``.
        from_logits: The prediction is logits (softmax for multiclass, else sigmoid, is applied).
        smooth: Added to numerator and denominator.
        ignore_index: Target value of pixels that count in no sum.
        eps: Lower bound of the denominator.
        weight: One weight per class; the loss is ``sum w_c L_c / sum w_c``.
        class_weights: smp's name for ``weight``.
        per_image: Score each image separately and average (default: one score per class over the batch).

    Raises:
        ConfigError: An argument outside its accepted values (named in the message).

    Example:
        >>> import torch
        >>> loss = DiceLoss("multiclass", ignore_index=255)
        >>> value = loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)))
    """

    def score(self, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
        """``(2 TP + smooth) / (2 TP + FP + FN + smooth)``."""
        return (2 * tp + self.smooth) / (2 * tp + fp + fn + self.smooth).clamp_min(self.eps)


class JaccardLoss(_RegionLoss):
    """Soft Jaccard (IoU) loss: ``1 - (TP + smooth) / (TP + FP + FN + smooth)`` per class.

    Arguments as `DiceLoss`.

    Example:
        >>> import torch
        >>> loss = JaccardLoss("binary")
        >>> value = loss(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 8, 8)))
    """

    def score(self, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
        """``(TP + smooth) / (TP + FP + FN + smooth)``."""
        return (tp + self.smooth) / (tp + fp + fn + self.smooth).clamp_min(self.eps)


class TverskyLoss(_RegionLoss):
    """Tversky loss: ``(mean_c [1 - (TP + s) / (TP + alpha FP + beta FN + s)]) ** gamma``.

    ``alpha = beta = 0.5`` is Dice, ``alpha = beta = 1`` is Jaccard; ``gamma`` is applied to the
    class mean, as smp does (focal Tversky when ``gamma != 1``).

    Args:
        mode: As `DiceLoss`.
        classes: As `DiceLoss`.
        log_loss: As `DiceLoss`.
        from_logits: As `DiceLoss`.
        smooth: As `DiceLoss`.
        ignore_index: As `DiceLoss`.
        eps: As `DiceLoss`.
        alpha: Weight of false positives (>= 0).
        beta: Weight of false negatives (>= 0).
        gamma: Power of the loss (> 0).
        weight: As `DiceLoss`.
        class_weights: As `DiceLoss`.
        per_image: As `DiceLoss`.

    Example:
        >>> import torch
        >>> loss = TverskyLoss("multilabel", alpha=0.3, beta=0.7)
        >>> value = loss(torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2, 3, 8, 8)).float())
    """

    def __init__(
        self,
        mode: str,
        classes: Sequence[int] | None = None,
        log_loss: bool = False,
        from_logits: bool = True,
        smooth: float = 0.0,
        ignore_index: int | None = None,
        eps: float = 1e-7,
        alpha: float = 0.5,
        beta: float = 0.5,
        gamma: float = 1.0,
        weight: Sequence[float] | torch.Tensor | None = None,
        class_weights: Sequence[float] | torch.Tensor | None = None,
        per_image: bool = False,
    ) -> None:
        super().__init__(
            mode, classes, log_loss, from_logits, smooth, ignore_index, eps, weight, class_weights, per_image
        )
        self.alpha = check_number("TverskyLoss", "alpha", alpha, low=0.0)
        self.beta = check_number("TverskyLoss", "beta", beta, low=0.0)
        self.gamma = check_number("TverskyLoss", "gamma", gamma, low=0.0, low_open=True)

    def score(self, tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
        """``(TP + smooth) / (TP + alpha FP + beta FN + smooth)``."""
        assert self.alpha is not None and self.beta is not None
        return (tp + self.smooth) / (tp + self.alpha * fp + self.beta * fn + self.smooth).clamp_min(self.eps)

    def finish(self, loss: torch.Tensor) -> torch.Tensor:
        """Raise the class mean to ``gamma``."""
        return loss if self.gamma == 1.0 else loss.clamp_min(0) ** self.gamma


class GeneralizedDiceLoss(_RegionLoss):
    """Generalised Dice overlap (Sudre et al. 2017), for highly unbalanced classes.

    ``1 - (2 sum_c w_c TP_c + smooth) / (sum_c w_c (2 TP_c + FP_c + FN_c) + smooth)`` with
    ``w_c = 1 / (sum t_c)^2`` (``weight_type="square"``), ``1 / sum t_c`` (``"simple"``) or 1
    (``"uniform"``). A class absent from the target would get an infinite weight; as in MONAI
    it gets the largest finite weight instead. ``weight`` multiplies ``w_c``.

    Args:
        mode: As `DiceLoss`.
        classes: As `DiceLoss`.
        from_logits: As `DiceLoss`.
        smooth: Added to numerator and denominator.
        ignore_index: As `DiceLoss`.
        eps: Lower bound of the denominator.
        weight: Extra per-class factors on ``w_c``.
        weight_type: ``"square"``, ``"simple"`` or ``"uniform"``.
        per_image: One overlap per image, averaged (MONAI's ``batch=False``); default: one over the batch.

    Example:
        >>> import torch
        >>> loss = GeneralizedDiceLoss("multiclass", ignore_index=255)
        >>> value = loss(torch.randn(2, 4, 8, 8), torch.randint(0, 4, (2, 8, 8)))
    """

    def __init__(
        self,
        mode: str,
        classes: Sequence[int] | None = None,
        from_logits: bool = True,
        smooth: float = 0.0,
        ignore_index: int | None = None,
        eps: float = 1e-7,
        weight: Sequence[float] | torch.Tensor | None = None,
        weight_type: str = "square",
        per_image: bool = False,
    ) -> None:
        super().__init__(mode, classes, False, from_logits, smooth, ignore_index, eps, weight, None, per_image)
        self.weight_type = check_choice(
            "GeneralizedDiceLoss", "weight_type", weight_type, ("square", "simple", "uniform")
        )

    def class_losses(self, probs: torch.Tensor, prepared: Prepared) -> torch.Tensor:
        """Not per class: the generalised overlap pools the classes (see `forward`)."""
        raise NotImplementedError

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss, a scalar (arguments as `DiceLoss.forward`)."""
        prepared = prepare("GeneralizedDiceLoss", pred, target, self.mode, self.ignore_index)
        check_weight_size("GeneralizedDiceLoss", self.weight, prepared.pred.shape[1])
        probs = activate(prepared.pred, self.mode, self.from_logits) * prepared.valid
        tp, fp, fn = self.counts(probs, prepared.target)  # (C,) or (N, C)
        volume = tp + fn
        if self.classes is not None:
            _check_class_range("GeneralizedDiceLoss", self.classes, tp.shape[-1])
            index = torch.as_tensor(self.classes, device=tp.device)
            tp, fp, fn, volume = (x.index_select(-1, index) for x in (tp, fp, fn, volume))
        if self.weight_type == "square":
            w = torch.reciprocal(volume * volume)
        elif self.weight_type == "simple":
            w = torch.reciprocal(volume)
        else:
            w = torch.ones_like(volume)
        w = w.detach()
        infinite = torch.isinf(w)
        w = torch.where(infinite, torch.zeros_like(w), w)
        largest = w.amax(-1, keepdim=True)
        w = torch.where(infinite, largest.expand_as(w), w)
        if self.weight is not None:
            extra = self.weight.to(w)
            if self.classes is not None:
                extra = extra.index_select(0, torch.as_tensor(self.classes, device=w.device))
            w = w * extra
        numerator = 2 * (w * tp).sum(-1) + self.smooth
        denominator = (w * (2 * tp + fp + fn)).sum(-1) + self.smooth
        loss = 1.0 - numerator / denominator.clamp_min(self.eps)
        # Nothing to segment (every class absent or every pixel ignored): no loss.
        loss = loss * (volume.sum(-1) > 0).to(loss.dtype)
        return loss.mean() if self.per_image else loss


class MCCLoss(_RegionLoss):
    """Matthews correlation coefficient loss: ``1 - MCC`` per class, from soft counts.

    ``MCC = (TP TN - FP FN) / sqrt((TP + FP)(TP + FN)(TN + FP)(TN + FN))`` with ``eps`` added to
    each count, as smp does. Unlike smp, the prediction is logits unless ``from_logits=False``
    (smp applies no sigmoid and does not say so), all three modes are supported (one-vs-rest per
    class), and ``ignore_index`` is honoured.

    Args:
        mode: ``"binary"`` (smp's only mode), ``"multiclass"`` or ``"multilabel"``.
        eps: Added to each of TP, TN, FP, FN.
        from_logits: As `DiceLoss`.
        ignore_index: As `DiceLoss`.
        classes: As `DiceLoss`.
        weight: As `DiceLoss`.
        per_image: As `DiceLoss`.

    Example:
        >>> import torch
        >>> loss = MCCLoss()
        >>> value = loss(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 1, 8, 8)).float())
    """

    def __init__(
        self,
        mode: str = BINARY,
        eps: float = 1e-5,
        from_logits: bool = True,
        ignore_index: int | None = None,
        classes: Sequence[int] | None = None,
        weight: Sequence[float] | torch.Tensor | None = None,
        per_image: bool = False,
    ) -> None:
        super().__init__(mode, classes, False, from_logits, 0.0, ignore_index, eps, weight, None, per_image)

    def class_losses(self, probs: torch.Tensor, prepared: Prepared) -> torch.Tensor:
        """``1 - MCC`` for each class."""
        tp, fp, fn = self.counts(probs, prepared.target)
        dims = (2,) if self.per_image else (0, 2)
        total = prepared.valid.expand_as(probs).sum(dims).to(tp.dtype)
        tn = total - tp - fp - fn
        tp, tn, fp, fn = (x + self.eps for x in (tp, tn, fp, fn))
        numerator = tp * tn - fp * fn
        denominator = torch.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return 1.0 - numerator / denominator


def _check_classes(owner: str, classes: Any, mode: str) -> tuple[int, ...] | None:
    if classes is None:
        return None
    if mode == BINARY:
        raise ConfigError(f"{owner}: classes= selects channels, and mode='binary' has one; leave classes=None")
    values = list(classes) if isinstance(classes, (list, tuple, range, torch.Tensor)) else None
    if (
        not values
        or any(isinstance(v, bool) or not isinstance(int(v) if isinstance(v, torch.Tensor) else v, int) for v in values)
        or any(int(v) < 0 for v in values)
    ):
        raise ConfigError(f"{owner}: classes={classes!r}; accepted: a non-empty list of class indices (ints >= 0)")
    return tuple(int(v) for v in values)


def _check_class_range(owner: str, classes: tuple[int, ...], num_classes: int) -> None:
    too_big = [c for c in classes if c >= num_classes]
    if too_big:
        raise ConfigError(
            f"{owner}: classes={list(classes)} names class {too_big[0]}, but the prediction has {num_classes} channels"
        )
