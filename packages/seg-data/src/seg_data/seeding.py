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

import numpy as np
import torch

from seg_core.seeding import sample_seed, seeded

__all__ = ["make_generator", "sample_seed", "seed_worker", "seeded"]


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
