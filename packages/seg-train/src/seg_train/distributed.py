"""DistributedDataParallel under ``torchrun``: process info, setup, and samplers.

Training uses torch's `DistributedSampler`; evaluation uses `EvalShardSampler`, which gives each
rank a disjoint share of the samples *without padding*, so metrics synced across ranks count
every sample exactly once (DistributedSampler repeats samples to even out the ranks).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

__all__ = ["DistInfo", "EvalShardSampler", "all_reduce_sum", "setup_distributed"]


@dataclass(frozen=True)
class DistInfo:
    """Where this process stands.

    Attributes:
        rank: Global rank (0 on a single process).
        world_size: Number of processes.
        local_rank: Rank on this machine (picks the GPU).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def setup_distributed(backend: str | None = None) -> DistInfo:
    """Join the process group ``torchrun`` describes in the environment (``RANK``, ``WORLD_SIZE``...).

    A single process (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) needs no process group.

    Args:
        backend: ``"nccl"`` or ``"gloo"``; default: nccl with CUDA, else gloo.

    Returns:
        This process's rank, world size and local rank.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        chosen = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if chosen == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=chosen)
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank)


class EvalShardSampler(Sampler[int]):
    """Rank ``r`` of ``w`` gets samples ``r, r + w, r + 2w, ...``: disjoint, complete, never padded.

    Example:
        >>> list(EvalShardSampler(5, rank=1, world_size=2))
        [1, 3]
    """

    def __init__(self, length: int, *, rank: int, world_size: int) -> None:
        self.length, self.rank, self.world_size = length, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.length, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.length, self.world_size))


def all_reduce_sum(value: torch.Tensor) -> torch.Tensor:
    """Sum ``value`` over all processes (itself on a single process)."""
    if dist.is_available() and dist.is_initialized():
        value = value.clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value
