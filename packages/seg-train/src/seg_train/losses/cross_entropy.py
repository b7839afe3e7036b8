"""Cross-entropy losses: torch's semantics with seg's checks, in all three modes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seg_core.errors import ConfigError, InputShapeError
from seg_train.losses._checks import (
    as_class_weight,
    check_choice,
    check_ignore_index,
    check_mode,
    check_number,
    check_optional_number,
    check_reduction,
    check_weight_size,
)
from seg_train.losses._targets import Prepared, prepare
from seg_train.losses.base import MULTICLASS, SegLoss

__all__ = ["CrossEntropyLoss", "SoftBCEWithLogitsLoss", "SoftCrossEntropyLoss", "binary_cross_entropy"]


class CrossEntropyLoss(SegLoss):
    """Cross-entropy; multiclass is exactly ``torch.nn.functional.cross_entropy``.

    - multiclass: class indices (N, *spatial), or class probabilities (N, C, *spatial) as soft
      targets. The mean divides by the summed weights of the pixels that are not ignored, as
      torch does; when every pixel is ignored the loss is 0 (torch gives NaN).
    - binary and multilabel: binary cross-entropy per channel, with ``pos_weight``; the mean is
      over the elements that are not ignored.

    Args:
        mode: ``"multiclass"`` (default), ``"binary"`` or ``"multilabel"``.
        weight: One weight per class (for binary, the one channel's weight).
        ignore_index: Target value of pixels that do not count (torch's default -100).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        label_smoothing: In [0, 1): torch's label smoothing (multiclass), or targets pulled towards
            0.5 by this much (binary, multilabel).
        from_logits: The prediction is logits; False: probabilities.
        pos_weight: Binary and multilabel: one weight per class for the positive term.

    Raises:
        ConfigError: An argument outside its accepted values (named in the message).

    Example:
        >>> import torch
        >>> loss = CrossEntropyLoss(ignore_index=255, weight=[1.0, 2.0, 0.5])
        >>> value = loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)))
    """

    pos_weight: torch.Tensor | None

    def __init__(
        self,
        mode: str = MULTICLASS,
        weight: Sequence[float] | torch.Tensor | None = None,
        ignore_index: int | None = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        from_logits: bool = True,
        pos_weight: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.mode = check_mode(type(self), mode)
        self.register_buffer("weight", as_class_weight(owner, weight), persistent=False)
        self.register_buffer("pos_weight", as_class_weight(owner, pos_weight, argument="pos_weight"), persistent=False)
        if self.pos_weight is not None and self.mode == MULTICLASS:
            raise ConfigError(f"{owner}: pos_weight is for mode='binary' or 'multilabel'; for multiclass use weight=")
        self.ignore_index = check_ignore_index(owner, ignore_index)
        self.reduction = check_reduction(owner, reduction)
        self.label_smoothing = check_number(
            owner, "label_smoothing", label_smoothing, low=0.0, high=1.0, high_open=True
        )
        self.from_logits = bool(check_choice(owner, "from_logits", from_logits, (True, False)))

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss (a scalar unless ``reduction="none"``).

        Args:
            pred: (N, C, *spatial) logits (or probabilities with ``from_logits=False``).
            target: See `seg_train.losses` for the shape each mode takes.
        """
        owner = type(self).__name__
        if self.mode != MULTICLASS:
            prepared = prepare(owner, pred, target, self.mode, self.ignore_index)
            return binary_cross_entropy(
                owner,
                prepared,
                weight=self.weight,
                pos_weight=self.pos_weight,
                smoothing=self.label_smoothing or 0.0,
                from_logits=self.from_logits,
                reduction=self.reduction,
                shape=pred.shape,
            )
        log_input = pred if self.from_logits else pred.clamp_min(torch.finfo(pred.dtype).tiny).log()
        if target.is_floating_point() and tuple(target.shape) == tuple(pred.shape):
            check_weight_size(owner, self.weight, pred.shape[1])
            return F.cross_entropy(
                log_input,
                target,
                weight=self.weight,
                reduction=self.reduction,
                label_smoothing=self.label_smoothing or 0.0,
            )
        prepared = prepare(owner, pred, target, MULTICLASS, self.ignore_index)
        n, c, _ = prepared.pred.shape
        check_weight_size(owner, self.weight, c)
        assert prepared.labels is not None
        valid = prepared.valid[:, 0]
        fill = -100 if self.ignore_index is None else self.ignore_index
        labels = torch.where(valid, prepared.labels, torch.full_like(prepared.labels, fill))
        weight = None if self.weight is None else self.weight.to(pred)
        losses = F.cross_entropy(
            log_input.reshape(n, c, -1),
            labels,
            weight=weight,
            ignore_index=fill,
            reduction="none",
            label_smoothing=self.label_smoothing or 0.0,
        )
        if self.reduction == "none":
            return losses.reshape(target.shape)
        if self.reduction == "sum":
            return losses.sum()
        counted = valid.to(losses.dtype) if weight is None else weight[prepared.labels] * valid
        return losses.sum() / counted.sum().clamp_min(torch.finfo(losses.dtype).tiny)


class SoftCrossEntropyLoss(CrossEntropyLoss):
    """smp's label-smoothed cross-entropy, with its arguments; its defaults work (smp's crash).

    Equal to ``torch.nn.functional.cross_entropy(..., label_smoothing=smooth_factor)``: ignored
    pixels are out of the mean's denominator (smp divides by every pixel).

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        smooth_factor: Label smoothing in [0, 1); None is 0.
        ignore_index: Target value of pixels that do not count.
        dim: The class dimension of the prediction.
        weight: One weight per class.

    Example:
        >>> import torch
        >>> loss = SoftCrossEntropyLoss(smooth_factor=0.1, ignore_index=255)
        >>> value = loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)))
    """

    modes = (MULTICLASS,)

    def __init__(
        self,
        reduction: str = "mean",
        smooth_factor: float | None = None,
        ignore_index: int | None = -100,
        dim: int = 1,
        weight: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__(
            MULTICLASS,
            weight=weight,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=0.0 if smooth_factor is None else smooth_factor,
        )
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise ConfigError(f"SoftCrossEntropyLoss got dim={dim!r}; accepted: the class dimension, an int")
        self.dim = dim

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss; ``pred`` has its classes along ``dim``."""
        if self.dim not in (1, 1 - pred.ndim):
            pred = pred.movedim(self.dim, 1)
        return super().forward(pred, target)


class SoftBCEWithLogitsLoss(SegLoss):
    """smp's binary cross-entropy with label smoothing and ``ignore_index``, made right.

    The mode follows the prediction: one channel is binary, more are multilabel. ``weight`` and
    ``pos_weight`` are per class (smp broadcasts them against the last spatial axis), and the
    mean is over the elements that are not ignored (smp divides by every element).

    Args:
        weight: One weight per class.
        ignore_index: Target value of elements that do not count.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        smooth_factor: Targets become ``t (1 - s) + (1 - t) s``; None is 0.
        pos_weight: One weight per class for the positive term.

    Example:
        >>> import torch
        >>> loss = SoftBCEWithLogitsLoss(smooth_factor=0.1, ignore_index=255)
        >>> value = loss(torch.randn(2, 1, 8, 8), torch.randint(0, 2, (2, 1, 8, 8)).float())
    """

    modes = ("binary", "multilabel")
    pos_weight: torch.Tensor | None

    def __init__(
        self,
        weight: Sequence[float] | torch.Tensor | None = None,
        ignore_index: int | None = -100,
        reduction: str = "mean",
        smooth_factor: float | None = None,
        pos_weight: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        owner = "SoftBCEWithLogitsLoss"
        self.mode = "multilabel"
        self.register_buffer("weight", as_class_weight(owner, weight), persistent=False)
        self.register_buffer("pos_weight", as_class_weight(owner, pos_weight, argument="pos_weight"), persistent=False)
        self.ignore_index = check_ignore_index(owner, ignore_index)
        self.reduction = check_reduction(owner, reduction)
        self.smooth_factor = check_optional_number(
            owner, "smooth_factor", smooth_factor, low=0.0, high=1.0, high_open=True
        )

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss (a scalar unless ``reduction="none"``).

        Args:
            pred: (N, C, *spatial) logits.
            target: (N, C, *spatial) in [0, 1] (or (N, *spatial) for one channel).
        """
        mode = "binary" if pred.ndim >= 3 and pred.shape[1] == 1 else "multilabel"
        prepared = prepare("SoftBCEWithLogitsLoss", pred, target, mode, self.ignore_index)
        return binary_cross_entropy(
            "SoftBCEWithLogitsLoss",
            prepared,
            weight=self.weight,
            pos_weight=self.pos_weight,
            smoothing=self.smooth_factor or 0.0,
            from_logits=True,
            reduction=self.reduction,
            shape=pred.shape,
        )


def binary_cross_entropy(
    owner: str,
    prepared: Prepared,
    *,
    weight: torch.Tensor | None,
    pos_weight: torch.Tensor | None,
    smoothing: float,
    from_logits: bool,
    reduction: str,
    shape: torch.Size,
) -> torch.Tensor:
    """Per-channel binary cross-entropy of a prepared pair, ignored elements left out.

    Args:
        owner: The loss's name, for messages.
        prepared: From `prepare` (binary or multilabel).
        weight: Per-class weights, or None.
        pos_weight: Per-class weights of the positive term, or None.
        smoothing: Label smoothing towards 0.5.
        from_logits: ``prepared.pred`` is logits (else probabilities).
        reduction: ``"mean"`` (over elements that count), ``"sum"`` or ``"none"``.
        shape: The prediction's shape (for ``"none"``).

    Returns:
        The loss.

    Raises:
        InputShapeError: A per-class weight whose length is not the number of channels.
    """
    x = prepared.pred
    c = x.shape[1]
    for name, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None and w.numel() != c:
            raise InputShapeError(f"{owner}: {name} has {w.numel()} values but the prediction has {c} channels")
    t = prepared.target
    if smoothing:
        t = t * (1.0 - smoothing) + (1.0 - t) * smoothing
    pw = None if pos_weight is None else pos_weight.to(x).view(1, c, 1)
    if from_logits:
        losses = F.binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=pw)
    else:
        p = x.clamp(0.0, 1.0)
        log_p = p.log().clamp_min(-100.0)  # torch's binary_cross_entropy clamps the logs the same way
        log_q = (1.0 - p).log().clamp_min(-100.0)
        losses = -((t * log_p) * (1.0 if pw is None else pw) + (1.0 - t) * log_q)
    if weight is not None:
        losses = losses * weight.to(x).view(1, c, 1)
    valid = prepared.valid.expand_as(losses)
    losses = losses * valid
    if reduction == "none":
        return losses.reshape(shape)
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / valid.sum().clamp_min(1)
