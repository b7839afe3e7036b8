"""Seed everything in one call, and capture / restore every RNG as tensors (for exact resume).

Example:
    >>> from seg_train.seeding import rng_state, seed_everything, set_rng_state
    >>> seed_everything(0)
    >>> state = rng_state()
    >>> import torch; a = torch.rand(1); set_rng_state(state); bool(torch.rand(1) == a)
    True
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

__all__ = ["rng_state", "seed_everything", "set_rng_state"]


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed python's ``random``, numpy and torch (CPU and every GPU).

    DataLoader workers are seeded by `seg_data.seed_worker` and shuffling by a generator from
    `seg_data.make_generator` (the trainer wires both); per-sample augmentation is seeded by the
    dataset's ``seed`` (see `seg_data.seeding`).

    Args:
        seed: The seed.
        deterministic: Also ask torch for deterministic algorithms (``torch.use_deterministic_algorithms``,
            cuDNN without benchmarking, and ``CUBLAS_WORKSPACE_CONFIG`` for cuBLAS).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def rng_state() -> dict[str, Any]:
    """Every RNG's state, as tensors and plain numbers (loadable with ``weights_only=True``).

    Returns:
        ``{"python": Tensor, "python_gauss": float | None, "numpy": Tensor, "numpy_pos": int, "numpy_gauss":
        (int, float), "torch": Tensor, "cuda": [Tensor, ...]}``.
    """
    version, state, gauss = random.getstate()
    _, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": torch.tensor(state, dtype=torch.int64),
        "python_version": int(version),
        "python_gauss": gauss,
        "numpy": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "numpy_pos": int(pos),
        "numpy_gauss": (int(has_gauss), float(cached)),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    random.setstate((state["python_version"], tuple(int(v) for v in state["python"].tolist()), state["python_gauss"]))
    has_gauss, cached = state["numpy_gauss"]
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
