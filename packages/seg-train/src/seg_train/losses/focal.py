"""Focal loss (Lin et al. 2017), smp's arguments, in all three modes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seg_core.errors import ConfigError
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
from seg_train.losses._targets import prepare
from seg_train.losses.base import BINARY, MULTICLASS, SegLoss

__all__ = ["FocalLoss"]


class FocalLoss(SegLoss):
    """Focal loss: ``-(1 - p_t)^gamma log(p_t)``, weighted by ``alpha`` and per-class ``weight``.

    As in smp, each class is a one-vs-rest sigmoid term (``activation="sigmoid"``); for
    multiclass, ``activation="softmax"`` gives the softmax form instead (PixSeg's and
    the paper's multi-class form), ``-(1 - p_y)^gamma log p_y``.

    Reduction ``"mean"``: the mean over the valid pixels of each class, then the (weighted) mean
    over classes (smp's value). ``"sum"``: the sum over the valid pixels of each class, then the
    (weighted) mean over classes (smp's value). ``"none"``: the per-element loss, (N, C, *spatial) for the sigmoid form
    and (N, *spatial) for softmax, zero at ignored pixels.

    Unlike smp, ``ignore_index`` works in multilabel mode (smp raises an IndexError), and
    ``from_logits=False`` takes probabilities in every mode.

    Args:
        mode: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        alpha: Weight of the positive term, in [0, 1] (sigmoid form); None: no balancing.
        gamma: Focusing power (>= 0); 0 gives (balanced) cross-entropy.
        ignore_index: Target value of pixels that do not count.
        from_logits: The prediction is logits; False: probabilities.
        eps: Clamp of probabilities before turning them into logits.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        normalized: Divide by the sum of the focal factors (Zhang et al. 2019).
        reduced_threshold: Reduced focal loss: no focusing below this ``p_t``.
        weight: One weight per class (not binary).
        class_weights: smp's name for ``weight``.
        activation: ``"sigmoid"`` (smp) or ``"softmax"`` (multiclass only).

    Raises:
        ConfigError: An argument outside its accepted values (named in the message).

    Example:
        >>> import torch
        >>> loss = FocalLoss("multilabel", ignore_index=255)
        >>> value = loss(torch.randn(2, 3, 8, 8), torch.randint(0, 2, (2, 3, 8, 8)).float())
    """

    def __init__(
        self,
        mode: str,
        alpha: float | None = None,
        gamma: float = 2.0,
        ignore_index: int | None = None,
        from_logits: bool = True,
        eps: float = 1e-7,
        reduction: str = "mean",
        normalized: bool = False,
        reduced_threshold: float | None = None,
        weight: Sequence[float] | torch.Tensor | None = None,
        class_weights: Sequence[float] | torch.Tensor | None = None,
        activation: str = "sigmoid",
    ) -> None:
        super().__init__()
        self.mode = check_mode(FocalLoss, mode)
        self.alpha = check_optional_number("FocalLoss", "alpha", alpha, low=0.0, high=1.0)
        self.gamma = check_number("FocalLoss", "gamma", gamma, low=0.0)
        self.ignore_index = check_ignore_index("FocalLoss", ignore_index)
        self.from_logits = bool(check_choice("FocalLoss", "from_logits", from_logits, (True, False)))
        self.eps = check_number("FocalLoss", "eps", eps, low=0.0, high=0.5, low_open=True, high_open=True)
        self.reduction = check_reduction("FocalLoss", reduction)
        self.normalized = bool(check_choice("FocalLoss", "normalized", normalized, (True, False)))
        self.reduced_threshold = check_optional_number(
            "FocalLoss", "reduced_threshold", reduced_threshold, low=0.0, high=1.0, low_open=True
        )
        self.activation = check_choice("FocalLoss", "activation", activation, ("sigmoid", "softmax"))
        if self.activation == "softmax" and self.mode != MULTICLASS:
            raise ConfigError("FocalLoss: activation='softmax' needs mode='multiclass'")
        if self.activation == "softmax" and self.alpha is not None:
            raise ConfigError("FocalLoss: alpha balances the sigmoid form; with activation='softmax' use weight=")
        if weight is not None and class_weights is not None:
            raise ConfigError("FocalLoss: pass the per-class weights once: weight= (class_weights= is smp's name)")
        self.register_buffer(
            "weight", as_class_weight("FocalLoss", weight if weight is not None else class_weights), persistent=False
        )
        if self.weight is not None and self.mode == BINARY:
            raise ConfigError(
                "FocalLoss: weight is one number per class, and mode='binary' has one class; use alpha to "
                "balance foreground and background"
            )

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss (a scalar unless ``reduction="none"``).

        Args:
            pred: (N, C, *spatial) logits (or probabilities with ``from_logits=False``).
            target: See `seg_train.losses` for the shape each mode takes.
        """
        prepared = prepare("FocalLoss", pred, target, self.mode, self.ignore_index)
        check_weight_size("FocalLoss", self.weight, prepared.pred.shape[1])
        if self.activation == "softmax":
            return self._softmax(pred, prepared.pred, prepared.labels, prepared.valid[:, 0])
        logits = prepared.pred
        if not self.from_logits:
            p = logits.clamp(self.eps, 1 - self.eps)
            logits = torch.log(p) - torch.log1p(-p)
        target_f = prepared.target
        valid = prepared.valid.expand_as(logits).to(logits.dtype)
        ce = F.binary_cross_entropy_with_logits(logits, target_f, reduction="none")
        focal = self._focal_term(torch.exp(-ce))
        loss = focal * ce
        if self.alpha is not None:
            loss = loss * (self.alpha * target_f + (1 - self.alpha) * (1 - target_f))
        loss = loss * valid
        if self.normalized:
            loss = loss / (focal * valid).sum(dim=(0, 2), keepdim=True).clamp_min(self.eps)
        if self.reduction == "none":
            return loss.reshape(pred.shape)
        weight = None if self.weight is None else self.weight.to(loss)
        per_class = loss.sum(dim=(0, 2))
        if self.reduction == "mean":
            per_class = per_class / valid.sum(dim=(0, 2)).clamp_min(1)
        return per_class.mean() if weight is None else (per_class * weight).sum() / weight.sum()

    def _focal_term(self, pt: torch.Tensor) -> torch.Tensor:
        assert self.gamma is not None
        if self.reduced_threshold is None:
            return (1.0 - pt).pow(self.gamma)
        term = ((1.0 - pt) / self.reduced_threshold).pow(self.gamma)
        return torch.where(pt < self.reduced_threshold, torch.ones_like(term), term)

    def _softmax(
        self, pred: torch.Tensor, flat: torch.Tensor, labels: torch.Tensor | None, valid: torch.Tensor
    ) -> torch.Tensor:
        assert labels is not None
        log_p = flat.log_softmax(1) if self.from_logits else flat.clamp_min(self.eps).log()
        log_pt = log_p.gather(1, labels.unsqueeze(1))[:, 0]  # (N, P)
        focal = self._focal_term(log_pt.exp())
        loss = -focal * log_pt
        w = torch.ones_like(loss) if self.weight is None else self.weight.to(loss)[labels]
        validf = valid.to(loss.dtype)
        loss = loss * w * validf
        if self.normalized:
            loss = loss / (focal * validf).sum().clamp_min(self.eps)
        if self.reduction == "none":
            return loss.reshape(pred.shape[:1] + pred.shape[2:])
        if self.reduction == "sum":
            return loss.sum()
        return loss.sum() / (w * validf).sum().clamp_min(self.eps)
