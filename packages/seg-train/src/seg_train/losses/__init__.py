"""Segmentation losses with smp's class names and arguments, correct where smp is not.

Shapes, for a prediction ``(N, C, *spatial)`` (2D or 3D):

- ``mode="binary"``: C = 1; target ``(N, *spatial)`` or ``(N, 1, *spatial)`` in [0, 1];
- ``mode="multiclass"``: target ``(N, *spatial)`` of class indices (``torch.long``);
- ``mode="multilabel"``: target ``(N, C, *spatial)`` in [0, 1].

``ignore_index`` marks target values that count in no numerator and no denominator. Any other
target value outside the classes is an error, never a silent class. ``weight`` is one number per
class (``seg_data.compute_class_weights`` computes them) and is copied, never changed in place.

Example:
    >>> import torch
    >>> from seg_train.losses import CrossEntropyLoss, DiceLoss
    >>> loss = CrossEntropyLoss(ignore_index=255) + 0.5 * DiceLoss("multiclass", ignore_index=255)
    >>> value = loss(torch.randn(2, 3, 16, 16), torch.randint(0, 3, (2, 16, 16)))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports

_LAZY: dict[str, str] = {
    "BINARY": "seg_train.losses.base",
    "MULTICLASS": "seg_train.losses.base",
    "MULTILABEL": "seg_train.losses.base",
    "MODES": "seg_train.losses.base",
    "SegLoss": "seg_train.losses.base",
    "CrossEntropyLoss": "seg_train.losses.cross_entropy",
    "SoftCrossEntropyLoss": "seg_train.losses.cross_entropy",
    "SoftBCEWithLogitsLoss": "seg_train.losses.cross_entropy",
    "DiceLoss": "seg_train.losses.region",
    "JaccardLoss": "seg_train.losses.region",
    "TverskyLoss": "seg_train.losses.region",
    "GeneralizedDiceLoss": "seg_train.losses.region",
    "MCCLoss": "seg_train.losses.region",
    "FocalLoss": "seg_train.losses.focal",
    "LovaszLoss": "seg_train.losses.lovasz",
    "WeightedSum": "seg_train.losses.base",
    "DeepSupervisionLoss": "seg_train.losses.compose",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:
    from seg_train.losses.base import BINARY, MODES, MULTICLASS, MULTILABEL, SegLoss, WeightedSum
    from seg_train.losses.compose import DeepSupervisionLoss
    from seg_train.losses.cross_entropy import CrossEntropyLoss, SoftBCEWithLogitsLoss, SoftCrossEntropyLoss
    from seg_train.losses.focal import FocalLoss
    from seg_train.losses.lovasz import LovaszLoss
    from seg_train.losses.region import DiceLoss, GeneralizedDiceLoss, JaccardLoss, MCCLoss, TverskyLoss
