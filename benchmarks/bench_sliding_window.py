"""Sliding-window inference: ``seg_train.inference.sliding_window_inference`` against MONAI's, side by side.

The case: a 1x1x192x192x192 float32 volume, 14 classes, 96^3 windows, overlap 0.5, Gaussian blending
(sigma 0.125), one window per model call, on CPU, ``torch.set_num_threads(--threads)`` (default 2).
Two models, built from the same seed for every side (the same weights):

* ``cnn``: ``Conv3d(1, 8, 3, padding=1) -> ReLU -> Conv3d(8, 14, 1)``, a cheap 3D model;
* ``conv1x1``: ``Conv3d(1, 14, 1)``, a model that costs next to nothing: what is left is the sliding
  window's own cost (cutting windows, weighting, accumulating, normalising / reducing).

Cases: MONAI's ``sliding_window_inference`` (default, not buffered), MONAI with ``buffer_steps=1`` (its own
memory-saving advice), MONAI with ``device="cpu"`` (the same work as the default: it doubles as the
noise control, MONAI against itself), MONAI followed by ``softmax(1)`` or ``argmax(1)`` (time only: what probabilities or labels cost with
MONAI), and seg with ``output="logits"``, ``"probabilities"`` and ``"labels"``.

* Correctness (asserted, both models): seg's logits equal MONAI's within 1e-5, seg's probabilities
  equal MONAI's softmax within 1e-5, seg's labels equal the argmax of MONAI's logits, MONAI buffered
  equals MONAI.
* Wall time: in this process, after one untimed call of every case (the correctness check), rounds
  of every case in turn (A B C ... then ... C B A in the next round, so no case always runs first),
  the median over rounds, and per round the ratio case / MONAI (default) of the same round:
  median, IQR, min..max. MONAI ``device="cpu"`` / MONAI is the same work, so its spread is the noise.
* Peak memory: every measurement in a FRESH subprocess (the peak RSS never goes down): build the
  model and the volume, one untimed call of the same case on a small 1x1x100x96x96 volume (so the
  first-call costs of the runtime are paid outside; its peak stays below the real call's), then read
  the RSS right before the call (``/proc/self/statm``) and ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
  after it. The memory runs come first, while this process is small: Linux starts a child's
  ``ru_maxrss`` at the peak of the parent it was spawned from, so a parent that has held GBs would
  hide the children's peaks (each child also reports ``VmHWM``, which exec resets, as a check). Reported: the peak RSS and the increase (peak - RSS before); the increase is the fair
  number, since the torch + MONAI runtime under it is the same for every case. Python's
  ``tracemalloc`` does not see torch's allocations, so RSS it is. Each subprocess runs ``--mem-repeats``
  times, under glibc's default malloc and (full run) under ``MALLOC_MMAP_THRESHOLD_=1048576``, which
  fixes glibc's mmap threshold at 1 MiB so every tensor of 1 MiB or more is mapped and unmapped on its
  own: then the RSS follows the live tensors and the analytic formulas match to a few MiB (glibc's
  default raises the threshold up to 32 MiB as blocks are freed, so some freed memory stays counted).
* The analytic formulas (bytes) next to the measured increases; the symbols are printed with the
  results (see ``docs/train/inference.md``).

Targets (from the issue): seg's time at most 1.0x MONAI's; with ``output="labels"``, the peak memory
(increase) at most 0.5x MONAI's. The verdict says "meets", "misses" or "cannot tell" from the
spreads: the time ratio's IQR against 1.0 (and the MONAI/MONAI noise), the memory ratio's min..max
over the repeats against 0.5.

Run: ``nox -s bench`` or ``python benchmarks/bench_sliding_window.py [--quick] [--rounds N] [--threads T]``.
Prints a markdown table and writes JSON (default ``benchmarks/results/bench_sliding_window.json``).
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

SIZE, WINDOW, CLASSES, OVERLAP, SIGMA = 192, 96, 14, 0.5, 0.125
WARMUP_SHAPE = (1, 1, 100, 96, 96)  # two rows of windows along the first axis: every code path, a small peak
TIME_TARGET, MEMORY_TARGET = 1.0, 0.5
MIB = 2**20
MMAP_1M = {"MALLOC_MMAP_THRESHOLD_": "1048576"}

MODELS = {
    "cnn": "Conv3d(1,8,3) -> ReLU -> Conv3d(8,14,1)",
    "conv1x1": "Conv3d(1,14,1) (overhead floor)",
}
CASES = {
    "monai": "MONAI (default)",
    "monai_buffered": "MONAI buffer_steps=1",
    "monai_device_cpu": 'MONAI device="cpu"',
    "monai_argmax": "MONAI + argmax(1)",
    "monai_softmax": "MONAI + softmax(1)",
    "seg_logits": 'seg output="logits"',
    "seg_probabilities": 'seg output="probabilities"',
    "seg_labels": 'seg output="labels"',
}
MEMORY_CASES = ["model", "monai", "monai_buffered", "monai_device_cpu", "seg_logits", "seg_probabilities", "seg_labels"]
MEMORY_LABELS = {"model": "model alone, one window (reference)", **CASES}


def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name == "cnn":
        model: nn.Module = nn.Sequential(nn.Conv3d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv3d(8, CLASSES, 1))
    else:
        model = nn.Conv3d(1, CLASSES, 1)
    return model.eval()


def _volume(shape: tuple[int, ...] = (1, 1, SIZE, SIZE, SIZE)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(1))


def _call(case: str, volume: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """One sliding-window inference of ``case`` (``torch.no_grad`` is the caller's)."""
    if case.startswith("monai"):
        from monai.inferers import sliding_window_inference as monai_sliding_window

        kwargs: dict[str, Any] = {"overlap": OVERLAP, "mode": "gaussian", "sigma_scale": SIGMA}
        if case == "monai_buffered":
            kwargs["buffer_steps"] = 1
        if case == "monai_device_cpu":
            kwargs["device"] = "cpu"
        result = monai_sliding_window(volume, (WINDOW,) * 3, 1, model, **kwargs)
        assert isinstance(result, torch.Tensor)
        if case == "monai_softmax":
            return result.softmax(1)
        return result.argmax(1) if case == "monai_argmax" else result
    from seg_train.inference import sliding_window_inference

    output = case.removeprefix("seg_")
    return sliding_window_inference(
        volume, model, WINDOW, overlap=OVERLAP, mode="gaussian", sigma_scale=SIGMA, batch_size=1, output=output
    )


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _hwm() -> int:
    """VmHWM, the peak RSS of this process's own address space (new at exec, unlike ru_maxrss)."""
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def _child(case: str, model_name: str, threads: int) -> None:
    """In a fresh interpreter: one measured call; prints a JSON line."""
    torch.set_num_threads(threads)
    import monai.inferers  # noqa: F401  (the same runtime under every case)

    import seg_train.inference.sliding_window  # noqa: F401

    model, volume = _model(model_name), _volume()
    window = (slice(None), slice(None), *(slice(0, WINDOW),) * 3)
    with torch.no_grad():
        if case == "model":
            model(_volume((1, 1, 48, 48, 48)))  # warm-up below the peak
            gc.collect()
            before, max_before, start = _rss(), _maxrss(), time.perf_counter()
            result = model(volume[window])  # a view, as MONAI passes it
        else:
            _call(case, _volume(WARMUP_SHAPE), model)
            gc.collect()
            before, max_before, start = _rss(), _maxrss(), time.perf_counter()
            result = _call(case, volume, model)
        seconds = time.perf_counter() - start
        peak, after, hwm = _maxrss(), _rss(), _hwm()
    record = {
        "case": case, "model": model_name, "rss_before": before, "maxrss_before": max_before, "peak_rss": peak,
        "rss_after": after, "increase": peak - before, "seconds": seconds, "output_shape": list(result.shape),
        "output_dtype": str(result.dtype), "peak_above_earlier_peak": peak > max_before, "vm_hwm": hwm,
    }  # fmt: skip
    print(json.dumps(record))


def _measure_memory(case: str, model_name: str, threads: int, env_extra: dict[str, str]) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", case, "--model", model_name, "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **env_extra}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {case}/{model_name} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- analytic formulas ---------------------------------------------------------------------------


def _symbols(model_peak: int) -> dict[str, int]:
    """Bytes of each term, for B=1, K=14, 192^3 image (no padding: P = I), 96^3 windows, float32, n=1."""
    s, b, k, n, c_in = 4, 1, CLASSES, 1, 1
    image = padded = (SIZE,) * 3
    window = (WINDOW,) * 3
    return {
        "A": b * k * math.prod(padded) * s,  # the blended accumulator B*K*prod(P)*s
        "C": math.prod(padded) * s,  # the count map prod(P)*s
        "W": n * k * math.prod(window) * s,  # one batch of window outputs n*K*prod(R)*s
        "Wb": n * c_in * math.prod(window) * s,  # one batch of window inputs n*C*prod(R)*s
        "S": k * window[0] * math.prod(padded[1:]) * s,  # one slab K*R0*P1*P2*s
        "L": b * math.prod(image) * 1,  # uint8 labels B*prod(I)
        "F": k * math.prod(padded[:-1]) * window[-1] * s,  # MONAI's buffer (buffer_dim=-1): K*P0*P1*R2*s
        "G": k * _live_cells(padded, window) * s,  # the streamed accumulator's peak: live cells K*G*s
        "M": model_peak,  # the model's own peak on one window (measured: "model alone"), output included
    }


def _live_cells(padded: tuple[int, ...], window: tuple[int, ...]) -> int:
    from seg_train.inference.windows import CellGrid, plan_windows

    plan = plan_windows(padded, window, OVERLAP)
    return CellGrid.of(plan).peak_live(plan.windows())


def _analytic(case: str, t: dict[str, int]) -> dict[str, int]:
    """Peak increase, bytes: "docs" is the formula on docs/train/inference.md (what the design needs);
    "implemented" also counts the temporaries this implementation allocates (see the report).

    M, the model's peak on one window, includes its output W; MONAI holds a second W, the previous
    window's output, while the next window runs; seg releases it first.
    """
    A, C, W, Wb, L, F, G, M = (t[x] for x in ["A", "C", "W", "Wb", "L", "F", "G", "M"])
    docs = {
        "model": M,
        "monai": A + C + W + M,
        "monai_device_cpu": A + C + W + M,
        "monai_buffered": A + C + F + W + M,
        "seg_logits": A + C + M,
        "seg_probabilities": A + C + M,
        "seg_labels": L + G + M,
    }[case]
    implemented = {
        "model": M,
        "monai": A + C + W + M,
        "monai_device_cpu": A + C + W + M,
        "monai_buffered": A + C + F + W + M,
        # the window batch is alive while the model runs; weighting, division and softmax are in place
        "seg_logits": A + C + Wb + M,
        "seg_probabilities": A + C + Wb + M,
        "seg_labels": L + G + Wb + M,
    }[case]
    return {"docs": docs, "implemented": implemented}


# -- statistics ----------------------------------------------------------------------------------


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def _verify(model: nn.Module, volume: torch.Tensor) -> dict[str, Any]:
    """One call of every case (also the timing warm-up); asserts the equalities."""
    with torch.no_grad():
        out = {case: _call(case, volume, model) for case in CASES}
    reference = out["monai"]
    logits_diff = (out["seg_logits"] - reference).abs().max().item()
    probabilities_diff = (out["seg_probabilities"] - reference.softmax(1)).abs().max().item()
    buffered_diff = (out["monai_buffered"] - reference).abs().max().item()
    argmax = reference.argmax(1).to(out["seg_labels"].dtype)
    mismatches = int((out["seg_labels"] != argmax).sum())
    checks = {
        "logits_max_abs_diff": logits_diff,
        "probabilities_max_abs_diff": probabilities_diff,
        "monai_buffered_max_abs_diff": buffered_diff,
        "labels_mismatches": mismatches,
        "labels_dtype": str(out["seg_labels"].dtype),
        "labels_equal_monai_argmax": mismatches == 0 and torch.equal(out["seg_labels"].long(), out["monai_argmax"]),
    }
    assert logits_diff <= 1e-5, f"seg logits differ from MONAI's by {logits_diff}"
    assert probabilities_diff <= 1e-5, f"seg probabilities differ from MONAI's softmax by {probabilities_diff}"
    assert buffered_diff <= 1e-5, f"MONAI buffered differs from MONAI by {buffered_diff}"
    assert checks["labels_equal_monai_argmax"], f"seg labels differ from MONAI's argmax at {mismatches} voxels"
    return checks


def _time(model: nn.Module, volume: torch.Tensor, rounds: int) -> dict[str, Any]:
    names = list(CASES)
    samples: dict[str, list[float]] = {case: [] for case in names}
    with torch.no_grad():
        for r in range(rounds):
            for case in names if r % 2 == 0 else reversed(names):
                gc.collect()
                start = time.perf_counter()
                result = _call(case, volume, model)
                samples[case].append(time.perf_counter() - start)
                del result
    out: dict[str, Any] = {}
    for case in names:
        ratios = [t / m for t, m in zip(samples[case], samples["monai"])]
        q1, q3 = _quartiles(ratios)
        out[case] = {
            "seconds": samples[case], "median_s": statistics.median(samples[case]), "min_s": min(samples[case]),
            "max_s": max(samples[case]), "ratios_vs_monai": ratios, "ratio_median": statistics.median(ratios),
            "ratio_q1": q1, "ratio_q3": q3, "ratio_min": min(ratios), "ratio_max": max(ratios),
        }  # fmt: skip
    return out


def _time_verdict(case: dict[str, Any], control: dict[str, Any]) -> str:
    noise = max(abs(control["ratio_q1"] - 1), abs(control["ratio_q3"] - 1))
    if case["ratio_q3"] <= TIME_TARGET:
        return "meets"
    if case["ratio_q1"] > TIME_TARGET + noise:
        return "misses"
    return "cannot tell"


def _memory_summary(runs: list[dict[str, Any]], symbols: dict[str, int], case: str) -> dict[str, Any]:
    increases = [r["increase"] for r in runs]
    return {
        "runs": runs,
        "increase_median": statistics.median(increases),
        "increase_min": min(increases),
        "increase_max": max(increases),
        "peak_rss_median": statistics.median(r["peak_rss"] for r in runs),
        "rss_before_median": statistics.median(r["rss_before"] for r in runs),
        "peak_above_earlier_peak": all(r["peak_above_earlier_peak"] for r in runs),
        "maxrss_minus_vm_hwm_max": max(abs(r["peak_rss"] - r["vm_hwm"]) for r in runs),
        "analytic": _analytic(case, symbols),
    }


def _memory(models: list[str], allocators: dict[str, dict[str, str]], repeats: int, threads: int) -> dict[str, Any]:
    """Fresh subprocesses, the cases interleaved (every case once per repeat)."""
    out: dict[str, Any] = {}
    for allocator, env_extra in allocators.items():
        for model_name in models:
            runs: dict[str, list[dict[str, Any]]] = {case: [] for case in MEMORY_CASES}
            for _ in range(repeats):
                for case in MEMORY_CASES:
                    runs[case].append(_measure_memory(case, model_name, threads, env_extra))
            model_peak = int(statistics.median(r["increase"] for r in runs["model"]))
            symbols = _symbols(model_peak)
            cases = {case: _memory_summary(runs[case], symbols, case) for case in MEMORY_CASES}
            monai = cases["monai"]
            for case in MEMORY_CASES:
                c = cases[case]
                c["ratio_vs_monai"] = c["increase_median"] / monai["increase_median"]
                c["ratio_lo"] = c["increase_min"] / monai["increase_max"]
                c["ratio_hi"] = c["increase_max"] / monai["increase_min"]
            out.setdefault(allocator, {})[model_name] = {"symbols": symbols, "cases": cases}
    return out


# -- report --------------------------------------------------------------------------------------


def _mib(value: float) -> str:
    return f"{value / MIB:.1f}"


def _legend(symbols: dict[str, int]) -> None:
    print("\nSymbols (bytes): " + ", ".join(f"{k} = {v:,} ({_mib(v)} MiB)" for k, v in symbols.items() if k != "M"))
    print(
        "A = B*K*prod(P)*s accumulator, C = prod(P)*s count map, W = n*K*prod(R)*s window outputs, "
        "Wb = n*C_in*prod(R)*s window inputs, S = K*R0*P1*P2*s one window-deep slab (the bound on G), L = B*prod(I) uint8 labels, "
        "F = K*P0*P1*R2*s MONAI's buffer, G = K*(most positions held at once by the streamed cells)*s, "
        "M = the model's own peak on one window (measured, per model and allocator)."
    )


def _report(config: dict[str, Any], checks: dict[str, Any], timing: dict[str, Any], memory: dict[str, Any]) -> None:
    print(
        f"## Sliding-window inference: seg vs MONAI\n\n"
        f"1x1x{SIZE}^3 float32 volume, {CLASSES} classes, {WINDOW}^3 windows, overlap {OVERLAP}, Gaussian "
        f"(sigma {SIGMA}), 1 window per model call, CPU, {config['threads']} thread(s); "
        f"torch {torch.__version__}, MONAI {config['monai']}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s); {config['rounds']} timed rounds, memory {config['mem_repeats']}x per case\n"
    )
    for name, c in checks.items():
        print(
            f"- {MODELS[name]}: seg logits vs MONAI max |diff| {c['logits_max_abs_diff']:.2e}; probabilities vs "
            f"MONAI softmax {c['probabilities_max_abs_diff']:.2e}; labels ({c['labels_dtype']}) == argmax(MONAI): "
            f"{c['labels_equal_monai_argmax']} ({c['labels_mismatches']} mismatches); MONAI buffered vs MONAI "
            f"{c['monai_buffered_max_abs_diff']:.2e}"
        )
    print("\n### Wall time (s per call; ratio = case / MONAI default of the same round)\n")
    print("| model | case | median s | min..max s | ratio (median) | ratio IQR | ratio min..max |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, cases in timing.items():
        for case, s in cases.items():
            print(
                f"| {name} | {CASES[case]} | {s['median_s']:.3f} | {s['min_s']:.3f}..{s['max_s']:.3f} | "
                f"{s['ratio_median']:.3f} | {s['ratio_q1']:.3f}..{s['ratio_q3']:.3f} | "
                f"{s['ratio_min']:.3f}..{s['ratio_max']:.3f} |"
            )
    for allocator, per_model in memory.items():
        title = "glibc default malloc" if allocator == "default" else "MALLOC_MMAP_THRESHOLD_=1048576"
        print(f"\n### Peak memory, fresh subprocess per measurement ({title}; MiB)\n")
        print(
            "| model | case | peak RSS | RSS before | increase (median) | min..max | analytic, docs | "
            "analytic, as implemented | increase / MONAI |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, m in per_model.items():
            for case, c in m["cases"].items():
                flag = "" if c["peak_above_earlier_peak"] else " (peak not above warm-up's)"
                if c["maxrss_minus_vm_hwm_max"] > 4 * MIB:
                    flag += f" (ru_maxrss != VmHWM by {_mib(c['maxrss_minus_vm_hwm_max'])})"
                print(
                    f"| {name} | {MEMORY_LABELS[case]} | {_mib(c['peak_rss_median'])} | {_mib(c['rss_before_median'])}"
                    f" | {_mib(c['increase_median'])}{flag} | {_mib(c['increase_min'])}..{_mib(c['increase_max'])} | "
                    f"{_mib(c['analytic']['docs'])} | {_mib(c['analytic']['implemented'])} | "
                    f"{c['ratio_vs_monai']:.3f} ({c['ratio_lo']:.3f}..{c['ratio_hi']:.3f}) |"
                )
    if memory:
        first = next(iter(memory.values()))
        symbols = next(iter(first.values()))["symbols"]
        _legend(symbols)
    print("\n### Targets\n")
    for name, cases in timing.items():
        control = cases["monai_device_cpu"]
        for case in ("seg_logits", "seg_probabilities", "seg_labels"):
            s = cases[case]
            print(
                f"- time, {name}, {CASES[case]}: {s['ratio_median']:.3f}x MONAI (IQR {s['ratio_q1']:.3f}.."
                f"{s['ratio_q3']:.3f}; MONAI vs itself {control['ratio_q1']:.3f}..{control['ratio_q3']:.3f}): "
                f"{_time_verdict(s, control)} <= {TIME_TARGET:.1f}x"
            )
        for case, reference in (("seg_probabilities", "monai_softmax"), ("seg_labels", "monai_argmax")):
            ratios = [t / m for t, m in zip(cases[case]["seconds"], cases[reference]["seconds"])]
            q1, q3 = _quartiles(ratios)
            print(
                f"  {CASES[case]} against {CASES[reference]}: {statistics.median(ratios):.3f}x "
                f"(IQR {q1:.3f}..{q3:.3f}, min..max {min(ratios):.3f}..{max(ratios):.3f})"
            )
    for allocator, per_model in memory.items():
        for name, m in per_model.items():
            c = m["cases"]["seg_labels"]
            verdict = (
                "meets"
                if c["ratio_hi"] <= MEMORY_TARGET
                else "misses"
                if c["ratio_lo"] > MEMORY_TARGET
                else "cannot tell"
            )
            print(
                f"- memory ({allocator}), {name}, labels: increase {_mib(c['increase_median'])} MiB vs MONAI "
                f"{_mib(m['cases']['monai']['increase_median'])} MiB = {c['ratio_vs_monai']:.3f}x "
                f"({c['ratio_lo']:.3f}..{c['ratio_hi']:.3f}): {verdict} <= {MEMORY_TARGET}x"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: the conv1x1 model, 2 rounds, time only (memory skipped)"
    )
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds of every case (default 2, --quick 2)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--mem-repeats", type=int, default=None, help="fresh subprocesses per memory case (default 1)")
    parser.add_argument(
        "--models", default="conv1x1", help="comma-separated: cnn, conv1x1 (default conv1x1: the window's own cost)"
    )
    parser.add_argument("--skip-memory", action="store_true", help="time only")
    parser.add_argument(
        "--allocators", default="mmap", help="memory under: mmap (MALLOC_MMAP_THRESHOLD_=1MiB, default), default, both"
    )
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "bench_sliding_window.json",
        help="where to write the results as JSON (default: benchmarks/results/bench_sliding_window.json)",
    )  # fmt: skip
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="cnn", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()  # nox passes the same posargs to every bench script
    if args.child:
        _child(args.child, args.model, args.threads)
        return
    rounds = args.rounds or 2
    repeats = args.mem_repeats or 1
    models = ["conv1x1"] if args.quick else [m for m in args.models.split(",") if m]
    if args.quick:
        args.skip_memory = True
        print("--quick: the conv1x1 model, time only (run without --quick for the memory tables)\n")
    every = {"default": {}, "mmap_threshold_1MiB": MMAP_1M}
    allocators = (
        every if args.allocators == "both" else {k: v for k, v in every.items() if k.startswith(args.allocators)}
    )
    torch.set_num_threads(args.threads)
    # Memory first, while this process is small: a child's ru_maxrss starts at its parent's peak RSS
    # (Linux keeps the high-water mark of the address space a vfork/exec replaces), so a parent that
    # has held GBs would hide the children's peaks. Each child also reports VmHWM, which exec resets.
    memory = {} if args.skip_memory else _memory(models, allocators, repeats, args.threads)
    import monai

    volume = _volume()
    checks, timing = {}, {}
    for name in models:
        model = _model(name)
        checks[name] = _verify(model, volume)
        timing[name] = _time(model, volume, rounds)
    config = {
        "size": SIZE, "window": WINDOW, "classes": CLASSES, "overlap": OVERLAP, "sigma_scale": SIGMA,
        "threads": args.threads, "rounds": rounds, "mem_repeats": repeats, "models": models, "monai": monai.__version__,
        "quick": args.quick,
    }  # fmt: skip
    _report(config, checks, timing, memory)
    payload = {
        "benchmark": "sliding_window",
        "config": config,
        "environment": {
            "torch": torch.__version__, "monai": monai.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "cpus": os.cpu_count(),
        },
        "checks": checks,
        "time": timing,
        "memory": memory,
        "targets": {"time_ratio_max": TIME_TARGET, "labels_memory_ratio_max": MEMORY_TARGET},
    }  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON: {args.json}")


if __name__ == "__main__":
    main()
