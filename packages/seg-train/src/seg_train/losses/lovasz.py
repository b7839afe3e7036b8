"""Lovasz hinge and Lovasz-softmax losses (Berman et al. 2018), vectorized over classes and images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from seg_core.errors import ConfigError
from seg_train.losses._checks import as_class_weight, check_choice, check_ignore_index, check_mode, check_weight_size
from seg_train.losses._targets import prepare
from seg_train.losses.base import BINARY, MULTICLASS, SegLoss

__all__ = ["LovaszLoss", "lovasz_extension"]


class LovaszLoss(SegLoss):
    """The Lovasz extension of the Jaccard loss, a surrogate optimised for IoU.

    - multiclass: Lovasz-softmax over the classes present in the target (Berman's default);
      ``from_logits=True`` applies a softmax, ``False`` takes probabilities.
    - binary and multilabel: with ``from_logits=True`` (default), the Lovasz hinge on the logits
      (smp's form, per class for multilabel); with ``from_logits=False``, the Lovasz extension
      on the probability errors ``|t - p|``. smp ignores ``from_logits``.

    Args:
        mode: ``"binary"``, ``"multiclass"`` or ``"multilabel"``.
        per_image: One loss per image, averaged; default: one over the batch.
        ignore_index: Target value of pixels that do not count.
        from_logits: See above.
        weight: One weight per class (not binary): the loss is the weighted mean over the
            classes that count.

    Raises:
        ConfigError: An argument outside its accepted values (named in the message).

    Example:
        >>> import torch
        >>> loss = LovaszLoss("multiclass", ignore_index=255)
        >>> value = loss(torch.randn(2, 3, 8, 8), torch.randint(0, 3, (2, 8, 8)))
    """

    def __init__(
        self,
        mode: str,
        per_image: bool = False,
        ignore_index: int | None = None,
        from_logits: bool = True,
        weight: Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.mode = check_mode(LovaszLoss, mode)
        self.per_image = bool(check_choice("LovaszLoss", "per_image", per_image, (True, False)))
        self.ignore_index = check_ignore_index("LovaszLoss", ignore_index)
        self.from_logits = bool(check_choice("LovaszLoss", "from_logits", from_logits, (True, False)))
        self.register_buffer("weight", as_class_weight("LovaszLoss", weight), persistent=False)
        if self.weight is not None and self.mode == BINARY:
            raise ConfigError("LovaszLoss: weight is one number per class, and mode='binary' has one class")

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Return the loss, a scalar.

        Args:
            pred: (N, C, *spatial) logits (or probabilities with ``from_logits=False``).
            target: See `seg_train.losses` for the shape each mode takes.
        """
        prepared = prepare("LovaszLoss", pred, target, self.mode, self.ignore_index)
        n, c, _ = prepared.pred.shape
        check_weight_size("LovaszLoss", self.weight, c)
        fg = prepared.target
        valid = prepared.valid.expand_as(fg)
        if self.mode == MULTICLASS:
            probs = prepared.pred.softmax(1) if self.from_logits else prepared.pred
            errors = (fg - probs).abs()
        elif self.from_logits:
            errors = 1.0 - prepared.pred * (2.0 * fg - 1.0)  # hinge
        else:
            errors = (fg - prepared.pred).abs()
        if self.per_image:
            rows = (errors.reshape(n * c, -1), fg.reshape(n * c, -1), valid.reshape(n * c, -1))
        else:
            rows = tuple(x.transpose(0, 1).reshape(c, -1) for x in (errors, fg, valid))  # type: ignore[assignment]
        losses = lovasz_extension(*rows)
        present = rows[1].sum(1) > 0
        counts = present if self.mode == MULTICLASS else torch.ones_like(present)
        shape = (n, c) if self.per_image else (c,)
        losses, counts = losses.reshape(shape), counts.reshape(shape).to(losses.dtype)
        weight = (
            torch.ones(c, dtype=losses.dtype, device=losses.device) if self.weight is None else self.weight.to(losses)
        )
        total = (weight * counts).sum(-1)
        per_group = (losses * weight * counts).sum(-1) / total.clamp_min(torch.finfo(losses.dtype).tiny)
        return per_group.mean() if self.per_image else per_group


def lovasz_extension(errors: torch.Tensor, foreground: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The Lovasz extension of the Jaccard loss for each row.

    Args:
        errors: (R, P) per-pixel errors (hinge margins or ``|t - p|``).
        foreground: (R, P) ground truth in [0, 1].
        valid: (R, P) bool; invalid pixels are left out (exactly as if they were removed).

    Returns:
        (R,) losses: the errors sorted in decreasing order, clamped at 0, dotted with the
        gradient of the Lovasz extension.

    Example:
        >>> import torch
        >>> lovasz_extension(torch.tensor([[0.2, 0.9]]), torch.tensor([[1.0, 0.0]]), torch.ones(1, 2, dtype=torch.bool))
        tensor([0.6500])
    """
    errors = errors.masked_fill(~valid, float("-inf"))
    errors_sorted, order = torch.sort(errors, dim=1, descending=True)
    gt_sorted = (foreground * valid).gather(1, order)
    gts = gt_sorted.sum(1, keepdim=True)
    intersection = gts - gt_sorted.cumsum(1)
    union = gts + (1.0 - gt_sorted).cumsum(1)
    jaccard = 1.0 - intersection / union
    grad = torch.cat([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], dim=1)
    return (F.relu(errors_sorted) * grad).sum(1)
