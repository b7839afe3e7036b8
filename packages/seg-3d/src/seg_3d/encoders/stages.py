"""Running an encoder stage, optionally with activation checkpointing (compute traded for memory)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

__all__ = ["run_stage"]


def run_stage(stage: nn.Module, x: torch.Tensor, checkpointing: bool) -> torch.Tensor:
    """``stage(x)``; with ``checkpointing`` while training with gradients, its activations are not kept
    but recomputed in the backward pass (`torch.utils.checkpoint`, non-reentrant).

    The recomputation does not update the batch norms' running statistics a second time (they
    would otherwise move twice per step, as with twice the momentum).

    Example:
        >>> run_stage(nn.Conv3d(1, 2, 3, padding=1), torch.randn(1, 1, 4, 4, 4), checkpointing=True).shape
        torch.Size([1, 2, 4, 4, 4])
    """
    if checkpointing and stage.training and torch.is_grad_enabled():
        out: torch.Tensor = checkpoint(
            stage,
            x,
            use_reentrant=False,
            context_fn=lambda: (contextlib.nullcontext(), _keep_norm_statistics(stage)),
        )
        return out
    result: torch.Tensor = stage(x)
    return result


@contextlib.contextmanager
def _keep_norm_statistics(stage: nn.Module) -> Iterator[None]:
    """Restore the batch norms' running statistics after the block (the recomputation in backward)."""
    norms = [m for m in stage.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    saved = [
        [b.clone() for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None] for m in norms
    ]
    try:
        yield
    finally:
        with torch.no_grad():
            for module, buffers in zip(norms, saved):
                current = [
                    b for b in (module.running_mean, module.running_var, module.num_batches_tracked) if b is not None
                ]
                for buffer, value in zip(current, buffers):
                    buffer.copy_(value)
