"""Confusion-matrix segmentation metrics: pixel accuracy, mean accuracy, mIoU, fwIoU, Dice.

`SegmentationMetrics` accumulates one confusion matrix over every `update` call (a
``torchmetrics`` sum state, so it is synchronised across DDP processes) and derives every
score from it in `compute`. Ratios are exact (no epsilon); a ratio whose denominator is 0 is
NaN in the per-class vectors and left out of the means (``absent="ignore"``), or counted as 0
(``absent="zero"``).

Example:
    >>> import torch
    >>> metric = SegmentationMetrics(num_classes=3)
    >>> metric.update(torch.tensor([[0, 1, 2, 2]]), torch.tensor([[0, 1, 1, 2]]))
    >>> result = metric.compute()
    >>> round(float(result["accuracy"]), 2), round(float(result["miou"]), 3)
    (0.75, 0.667)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor
from torchmetrics import Metric

from seg_core.errors import ConfigError, InputShapeError

__all__ = ["SegmentationMetrics"]

_MODES = ("multiclass", "binary", "multilabel")
_PREDS = ("auto", "logits", "probabilities", "labels")
_ABSENT = ("ignore", "zero")


def _bincount(index: Tensor, minlength: int) -> Tensor:
    """``torch.bincount`` (int64 counts), with a scatter fallback where bincount is missing."""
    if index.device.type in ("mps", "xla"):
        counts = torch.zeros(minlength, dtype=torch.int64, device=index.device)
        return counts.scatter_add_(0, index, torch.ones_like(index))
    return torch.bincount(index, minlength=minlength)


def _first_bad(values: Tensor, bad: Tensor) -> Any:
    """The first offending value of ``values`` where ``bad`` (for error messages; syncs once)."""
    return values[bad].reshape(-1)[0].item()


class SegmentationMetrics(Metric):
    """Pixel accuracy, mean class accuracy, mIoU, frequency-weighted IoU and Dice from a confusion matrix.

    Modes and what `update` accepts (``*`` is any number of spatial dims: 2D, 3D...):

    - ``"multiclass"``: ``preds`` is ``(N, C, *)`` scores (logits or probabilities, reduced by
      argmax over dim 1: both give the same labels) or ``(N, *)`` integer labels; ``target`` is
      ``(N, *)`` integer labels in ``[0, num_classes)`` or ``ignore_index``. The state is the
      ``(C, C)`` confusion matrix (rows: ground truth, columns: prediction).
    - ``"binary"``: one foreground class, so ``num_classes`` must be 1. ``preds`` is ``(N, 1, *)``
      or ``(N, *)`` logits, probabilities or ``{0, 1}`` labels; ``target`` is ``(N, *)`` or
      ``(N, 1, *)`` in ``{0, 1}`` or ``ignore_index``. The scores are the foreground's (IoU of
      the foreground, not averaged with the background); ``accuracy`` is pixel accuracy over
      both. Use ``mode="multiclass", num_classes=2`` to also score the background.
    - ``"multilabel"``: ``preds`` is ``(N, C, *)`` logits, probabilities or ``{0, 1}`` labels and
      ``target`` is ``(N, C, *)`` in ``{0, 1}`` or ``ignore_index``; each class is an independent
      binary problem. The state is one ``2 x 2`` confusion matrix per class, ``(C, 2, 2)``
      indexed ``[class, truth, prediction]`` (binary mode uses it with ``C = 1``).

    With ``preds="auto"`` an integer or bool tensor is labels and a floating tensor is logits.
    In binary and multilabel mode logits and probabilities need different thresholds, so pass
    ``preds="probabilities"`` explicitly for probabilities. An element is positive when its
    probability is ``> threshold``; a logit is positive when ``sigmoid(logit) > threshold``
    (``logit > 0`` at the default 0.5).

    Per class ``c`` (TP/FP/FN/TN counted over all accumulated pixels):
    ``IoU_c = TP / (TP + FP + FN)``, ``Dice_c = 2 TP / (2 TP + FP + FN)``,
    ``Acc_c = TP / (TP + FN)``. Then ``miou``, ``dice`` and ``mean_accuracy`` are the means over
    classes, ``fwiou = sum_c freq_c IoU_c`` with ``freq_c = (TP_c + FN_c) / sum_k (TP_k + FN_k)``,
    and ``accuracy`` is the pixel accuracy (``trace / total`` in multiclass; ``(TP + TN) / total``
    over all class elements in binary and multilabel mode).

    Undefined ratios (denominator 0: a class absent from both prediction and ground truth for
    IoU and Dice, a class without ground-truth pixels for accuracy) are NaN in the per-class
    vectors and left out of the means with ``absent="ignore"``; ``absent="zero"`` counts them as
    0 (as PixSeg does). A class only in the prediction has IoU 0 either way. The class equal to
    ``ignore_index`` (when it is a valid class) is always NaN and left out. If nothing is left,
    the means are NaN.

    Args:
        num_classes: Number of classes (1 in binary mode).
        mode: ``"multiclass"``, ``"binary"`` or ``"multilabel"``.
        ignore_index: Target value whose pixels (elements, in multilabel mode) are not counted.
            In binary/multilabel mode it must not be 0 or 1.
        preds: What ``preds`` holds: ``"logits"``, ``"probabilities"``, ``"labels"`` or ``"auto"``.
        threshold: Probability threshold of binary and multilabel mode, in ``(0, 1)``.
        absent: ``"ignore"`` (leave undefined classes out of the means) or ``"zero"``.
        class_names: Optional names of the classes (used by `flatten`).
        **kwargs: Passed to ``torchmetrics.Metric`` (``sync_on_compute``, ``dist_sync_fn``...).

    Raises:
        ConfigError: An argument has an unsupported value; the message names it and the
            accepted values.

    Example:
        >>> import torch
        >>> metric = SegmentationMetrics(num_classes=3, ignore_index=255)
        >>> logits = torch.randn(2, 3, 8, 8)
        >>> target = torch.randint(0, 3, (2, 8, 8))
        >>> metric.update(logits, target)
        >>> result = metric.compute()
        >>> result["miou"].shape, result["per_class_iou"].shape
        (torch.Size([]), torch.Size([3]))
    """

    is_differentiable: bool = False
    higher_is_better: bool = True
    full_state_update: bool = False
    #: The scores a perfect prediction gets (used by `seg_train.testing.check_metric`).
    perfect_scores: ClassVar[Mapping[str, float]] = {
        "accuracy": 1.0,
        "mean_accuracy": 1.0,
        "miou": 1.0,
        "fwiou": 1.0,
        "dice": 1.0,
    }

    confmat: Tensor

    def __init__(
        self,
        num_classes: int,
        *,
        mode: str = "multiclass",
        ignore_index: int | None = None,
        preds: str = "auto",
        threshold: float = 0.5,
        absent: str = "ignore",
        class_names: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ConfigError(f"mode must be one of {', '.join(map(repr, _MODES))}; got {mode!r}")
        if preds not in _PREDS:
            raise ConfigError(f"preds must be one of {', '.join(map(repr, _PREDS))}; got {preds!r}")
        if absent not in _ABSENT:
            raise ConfigError(f"absent must be one of {', '.join(map(repr, _ABSENT))}; got {absent!r}")
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ConfigError(f"num_classes must be a positive int; got {num_classes!r}")
        if mode == "binary" and num_classes != 1:
            raise ConfigError(
                f"num_classes must be 1 in binary mode (one foreground class); got {num_classes}. "
                "Use mode='multiclass', num_classes=2 to score background and foreground"
            )
        if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
            raise ConfigError(f"ignore_index must be an int or None; got {ignore_index!r}")
        if mode != "multiclass" and ignore_index in (0, 1):
            raise ConfigError(
                f"ignore_index must not be 0 or 1 in {mode} mode (those are the labels); got {ignore_index}"
            )
        if not (isinstance(threshold, (int, float)) and 0.0 < float(threshold) < 1.0):
            raise ConfigError(f"threshold must be a probability in (0, 1); got {threshold!r}")
        if class_names is not None:
            class_names = [str(name) for name in class_names]
            if len(class_names) != num_classes:
                raise ConfigError(f"class_names must have num_classes={num_classes} entries; got {len(class_names)}")
        self.num_classes = num_classes
        self.mode = mode
        self.ignore_index = ignore_index
        self.preds = preds
        self.threshold = float(threshold)
        self.absent = absent
        self.class_names: list[str] | None = class_names
        shape = (num_classes, num_classes) if mode == "multiclass" else (num_classes, 2, 2)
        self.add_state("confmat", default=torch.zeros(shape, dtype=torch.int64), dist_reduce_fx="sum")

    # ------------------------------------------------------------------ update
    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch to the confusion matrix.

        Args:
            preds: Predictions, shaped as the class docstring says for the mode.
            target: Ground truth, shaped as the class docstring says for the mode.

        Raises:
            InputShapeError: ``preds`` and ``target`` shapes do not fit together or the mode.
            ValueError: A target (or label prediction) value is outside the accepted values
                (the message names it), or a probability is outside ``[0, 1]``.

        Example:
            >>> import torch
            >>> metric = SegmentationMetrics(num_classes=1, mode="binary")
            >>> metric.update(torch.tensor([[2.0, -1.0]]), torch.tensor([[1, 1]]))
            >>> metric.compute()["miou"]
            tensor(0.5000)
        """
        if not isinstance(preds, Tensor) or not isinstance(target, Tensor):
            raise TypeError(f"preds and target must be tensors; got {type(preds).__name__}, {type(target).__name__}")
        if preds.device != self.confmat.device or target.device != self.confmat.device:
            raise ValueError(
                f"preds ({preds.device}) and target ({target.device}) must be on the metric's device "
                f"({self.confmat.device}); move the metric with metric.to(device)"
            )
        if self.mode == "multiclass":
            counts = self._multiclass_counts(preds, target)
        else:
            if self.mode == "binary":
                preds, target = self._binary_shapes(preds, target)
            counts = self._multilabel_counts(preds, target)
        self.confmat += counts

    def _kind(self, preds: Tensor) -> str:
        if self.preds != "auto":
            return self.preds
        return "logits" if preds.is_floating_point() else "labels"

    def _check_target(self, target: Tensor, valid: Tensor, accepted: str) -> Tensor:
        """Raise on a target value outside ``accepted`` (not ignore_index); return the keep mask."""
        if target.is_floating_point() and self.mode == "multiclass":
            raise ValueError(f"target must hold integer class indices in multiclass mode; got dtype {target.dtype}")
        keep = torch.ones_like(target, dtype=torch.bool) if self.ignore_index is None else target != self.ignore_index
        bad = keep & ~valid
        if bool(bad.any()):
            ignore = "" if self.ignore_index is None else f" or ignore_index={self.ignore_index}"
            raise ValueError(
                f"target contains the value {_first_bad(target, bad)}, outside {accepted}{ignore} "
                f"(num_classes={self.num_classes}, mode={self.mode!r})"
            )
        return keep

    def _multiclass_counts(self, preds: Tensor, target: Tensor) -> Tensor:
        c = self.num_classes
        kind = self._kind(preds) if preds.ndim == target.ndim else self.preds
        if preds.ndim == target.ndim + 1:
            if kind == "labels":
                raise InputShapeError(
                    f"preds='labels' expects preds shaped like target {tuple(target.shape)}; "
                    f"got {tuple(preds.shape)} (with a class dimension: use preds='logits' or 'probabilities')"
                )
            expected = (target.shape[0], c, *target.shape[1:])
            if tuple(preds.shape) != expected:
                raise InputShapeError(
                    f"expected preds of shape (N, C, *) = {expected} for target {tuple(target.shape)} "
                    f"and num_classes={c}; got {tuple(preds.shape)}"
                )
            if not preds.is_floating_point():
                preds = preds.float()
            if kind == "probabilities":
                self._check_probabilities(preds)
            labels = preds.argmax(dim=1)
        elif preds.ndim == target.ndim:
            if tuple(preds.shape) != tuple(target.shape):
                raise InputShapeError(
                    f"expected label preds of the target's shape {tuple(target.shape)}; got {tuple(preds.shape)}"
                )
            if kind != "labels" or preds.is_floating_point():
                raise InputShapeError(
                    f"multiclass preds without a class dimension must be integer labels; got {preds.dtype} "
                    f"{tuple(preds.shape)} with preds={self.preds!r} (scores need shape (N, C, *))"
                )
            labels = preds
            bad = (labels < 0) | (labels >= c)
            if bool(bad.any()):
                raise ValueError(f"preds contains the label {_first_bad(labels, bad)}, outside [0, {c})")
        else:
            raise InputShapeError(
                f"expected preds (N, C, *) scores or (N, *) labels for target {tuple(target.shape)}; "
                f"got {tuple(preds.shape)}"
            )
        if target.ndim < 1:
            raise InputShapeError(f"expected target of shape (N, *); got {tuple(target.shape)}")
        keep = self._check_target(target, (target >= 0) & (target < c), f"[0, {c})")
        t = target.reshape(-1).long()
        index = torch.where(keep.reshape(-1), t * c + labels.reshape(-1).long(), c * c)
        return _bincount(index, c * c + 1)[: c * c].reshape(c, c)

    def _binary_shapes(self, preds: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        if preds.shape != target.shape:
            if (
                preds.ndim == target.ndim + 1
                and preds.shape[1] == 1
                and preds.shape[:1] + preds.shape[2:] == target.shape
            ):
                preds = preds.squeeze(1)
            elif (
                target.ndim == preds.ndim + 1
                and target.shape[1] == 1
                and target.shape[:1] + target.shape[2:] == preds.shape
            ):
                target = target.squeeze(1)
            else:
                raise InputShapeError(
                    "binary mode expects preds (N, 1, *) or (N, *) and target (N, *) or (N, 1, *) with the same N "
                    f"and spatial size; got preds {tuple(preds.shape)} and target {tuple(target.shape)}"
                )
        return preds.unsqueeze(1), target.unsqueeze(1)

    def _check_probabilities(self, preds: Tensor) -> None:
        bad = (preds < 0) | (preds > 1) | torch.isnan(preds)
        if bool(bad.any()):
            raise ValueError(
                f"preds='probabilities' but preds contains {_first_bad(preds, bad)}, outside [0, 1] "
                "(pass preds='logits' for raw scores)"
            )

    def _multilabel_counts(self, preds: Tensor, target: Tensor) -> Tensor:
        c = self.num_classes
        if preds.shape != target.shape or preds.ndim < 2 or preds.shape[1] != c:
            raise InputShapeError(
                f"{self.mode} mode expects preds and target of the same shape (N, C={c}, *); "
                f"got preds {tuple(preds.shape)} and target {tuple(target.shape)}"
            )
        kind = self._kind(preds)
        if kind == "labels":
            bad = (preds != 0) & (preds != 1)
            if bool(bad.any()):
                raise ValueError(f"preds='labels' but preds contains {_first_bad(preds, bad)}, outside {{0, 1}}")
            positive = preds != 0
        elif kind == "probabilities":
            self._check_probabilities(preds)
            positive = preds > self.threshold
        else:
            positive = preds > math.log(self.threshold / (1.0 - self.threshold))
        keep = self._check_target(target, (target == 0) | (target == 1), "{0, 1}")
        classes = torch.arange(c, device=preds.device).reshape(1, c, *([1] * (preds.ndim - 2)))
        index = classes * 4 + (target == 1).long() * 2 + positive.long()
        index = torch.where(keep, index, 4 * c).reshape(-1)
        return _bincount(index, 4 * c + 1)[: 4 * c].reshape(c, 2, 2)

    # ----------------------------------------------------------------- compute
    def _stats(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """TP, FP, FN, TN per class, as floats (float64 where the device has it)."""
        dtype = torch.float32 if self.confmat.device.type == "mps" else torch.float64
        cm = self.confmat.to(dtype)
        if self.mode == "multiclass":
            tp = cm.diagonal()
            fp = cm.sum(0) - tp
            fn = cm.sum(1) - tp
            tn = cm.sum() - tp - fp - fn
        else:
            tn, fp, fn, tp = cm[:, 0, 0], cm[:, 0, 1], cm[:, 1, 0], cm[:, 1, 1]
        return tp, fp, fn, tn

    def compute(self) -> dict[str, Tensor]:
        """Derive the scores from the accumulated confusion matrix.

        Returns:
            A dict of float32 tensors: ``accuracy``, ``mean_accuracy``, ``miou``, ``fwiou``,
            ``dice`` (scalars), ``per_class_iou``, ``per_class_dice``, ``per_class_accuracy``
            (``(C,)``), and ``confusion_matrix`` (the int64 state: ``(C, C)`` in multiclass mode,
            ``(C, 2, 2)`` in binary/multilabel mode).

        Example:
            >>> import torch
            >>> metric = SegmentationMetrics(num_classes=2)
            >>> metric.update(torch.tensor([[0, 1]]), torch.tensor([[0, 0]]))
            >>> metric.compute()["per_class_iou"]
            tensor([0.5000, 0.0000])
        """
        tp, fp, fn, tn = self._stats()
        iou = tp / (tp + fp + fn)
        dice = 2 * tp / (2 * tp + fp + fn)
        class_accuracy = tp / (tp + fn)
        if self.absent == "zero":
            iou, dice, class_accuracy = (torch.nan_to_num(v, nan=0.0) for v in (iou, dice, class_accuracy))
        if self.ignore_index is not None and 0 <= self.ignore_index < self.num_classes:
            for v in (iou, dice, class_accuracy):
                v[self.ignore_index] = math.nan
        support = tp + fn
        if self.mode == "multiclass":
            accuracy = tp.sum() / self.confmat.sum()
        else:
            accuracy = (tp + tn).sum() / (tp + tn + fp + fn).sum()
        fwiou = torch.where(support > 0, support * iou, 0.0).sum() / support.sum()
        out = {
            "accuracy": accuracy,
            "mean_accuracy": class_accuracy.nanmean(),
            "miou": iou.nanmean(),
            "fwiou": fwiou,
            "dice": dice.nanmean(),
            "per_class_iou": iou,
            "per_class_dice": dice,
            "per_class_accuracy": class_accuracy,
        }
        result = {key: value.float() for key, value in out.items()}
        result["confusion_matrix"] = self.confmat.clone()
        return result

    def flatten(self, result: Mapping[str, Tensor] | None = None) -> dict[str, float]:
        """Flatten a `compute` result to named floats, e.g. for a logger.

        Scalars keep their key; per-class vectors become ``"per_class_iou/<name>"`` where
        ``<name>`` is the class name (or its index without ``class_names``). The confusion matrix
        is left out.

        Args:
            result: A `compute` result; computed now when None.

        Returns:
            A flat ``{name: float}`` dict.

        Example:
            >>> import torch
            >>> metric = SegmentationMetrics(num_classes=2, class_names=["bg", "road"])
            >>> metric.update(torch.tensor([[0, 1]]), torch.tensor([[0, 1]]))
            >>> metric.flatten()["per_class_iou/road"]
            1.0
        """
        result = self.compute() if result is None else result
        names = self.class_names or [str(i) for i in range(self.num_classes)]
        flat: dict[str, float] = {}
        for key, value in result.items():
            if key == "confusion_matrix":
                continue
            if value.ndim == 0:
                flat[key] = float(value)
            else:
                for name, item in zip(names, value.tolist()):
                    flat[f"{key}/{name}"] = float(item)
        return flat
