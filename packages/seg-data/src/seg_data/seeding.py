"""Seeding: per-sample seeds for the datasets' transforms, DataLoader generators and worker init.

A dataset built with ``seed=S`` runs the transforms of sample ``i`` in epoch ``e`` under torch's global RNG
seeded with :func:`sample_seed` ``(S, e, i)`` (:func:`seeded`): the stream is the same whatever the number of
DataLoader workers or the order in which they fetch samples. :func:`make_generator` and :func:`seed_worker`
make the DataLoader's shuffling and the workers' ``random``/numpy reproducible too.

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

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["make_generator", "sample_seed", "seed_worker", "seeded"]

_MIX = 0x9E3779B97F4A7C15


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Return a deterministic 63-bit seed for one sample of one epoch (independent of the worker count).

    Args:
        seed: The dataset's seed.
        epoch: The epoch (see ``SegmentationDataset.set_epoch``).
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


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for DataLoader: seed ``random`` and numpy from the worker's torch seed.

    torch itself is seeded per worker by the DataLoader from its ``generator``; pass
    ``generator=make_generator(seed)`` for a reproducible stream.

    Args:
        worker_id: The worker's id (unused: the DataLoader already made the torch seed distinct).

    Example:
        >>> from torch.utils.data import DataLoader
        >>> loader = DataLoader(range(4), num_workers=0, worker_init_fn=seed_worker, generator=make_generator(0))
    """
    del worker_id
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


def make_generator(seed: int) -> torch.Generator:
    """Return a CPU ``torch.Generator`` seeded with ``seed`` (for the DataLoader's shuffling and worker seeds).

    Args:
        seed: The seed.

    Returns:
        The generator.

    Example:
        >>> make_generator(0).initial_seed()
        0
    """
    return torch.Generator().manual_seed(int(seed))
