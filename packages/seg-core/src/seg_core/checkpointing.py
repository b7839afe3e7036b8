"""Activation checkpointing of model stages: compute traded for memory, batch-norm statistics kept exact."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

__all__ = ["run_checkpointed"]


def run_checkpointed(module: nn.Module, *args: Any, enabled: bool = True) -> Any:
    """``module(*args)``; when ``enabled`` while training with gradients, its activations are not kept
    but recomputed in the backward pass (`torch.utils.checkpoint`, non-reentrant).

    The recomputation does not update the batch norms' running statistics a second time (they
    would otherwise move twice per step, as with twice the momentum).

    Args:
        module: The stage (an encoder level, a decoder block).
        *args: Its inputs.
        enabled: Checkpoint (True) or call plainly (False).

    Returns:
        What ``module`` returns.

    Example:
        >>> run_checkpointed(nn.Conv3d(1, 2, 3, padding=1), torch.randn(1, 1, 4, 4, 4)).shape
        torch.Size([1, 2, 4, 4, 4])
    """
    if enabled and module.training and torch.is_grad_enabled():
        return checkpoint(
            module,
            *args,
            use_reentrant=False,
            context_fn=lambda: (contextlib.nullcontext(), _keep_norm_statistics(module)),
        )
    return module(*args)


@contextlib.contextmanager
def _keep_norm_statistics(module: nn.Module) -> Iterator[None]:
    """Restore the batch norms' running statistics after the block (the recomputation in backward)."""
    norms = [m for m in module.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    saved = [
        [b.clone() for b in (m.running_mean, m.running_var, m.num_batches_tracked) if b is not None] for m in norms
    ]
    try:
        yield
    finally:
        with torch.no_grad():
            for norm, buffers in zip(norms, saved):
                current = [b for b in (norm.running_mean, norm.running_var, norm.num_batches_tracked) if b is not None]
                for buffer, value in zip(current, buffers):
                    buffer.copy_(value)
