"""Every registered 2D architecture, seg against smp, side by side in one process.

For each architecture, with a ResNet-34 (``tu-resnet34``) and a transformer (``tu-pvt_v2_b0``,
PVTv2: the hierarchical transformer of SegFormer's family) encoder from timm, at 3x256x256:

* **eval**: one forward at batch 1 in ``torch.inference_mode``: smp, seg, seg after
  ``seg_core.optimize_for_inference`` (fp32: BatchNorm folded, channels-last) and, on CPUs with
  bf16 support, the same in bf16;
* **train**: one step at batch 4 (forward, cross-entropy, backward, SGD step): smp and seg, and
  with ``--train-fast`` seg with channels-last + bf16 autocast + ``torch.compile`` (the trainer's
  fast options);
* the parameter count, the FLOPs (``torch.utils.flop_counter``) and the achieved GFLOP/s as a
  fraction of this machine's measured fp32 matmul rate at the same thread count (``torch.mm`` of
  2048x2048, best of 5; oneDNN's convolution kernels can beat it, so a fraction above 100% is
  possible);
* the peak memory of one call (the RSS increase over the call, after ``malloc_trim``).

By default the transformer encoder's training step is measured for ``TRANSFORMER_TRAIN`` (Unet and
SegFormer) and its eval forward for all (``--all``: everything), so that ``nox -s bench``
stays under 15 minutes on 2 cores.

Variants are interleaved round by round and every ratio seg/smp is computed per round
(`_harness.interleave`): the table gives the median, the 10th..90th percentiles and the verdict at
3% resolution. Architectures smp does not have (or builds only with ViTs: DPT) have seg's numbers
alone. smp uses the same timm encoders (``tu-``), so the encoders are identical and the
difference is the decoders and heads.

Run: ``nox -s bench`` or ``python benchmarks/bench_models.py [--quick] [--threads 1] [--archs unet,fpn]``.
Prints markdown tables and writes JSON (default ``benchmarks/results/bench_models.json``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import _harness as h

SIZE = 256
ENCODERS = ("tu-resnet34", "tu-pvt_v2_b0")
#: Architectures whose training step is also measured with the second (transformer) encoder by default.
TRANSFORMER_TRAIN = ("unet", "segformer")


def _smp_class(arch: str) -> tuple[Any, str]:
    """smp's class for ``arch``, or None and why."""
    from seg_core.plugins import get_registry

    info = get_registry("architectures").info(arch)
    if not info.get("smp_class"):
        return None, "not in smp"
    if not info.get("smp_weights", True):
        return None, "smp builds it with timm ViTs only"
    try:
        import segmentation_models_pytorch as smp
    except ImportError:
        return None, "smp not installed"
    cls = getattr(smp, str(info["smp_class"]), None)
    return (cls, "") if cls is not None else (None, f"smp {smp.__version__} has no {info['smp_class']}")


def _build(arch: str, encoder: str) -> tuple[Any, Any, str]:
    """``(seg model, smp model or None, why no smp)``, both with random weights."""
    import torch

    import seg_core

    torch.manual_seed(0)
    own = arch == "enet"
    seg = seg_core.create_model(arch, **({} if own else {"encoder_name": encoder}), classes=2, encoder_weights=None)
    cls, why = _smp_class(arch)
    smp_model = None
    if cls is not None:
        try:
            torch.manual_seed(0)
            smp_model = cls(encoder, encoder_weights=None, classes=2)
        except Exception as exc:
            why = f"smp fails: {type(exc).__name__}: {str(exc)[:60]}"
    return seg, smp_model, why


def _count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def _flops(fn: Any) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _eval_fn(model: Any, x: Any) -> Any:
    import torch

    model.eval()

    def run() -> None:
        with torch.inference_mode():
            model(x)

    return run


def _train_fn(model: Any, x: Any, y: Any, *, fast: bool = False) -> Any:
    import torch
    import torch.nn.functional as F

    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    step_model = model
    if fast:
        model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        step_model = torch.compile(model)

    def run() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast):
            out = step_model(x)
            if isinstance(out, dict):
                out = out["out"]
            loss = F.cross_entropy(out.float(), y)
        loss.backward()
        optimizer.step()

    return run


def _case(arch: str, encoder: str, args: argparse.Namespace, peak: float, bf16: bool, train: bool) -> dict[str, Any]:
    import torch

    import seg_core

    seg, smp_model, why = _build(arch, encoder)
    result: dict[str, Any] = {"arch": arch, "encoder": "enet (own)" if arch == "enet" else encoder, "smp": why or "yes"}
    result["params"] = {"seg": _count(seg), "smp": _count(smp_model) if smp_model is not None else None}
    gen = torch.Generator().manual_seed(0)
    x1 = torch.randn(1, 3, SIZE, SIZE, generator=gen)
    x4 = torch.randn(4, 3, SIZE, SIZE, generator=gen)
    y4 = torch.randint(0, 2, (4, SIZE, SIZE), generator=gen)

    # eval: warm-up, the interleaved rounds, then the memory of warm calls (the first call of a process
    # builds oneDNN primitives and caches that the other side, with the same encoder, would then reuse)
    variants = {"seg": _eval_fn(seg, x1)}
    if smp_model is not None:
        variants["smp"] = _eval_fn(smp_model, x1)
    variants["seg fast"] = _eval_fn(seg_core.optimize_for_inference(seg), x1)
    if bf16:
        variants["seg fast bf16"] = _eval_fn(seg_core.optimize_for_inference(seg, dtype=torch.bfloat16), x1)
    if args.compile:
        compiled = seg_core.optimize_for_inference(seg, compile=True)
        variants["seg fast compiled"] = _eval_fn(compiled, x1)
    baseline = "smp" if smp_model is not None else "seg"
    alone = smp_model is None  # nothing to compare the training step with: its time, not a ratio
    seg_only = {"min_rounds": 3, "max_rounds": 3, "budget_s": 0}  # no smp: times, no seg/smp ratio to resolve
    result["eval"] = h.interleave(variants, baseline=baseline, **(seg_only if alone else args.eval_rounds))
    result["eval_memory"] = h.interleaved_peaks(variants, repeat=3)
    result["eval_flops"] = _flops(variants["seg"])
    if smp_model is not None:
        result["eval_flops_smp"] = _flops(variants["smp"])

    result["eval_peak_fraction"] = result["eval_flops"] / result["eval"]["cpu"]["seg"]["median_s"] / 1e9 / peak
    if not train:
        result["train"] = None
        return result

    # train: the warm-up of seg's step counts its FLOPs; memory after the rounds, as for eval
    variants = {"seg": _train_fn(seg, x4, y4)}
    if smp_model is not None:
        variants["smp"] = _train_fn(smp_model, x4, y4)
    if args.train_fast and bf16:
        fast_model, _, _ = _build(arch, encoder)
        variants["seg cl+bf16+compile"] = _train_fn(fast_model, x4, y4, fast=True)
    result["train_flops"] = _flops(variants["seg"])
    for name, fn in variants.items():
        if name != "seg":
            fn()
    rounds = {"min_rounds": 1, "max_rounds": 1, "budget_s": 0} if alone else args.train_rounds
    result["train"] = h.interleave(variants, baseline=baseline, warmup=False, **rounds)
    result["train_memory"] = h.interleaved_peaks(variants, repeat=args.train_memory_repeat)
    result["train_peak_fraction"] = result["train_flops"] / result["train"]["cpu"]["seg"]["median_s"] / 1e9 / peak
    return result


def _ratio(result: dict[str, Any], mode: str, variant: str, kind: str = "cpu") -> str:
    entry = result[mode][kind].get(variant)
    if entry is None or "ratio" not in entry:
        return "—"
    return h.fmt_ratio(entry["ratio"])


def _mib(value: int | None) -> str:
    return "—" if value is None else f"{value / 2**20:.0f}"


def report(results: list[dict[str, Any]], info: dict[str, Any]) -> str:
    lines = [
        f"Machine: {info['machine']['cpu']}, {info['machine']['cores']} cores "
        f"({', '.join(info['machine']['extensions'])}), torch {info['machine']['torch']}, "
        f"{info['threads']} thread(s); fp32 matmul peak {info['matmul_peak_gflops']:.0f} GFLOP/s.",
        "Ratios are seg / smp of process CPU time per call: median (p10..p90 of the per-round ratios) and the "
        "verdict at 3% (95% bootstrap CI of the median). Without smp, ratios are to seg eager.",
        "",
        "### Eval, batch 1",
        "",
    ]
    rows = []
    for r in results:
        ms = r["eval"]["cpu"]["seg"]["median_s"] * 1e3
        smp_ms = r["eval"]["cpu"].get("smp", {}).get("median_s")
        rows.append([
            r["arch"], r["encoder"], f"{ms:.1f}", "—" if smp_ms is None else f"{smp_ms * 1e3:.1f}",
            _ratio(r, "eval", "seg"), _ratio(r, "eval", "seg fast"), _ratio(r, "eval", "seg fast bf16"),
            _mib(r["eval_memory"].get("seg")), _mib(r["eval_memory"].get("smp")),
            f"{r['eval_flops'] / 1e9:.2f}", f"{r['eval_peak_fraction']:.0%}",
        ])  # fmt: skip
    lines.append(
        h.table(
            [
                "arch",
                "encoder",
                "seg ms",
                "smp ms",
                "seg/smp",
                "fast/smp",
                "fast bf16/smp",
                "seg MiB",
                "smp MiB",
                "GFLOP",
                "of matmul",
            ],
            rows,
        )
    )
    lines += ["", "### Training step, batch 4", ""]
    rows = []
    for r in results:
        if r["train"] is None:
            continue
        ms = r["train"]["cpu"]["seg"]["median_s"] * 1e3
        smp_ms = r["train"]["cpu"].get("smp", {}).get("median_s")
        rows.append([
            r["arch"], r["encoder"], f"{ms:.0f}", "—" if smp_ms is None else f"{smp_ms * 1e3:.0f}",
            _ratio(r, "train", "seg"), _ratio(r, "train", "seg cl+bf16+compile"),
            _mib(r["train_memory"].get("seg")), _mib(r["train_memory"].get("smp")),
            f"{r['params']['seg'] / 1e6:.2f}", "—" if r["params"]["smp"] is None else f"{r['params']['smp'] / 1e6:.2f}",
            f"{r['train_flops'] / 1e9:.1f}", f"{r['train_peak_fraction']:.0%}",
        ])  # fmt: skip
    lines.append(
        h.table(
            [
                "arch",
                "encoder",
                "seg ms",
                "smp ms",
                "seg/smp",
                "fast/smp",
                "seg MiB",
                "smp MiB",
                "seg M params",
                "smp M params",
                "GFLOP",
                "of matmul",
            ],
            rows,
        )
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: unet with tu-resnet34, 3 and 2 rounds")
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (default 2, for the 15-minute budget; docs use 1)"
    )
    parser.add_argument("--archs", default=None, help="comma-separated (default: every registered 2D architecture)")
    parser.add_argument("--encoders", default=",".join(ENCODERS))
    parser.add_argument("--compile", action="store_true", help="also time optimize_for_inference(compile=True)")
    parser.add_argument("--train-fast", action="store_true", help="also time channels-last + bf16 + compile training")
    parser.add_argument(
        "--all",
        action="store_true",
        help="train every architecture with every encoder (default: the transformer "
        "encoder trains " + ", ".join(TRANSFORMER_TRAIN) + " only, to keep `nox -s bench` under 15 minutes)",
    )
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "bench_models.json")
    args, _ = parser.parse_known_args()  # nox passes the same posargs to every bench script

    import torch

    import seg_core

    torch.set_num_threads(args.threads)
    archs = [
        a for a in seg_core.list_architectures() if 2 in seg_core.get_registry("architectures").info(a)["spatial_dims"]
    ]
    encoders = args.encoders.split(",")
    if args.quick:
        archs, encoders = ["unet"], encoders[:1]
        args.eval_rounds = {"min_rounds": 3, "max_rounds": 3, "budget_s": 0}
        args.train_rounds = {"min_rounds": 2, "max_rounds": 2, "budget_s": 0}
        args.train_memory_repeat = 1
    else:
        args.eval_rounds = {"min_rounds": 4, "max_rounds": 5, "budget_s": 0.5}
        args.train_rounds = {"min_rounds": 2, "max_rounds": 3, "budget_s": 0.5}
        args.train_memory_repeat = 1
    if args.archs:
        archs = args.archs.split(",")
    bf16 = "avx512_bf16" in h.machine()["extensions"] or "amx_bf16" in h.machine()["extensions"]
    info = {
        "machine": h.machine(),
        "threads": args.threads,
        "matmul_peak_gflops": h.matmul_peak_gflops(args.threads, size=2048, repeat=5),
    }
    info["command"] = "python benchmarks/bench_models.py " + " ".join(sys.argv[1:])
    results: list[dict[str, Any]] = []
    skipped: list[tuple[str, str, str]] = []
    start = time.perf_counter()
    for encoder in encoders:
        for arch in archs:
            if arch == "enet" and encoder != encoders[0]:
                continue  # its own backbone: once
            t0 = time.perf_counter()
            train = args.all or encoder == encoders[0] or arch in TRANSFORMER_TRAIN
            try:
                results.append(_case(arch, encoder, args, info["matmul_peak_gflops"], bf16, train))
            except (seg_core.ConfigError, seg_core.IncompatibleEncoderError) as exc:  # e.g. DeepLab needs dilation
                skipped.append((arch, encoder, str(exc).split(";")[0]))
            print(f"  {arch} / {encoder}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    info["seconds"] = time.perf_counter() - start
    info["not_buildable"] = skipped
    text = report(results, info)
    if skipped:
        text += "\n\nNot buildable (the error seg gives):\n\n" + "\n".join(
            f"- {a} / {e}: {why}" for a, e, why in skipped
        )
    print(text)
    h.write_json(args.json, {"info": info, "results": results, "markdown": text})


if __name__ == "__main__":
    main()
