"""Running an encoder stage, optionally with activation checkpointing (compute traded for memory)."""

from __future__ import annotations

import torch
from torch import nn

from seg_core.checkpointing import run_checkpointed

__all__ = ["run_stage"]


def run_stage(stage: nn.Module, x: torch.Tensor, checkpointing: bool) -> torch.Tensor:
    """``stage(x)``; with ``checkpointing`` while training with gradients, its activations are not kept
    but recomputed in the backward pass (`seg_core.checkpointing.run_checkpointed`: the batch norms'
    running statistics move once per step, as without).

    Example:
        >>> run_stage(nn.Conv3d(1, 2, 3, padding=1), torch.randn(1, 1, 4, 4, 4), checkpointing=True).shape
        torch.Size([1, 2, 4, 4, 4])
    """
    out: torch.Tensor = run_checkpointed(stage, x, enabled=checkpointing)
    return out
