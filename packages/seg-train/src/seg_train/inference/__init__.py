"""Inference at scale: N-d sliding windows, test-time augmentation, and ``seg predict``.

Example:
    >>> import torch
    >>> from seg_train.inference import sliding_window_inference
    >>> model = torch.nn.Conv2d(3, 4, 3, padding=1)
    >>> logits = sliding_window_inference(torch.randn(1, 3, 100, 90), model, 64, overlap=0.5, mode="gaussian")
    >>> logits.shape
    torch.Size([1, 4, 100, 90])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports

_LAZY: dict[str, str] = {
    "sliding_window_inference": "seg_train.inference.sliding_window",
    "select_output": "seg_train.inference.sliding_window",
    "plan_windows": "seg_train.inference.windows",
    "importance_map": "seg_train.inference.windows",
    "CellGrid": "seg_train.inference.windows",
    "TestTimeAugmentation": "seg_train.inference.tta",
    "TTAView": "seg_train.inference.tta",
    "PIXSEG_SCALES": "seg_train.inference.tta",
    "predict": "seg_train.inference.predict",
    "parse_window": "seg_train.inference.predict",
    "parse_tta": "seg_train.inference.predict",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:
    from seg_train.inference.predict import parse_tta, parse_window, predict
    from seg_train.inference.sliding_window import select_output, sliding_window_inference
    from seg_train.inference.tta import PIXSEG_SCALES, TestTimeAugmentation, TTAView
    from seg_train.inference.windows import CellGrid, importance_map, plan_windows
