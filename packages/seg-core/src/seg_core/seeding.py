"""Per-sample seeds: the same random stream for sample ``i`` of epoch ``e`` whatever the DataLoader workers.

A dataset built with ``seed=S`` runs the transforms of sample ``i`` in epoch ``e`` under torch's global RNG
seeded with :func:`sample_seed` ``(S, e, i)`` (:func:`seeded`). seg-data's image datasets and seg-3d's volume
datasets both use it.

Example:
    >>> import torch
    >>> with seeded(sample_seed(0, 0, 3)):
    ...     a = torch.rand(2)
    >>> with seeded(sample_seed(0, 0, 3)):
    ...     b = torch.rand(2)
    >>> torch.equal(a, b)
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["sample_seed", "seeded"]

_MIX = 0x9E3779B97F4A7C15


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Return a deterministic 63-bit seed for one sample of one epoch (independent of the worker count).

    Args:
        seed: The dataset's seed.
        epoch: The epoch (the dataset's ``set_epoch``).
        index: The sample index.

    Returns:
        A non-negative int below ``2**63``; neighbouring ``(epoch, index)`` give unrelated seeds.

    Example:
        >>> sample_seed(0, 0, 1) != sample_seed(0, 1, 0)
        True
    """
    x = (seed * _MIX + epoch * 0xBF58476D1CE4E5B9 + index * 0x94D049BB133111EB) & ((1 << 64) - 1)
    x ^= x >> 31
    return x & ((1 << 63) - 1)


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block with torch's global CPU RNG seeded with ``seed``, restoring its state afterwards.

    Args:
        seed: The seed; None runs the block on the unchanged global RNG.

    Example:
        >>> with seeded(7):
        ...     x = torch.randint(0, 100, (1,))
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
