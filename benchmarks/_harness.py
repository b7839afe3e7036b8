"""Shared measuring code of the benchmarks: interleaved rounds, ratios with their spread, peak memory, tables.

Machines here are shared and noisy, so every comparison runs its variants in one process,
interleaved (``A B C, B C A, C A B, ...``: each variant takes every position in turn), and
each ratio is computed per round (a slow drift of the machine's speed cancels out). Both wall
and process CPU time are recorded; with one thread, CPU time is much less disturbed by other
load. A ratio is reported as its median, the 10th..90th percentiles of the per-round ratios,
and a bootstrap 95% confidence interval of the median. Rounds continue until that interval is
narrower than the resolution asked for (3% by default) or the time budget is spent; the verdict
then says "faster", "slower", "tie", or "cannot resolve 3%" when the interval stayed wider.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


# -- memory ----------------------------------------------------------------------------------
def rss() -> int:
    """Resident set size of this process, in bytes."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark of this process (``VmHWM``), so it covers only what follows."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def peak() -> int:
    """The peak RSS (``VmHWM``) since the last `reset_peak`, in bytes."""
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def _trim() -> None:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_increase(fn: Callable[[], Any], repeat: int = 3) -> int:
    """Median over ``repeat`` calls of (peak RSS during ``fn()``) - (RSS before), in bytes.

    Before each call the garbage is collected and ``malloc_trim`` hands freed heap pages back to
    the system, so pages the call touches count even where the allocator reuses freed blocks.
    (A fixed ``MALLOC_MMAP_THRESHOLD_`` would do the same for large tensors, but it makes every
    call pay page faults and distorts the timings run in the same process.)
    """
    samples = []
    for _ in range(repeat):
        _trim()
        reset_peak()
        before = rss()
        fn()
        samples.append(peak() - before)
    return int(statistics.median(samples))


def interleaved_peaks(variants: dict[str, Callable[[], Any]], repeat: int = 3) -> dict[str, int]:
    """`peak_increase` of every variant, interleaved ``repeat`` times (A B, B A, ...); medians in bytes."""
    names = list(variants)
    samples: dict[str, list[int]] = {n: [] for n in names}
    for r in range(repeat):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            samples[name].append(peak_increase(variants[name], repeat=1))
    return {n: int(statistics.median(v)) for n, v in samples.items()}


# -- timing ----------------------------------------------------------------------------------
def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def bootstrap_ci(values: Sequence[float], samples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95% bootstrap confidence interval of the median of ``values``."""
    rng = random.Random(seed)
    n = len(values)
    medians = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(samples))
    return medians[int(0.025 * samples)], medians[int(0.975 * samples) - 1]


#: Differences of the median ratio smaller than this are ties, however narrow the interval: the
#: same work measured against itself drifts by about this much on these machines.
TIE = 0.01
#: Rounds needed before a ratio may be called faster or slower.
MIN_DECISIVE = 5


def ratio_summary(ratios: Sequence[float], resolution: float = 0.03) -> dict[str, Any]:
    """Median, p10..p90 and the 95% CI of per-round ratios, with the verdict at ``resolution``.

    The verdict is "cannot resolve 3%" when the interval is wider than twice ``resolution``;
    else "faster" / "slower" when the interval excludes 1 and the median differs from 1 by
    more than `TIE`; else "tie". Fewer than `MIN_DECISIVE` rounds say "faster" or "slower"
    only when every ratio lies beyond 1 +- 3 x ``resolution`` (three close ratios make a narrow
    interval by chance); otherwise "cannot resolve".
    """
    low, high = bootstrap_ci(ratios) if len(ratios) >= 3 else (min(ratios), max(ratios))
    median = statistics.median(ratios)
    # with few rounds, only a difference far outside any drift decides (every ratio beyond 1 +- 3 x resolution)
    decisive = len(ratios) >= MIN_DECISIVE or all(abs(r - 1.0) > 3 * resolution for r in ratios)
    if high - low > 2 * resolution or (not decisive and abs(median - 1.0) > TIE):
        verdict = f"cannot resolve {resolution:.0%}"
    elif high < 1.0 and median < 1.0 - TIE:
        verdict = "faster"
    elif low > 1.0 and median > 1.0 + TIE:
        verdict = "slower"
    else:
        verdict = "tie"
    return {
        "median": median,
        "p10": _percentile(ratios, 0.1),
        "p90": _percentile(ratios, 0.9),
        "ci95": [low, high],
        "verdict": verdict,
        "rounds": len(ratios),
    }


def interleave(
    variants: dict[str, Callable[[], Any]],
    *,
    baseline: str,
    min_rounds: int = 5,
    max_rounds: int = 30,
    budget_s: float = 60.0,
    resolution: float = 0.03,
    warmup: bool = True,
) -> dict[str, Any]:
    """Time ``variants`` in interleaved rounds until every ratio to ``baseline`` is resolved or the budget is spent.

    Args:
        variants: Name -> a callable doing one unit of work (one forward, one training step).
        baseline: The variant the others are divided by (smp, or plain PyTorch).
        min_rounds: Rounds always taken.
        max_rounds: Rounds at most.
        budget_s: Wall-clock budget for the rounds after ``min_rounds``.
        resolution: The difference the confidence interval must be able to tell.
        warmup: Call each variant once untimed first (False when the caller already did).

    Returns:
        ``{"wall": {...}, "cpu": {...}}``: per variant the median seconds per call and the
        samples, and for every variant but the baseline the `ratio_summary` of the per-round
        ratios (CPU time decides when rounds stop).
    """
    names = list(variants)
    for fn in variants.values() if warmup else ():  # warm-up (first-call costs, allocator)
        fn()
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    start = time.perf_counter()
    rounds = 0
    while rounds < max_rounds:
        order = names[rounds % len(names) :] + names[: rounds % len(names)]
        for name in order:
            gc.collect()
            w, c = time.perf_counter(), time.process_time()
            variants[name]()
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
        rounds += 1
        if rounds < min_rounds:
            continue
        resolved = all(
            ratio_summary([a / b for a, b in zip(cpu[n], cpu[baseline])], resolution)["verdict"]
            != f"cannot resolve {resolution:.0%}"
            for n in names
            if n != baseline
        )
        if resolved or time.perf_counter() - start > budget_s:
            break
    out: dict[str, Any] = {}
    for kind, table in (("wall", wall), ("cpu", cpu)):
        out[kind] = {n: {"median_s": statistics.median(v), "samples": v} for n, v in table.items()}
        for n in names:
            if n != baseline:
                out[kind][n]["ratio"] = ratio_summary([a / b for a, b in zip(table[n], table[baseline])], resolution)
    out["rounds"] = rounds
    return out


def fmt_ratio(summary: dict[str, Any]) -> str:
    """``0.97 (0.93..1.01) tie`` from a `ratio_summary`."""
    return f"{summary['median']:.2f} ({summary['p10']:.2f}..{summary['p90']:.2f}) {summary['verdict']}"


# -- machine and output ----------------------------------------------------------------------
def matmul_peak_gflops(threads: int, size: int = 1024, repeat: int = 10) -> float:
    """The best fp32 matmul rate of this machine at ``threads`` threads (GFLOP/s): its practical peak."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    torch.set_num_threads(previous)
    return 2 * size**3 / best / 1e9


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine() -> dict[str, Any]:
    """CPU model, cores, Python, torch and the CPU's vector extensions."""
    import torch

    model, flags = platform.processor() or "unknown", ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name") and model in ("unknown", "x86_64", ""):
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    extensions = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f" {f}" in flags]
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "extensions": extensions,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
