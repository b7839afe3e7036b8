"""GPU throughput: Unet-ResNet-50 and SegFormer (MiT-B2-sized PVTv2-B2 encoder), seg against smp, 512x512, batch 16.

Only on a machine with CUDA (it prints a line and exits otherwise). Both libraries get identical
settings: bf16 autocast, channels_last, and each in eager mode and compiled (``torch.compile``,
inductor). Measured per variant, interleaved round by round: images/s of inference (one
forward under ``torch.inference_mode``) and of training (forward, cross-entropy, backward, SGD
step), and the peak GPU memory (``torch.cuda.max_memory_allocated``) of one call.

Run: ``nox -s bench`` or ``python benchmarks/bench_gpu.py [--quick] [--rounds N] [--no-compile]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import _harness as h

BATCH, SIZE = 16, 512
MODELS = {  # name -> (seg architecture, smp class, encoder)
    "Unet-resnet50": ("unet", "Unet", "tu-resnet50"),
    "SegFormer-pvt_v2_b2": ("segformer", "Segformer", "tu-pvt_v2_b2"),
}


def _models(arch: str, smp_class: str, encoder: str) -> dict[str, Any]:
    import segmentation_models_pytorch as smp
    import torch

    import seg_core

    torch.manual_seed(0)
    seg = seg_core.create_model(arch, encoder_name=encoder, classes=19)
    torch.manual_seed(0)
    other = getattr(smp, smp_class)(encoder, encoder_weights=None, classes=19)
    return {"seg": seg, "smp": other}


def _timed_cuda(fn: Any, repeat: int) -> float:
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeat):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / repeat


def _runner(model: Any, mode: str, compiled: bool) -> Any:
    import torch
    import torch.nn.functional as F

    model = model.cuda().to(memory_format=torch.channels_last)
    x = torch.randn(BATCH, 3, SIZE, SIZE, device="cuda").contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 19, (BATCH, SIZE, SIZE), device="cuda")
    step = torch.compile(model) if compiled else model
    if mode == "eval":
        model.eval()

        def run() -> None:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
                step(x)

        return run
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)

    def train() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(step(x).float(), y)
        loss.backward()
        optimizer.step()

    return train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds, eager only")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 7, --quick 3)")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "bench_gpu.json")
    args, _ = parser.parse_known_args()
    import torch

    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA device here; skipped (run it on a GPU machine)")
        return
    rounds = args.rounds or (3 if args.quick else 7)
    compile_options = [False] if (args.quick or args.no_compile) else [False, True]
    rows, results = [], {}
    for name, (arch, smp_class, encoder) in MODELS.items():
        for mode in ("eval", "train"):
            for compiled in compile_options:
                runners = {side: _runner(m, mode, compiled) for side, m in _models(arch, smp_class, encoder).items()}
                memory = {}
                for side, fn in runners.items():
                    fn()  # warm-up (and compilation)
                    torch.cuda.synchronize()
                    torch.cuda.reset_peak_memory_stats()
                    fn()
                    torch.cuda.synchronize()
                    memory[side] = torch.cuda.max_memory_allocated()
                seconds: dict[str, list[float]] = {side: [] for side in runners}
                for r in range(rounds):
                    for side in list(runners)[r % 2 :] + list(runners)[: r % 2]:
                        seconds[side].append(_timed_cuda(runners[side], 3))
                ratio = h.ratio_summary([a / b for a, b in zip(seconds["seg"], seconds["smp"])])
                key = f"{name} {mode} {'compiled' if compiled else 'eager'}"
                results[key] = {"seconds": seconds, "memory": memory, "ratio": ratio}
                ips = {side: BATCH / statistics.median(v) for side, v in seconds.items()}
                rows.append([
                    name, mode, "compiled" if compiled else "eager", f"{ips['seg']:.0f}", f"{ips['smp']:.0f}",
                    h.fmt_ratio(ratio), f"{memory['seg'] / 2**30:.2f}", f"{memory['smp'] / 2**30:.2f}",
                ])  # fmt: skip
                del runners
                torch.cuda.empty_cache()
    text = f"GPU: {torch.cuda.get_device_name(0)}, bf16 autocast, channels_last, batch {BATCH}, {SIZE}x{SIZE}.\n\n"
    text += h.table(["model", "mode", "", "seg img/s", "smp img/s", "time seg/smp", "seg GiB", "smp GiB"], rows)
    print(text)
    h.write_json(args.json, {"machine": h.machine(), "results": results, "markdown": text})


if __name__ == "__main__":
    main()
