"""3D models: seg's Unet with ``resnet18_3d`` against smp-3d's Unet-resnet18, side by side, and checkpointing.

Cases (batch 1, 1 input channel, 3 classes, CPU, ``torch.set_num_threads(--threads)``, default 2):

* ``iso``: a 1x1x64x64x64 volume, the default strides (2 on every axis at every level);
* ``aniso``: a 1x1x32x128x128 volume with the thick-slice strides
  ``((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))`` (seg: ``encoder_strides=``, smp-3d:
  ``strides=``; seg's kernels follow the strides, 1x3x3 on the not-yet-downsampled axis; smp-3d
  keeps 3x3x3).

For each case and side: an eval forward (``torch.inference_mode``) and a training step (forward,
cross-entropy, backward, SGD step). Wall time and process CPU time per call, in this process, the
sides interleaved (A B then B A in the next round) after one untimed call of each; the ratio is
seg / smp-3d of the same round (median, IQR, min..max). Peak memory: each (side, case, mode) once in
a FRESH subprocess: the model built and one warm-up call on a small input done first, then the
kernel's peak-RSS mark reset (``/proc/self/clear_refs``), and ``VmHWM`` after the call minus the RSS
before it, under ``MALLOC_MMAP_THRESHOLD_=1048576`` so the RSS follows the live tensors. Activation checkpointing: seg's training step with ``checkpointing=True``
(every encoder level and decoder block recomputed in the backward pass) against without, memory and time.

The two networks are not the same network: smp-3d's 3x3x3 kernels on a thick-slice axis cost more
in the anisotropic case; the parameter counts are reported. smp-3d (segmentation_models_pytorch_3d)
is optional: without it, only seg's numbers and the checkpointing rows are reported.

Run: ``nox -s bench`` or ``python benchmarks/bench_3d.py [--quick] [--rounds N] [--threads T]``.
Prints markdown tables and writes JSON (default ``benchmarks/results/bench_3d.json``).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

CLASSES = 3
ANISO = ((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))
CASES: dict[str, dict[str, Any]] = {
    "iso": {"shape": (1, 1, 64, 64, 64), "strides": None},
    "aniso": {"shape": (1, 1, 32, 128, 128), "strides": ANISO},
}
MMAP_1M = {"MALLOC_MMAP_THRESHOLD_": "1048576"}
MIB = 2**20


def _has_smp3d() -> bool:
    return importlib.util.find_spec("segmentation_models_pytorch_3d") is not None


def _build(side: str, case: str, checkpointing: bool = False) -> nn.Module:
    strides = CASES[case]["strides"]
    torch.manual_seed(0)
    if side == "smp3d":
        import segmentation_models_pytorch_3d as smp3d

        kwargs: dict[str, Any] = {} if strides is None else {"strides": strides}
        return smp3d.Unet("resnet18", encoder_weights=None, in_channels=1, classes=CLASSES, **kwargs)
    import seg_core

    return seg_core.create_model(
        "unet", encoder_name="resnet18_3d", in_channels=1, classes=CLASSES, encoder_strides=strides,
        checkpointing=checkpointing,
    )  # fmt: skip


def _inputs(case: str, small: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    shape = CASES[case]["shape"]
    if small:  # the warm-up of a memory child: the same layers, a quarter of the volume per axis pair
        shape = (*shape[:2], shape[2] // 2, shape[3] // 2, shape[4])
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=generator)
    y = torch.randint(0, CLASSES, (shape[0], *shape[2:]), generator=generator)
    return x, y


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()


def _forward(model: nn.Module, x: torch.Tensor) -> None:
    with torch.inference_mode():
        model(x)


class _Runner:
    """One side's model for one case, ready to call in either mode."""

    def __init__(self, side: str, case: str, checkpointing: bool = False) -> None:
        self.model = _build(side, case, checkpointing)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=1e-3)
        self.x, self.y = _inputs(case)

    def __call__(self, mode: str) -> None:
        if mode == "eval":
            self.model.eval()
            _forward(self.model, self.x)
        else:
            self.model.train()
            _step(self.model, self.optimizer, self.x, self.y)


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def _summary(samples: list[float], reference: list[float]) -> dict[str, Any]:
    ratios = [a / b for a, b in zip(samples, reference)]
    q1, q3 = _quartiles(ratios)
    return {
        "median_s": statistics.median(samples), "samples": samples, "ratio_median": statistics.median(ratios),
        "ratio_q1": q1, "ratio_q3": q3, "ratio_min": min(ratios), "ratio_max": max(ratios),
    }  # fmt: skip


def _time_pair(a: _Runner, b: _Runner, mode: str, rounds: int) -> dict[str, Any]:
    """Interleaved rounds of two runners; wall and process CPU time per call."""
    a(mode), b(mode)  # untimed warm-up
    wall: dict[str, list[float]] = {"a": [], "b": []}
    cpu: dict[str, list[float]] = {"a": [], "b": []}
    for r in range(rounds):
        for key, runner in (("a", a), ("b", b)) if r % 2 == 0 else (("b", b), ("a", a)):
            gc.collect()
            w, c = time.perf_counter(), time.process_time()
            runner(mode)
            wall[key].append(time.perf_counter() - w)
            cpu[key].append(time.process_time() - c)
    return {
        "wall": {"a": _summary(wall["a"], wall["b"]), "b": _summary(wall["b"], wall["b"])},
        "cpu": {"a": _summary(cpu["a"], cpu["b"]), "b": _summary(cpu["b"], cpu["b"])},
    }


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS mark of this process (``VmHWM``), so it covers only what follows."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")


def _hwm() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def _child(side: str, case: str, mode: str, checkpointing: bool, threads: int) -> None:
    torch.set_num_threads(threads)
    model = _build(side, case, checkpointing)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    small = _inputs(case, small=True)
    x, y = _inputs(case)
    if mode == "eval":
        model.eval()
        _forward(model, small[0])
        gc.collect()
        _reset_peak()
        before = _rss()
        _forward(model, x)
    else:
        model.train()
        _step(model, optimizer, *small)
        gc.collect()
        _reset_peak()
        before = _rss()
        _step(model, optimizer, x, y)
    peak = _hwm()
    print(json.dumps({"before": before, "peak": peak, "increase": peak - before}))


def _memory(side: str, case: str, mode: str, checkpointing: bool, threads: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        side,
        case,
        mode,
        str(int(checkpointing)),
        "--threads",
        str(threads),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **MMAP_1M}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {side}/{case}/{mode} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 rounds, the isotropic case only")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 2, --quick 2)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "bench_3d.json")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.child:
        side, case, mode, checkpointing = args.child
        _child(side, case, mode, checkpointing == "1", args.threads)
        return
    torch.set_num_threads(args.threads)
    rounds = args.rounds or 2
    cases = ["iso"] if args.quick else list(CASES)
    smp3d = _has_smp3d()
    other = "smp3d" if smp3d else None
    results: dict[str, Any] = {"threads": args.threads, "rounds": rounds, "torch": torch.__version__, "cases": {}}
    print(
        f"## 3D Unet-resnet18: seg vs smp-3d\n\nCPU, {args.threads} thread(s), torch {torch.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPU(s), {rounds} rounds; smp-3d installed: {smp3d}\n"
    )
    rows: list[str] = []
    memory_rows: list[str] = []
    for case in cases:
        entry: dict[str, Any] = {}
        seg_runner = _Runner("seg", case)
        entry["params"] = {"seg": _params(seg_runner.model)}
        if other:
            other_runner = _Runner(other, case)
            entry["params"][other] = _params(other_runner.model)
        for mode in ("eval", "train"):
            # Memory first in fresh children (a child's peak must not inherit this process's).
            mem = {"seg": _memory("seg", case, mode, False, args.threads)}
            if other:
                mem[other] = _memory(other, case, mode, False, args.threads)
            if mode == "train":
                mem["seg_checkpointing"] = _memory("seg", case, mode, True, args.threads)
            timing = _time_pair(seg_runner, other_runner, mode, rounds) if other else None
            if mode == "train":
                ckpt = _Runner("seg", case, checkpointing=True)
                entry["checkpointing_time"] = _time_pair(ckpt, seg_runner, mode, rounds)
                del ckpt
            entry[mode] = {"memory": mem, "time": timing}
            if timing is not None:
                w, c = timing["wall"]["a"], timing["cpu"]["a"]
                rows.append(
                    f"| {case} | {mode} | {w['median_s']:.3f} | {timing['wall']['b']['median_s']:.3f} | "
                    f"{w['ratio_median']:.3f} ({w['ratio_q1']:.3f}..{w['ratio_q3']:.3f}) | "
                    f"{c['ratio_median']:.3f} ({c['ratio_q1']:.3f}..{c['ratio_q3']:.3f}) |"
                )
            seg_mem = mem["seg"]["increase"]
            line = f"| {case} | {mode} | {seg_mem / MIB:.1f} |"
            line += (
                f" {mem[other]['increase'] / MIB:.1f} | {seg_mem / mem[other]['increase']:.3f} |"
                if other
                else " - | - |"
            )
            memory_rows.append(line)
        ck = entry["checkpointing_time"]["wall"]["a"]
        saved = (
            1 - entry["train"]["memory"]["seg_checkpointing"]["increase"] / entry["train"]["memory"]["seg"]["increase"]
        )
        entry["checkpointing"] = {"memory_saved": saved, "time_ratio": ck["ratio_median"]}
        results["cases"][case] = entry
    if rows:
        print("### Time per call (ratio = seg / smp-3d of the same round)\n")
        print("| case | mode | seg median s | smp-3d median s | wall ratio (IQR) | CPU ratio (IQR) |")
        print("|---|---|---:|---:|---:|---:|")
        print("\n".join(rows))
    print("\n### Peak memory increase (MiB, fresh subprocess, MALLOC_MMAP_THRESHOLD_=1048576)\n")
    print("| case | mode | seg | smp-3d | seg / smp-3d |")
    print("|---|---|---:|---:|---:|")
    print("\n".join(memory_rows))
    print("\n### Activation checkpointing (seg, training step, encoder levels and decoder blocks)\n")
    print("| case | memory without | memory with | saved | time with / without (IQR) |")
    print("|---|---:|---:|---:|---:|")
    for case, entry in results["cases"].items():
        mem = entry["train"]["memory"]
        t = entry["checkpointing_time"]["wall"]["a"]
        print(
            f"| {case} | {mem['seg']['increase'] / MIB:.1f} | {mem['seg_checkpointing']['increase'] / MIB:.1f} | "
            f"{entry['checkpointing']['memory_saved']:.1%} | {t['ratio_median']:.3f} ({t['ratio_q1']:.3f}.."
            f"{t['ratio_q3']:.3f}) |"
        )
    print("\nParameters: " + ", ".join(f"{c}: {e['params']}" for c, e in results["cases"].items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1))
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
