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
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:
    from seg_train.inference.sliding_window import select_output, sliding_window_inference
    from seg_train.inference.windows import importance_map, plan_windows
