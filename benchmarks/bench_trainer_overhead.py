"""Trainer overhead per step: ``seg_train.Trainer.fit`` against a plain hand-written PyTorch loop.

Both sides train the same tiny Unet (basic_cnn encoder) from the same initial weights with the
same AdamW and cross-entropy loss, on the same synthetic 3x64x64 batches of 8 held in memory,
read through the same ``DataLoader`` over a ``TensorDataset`` (so data loading costs the same).

* ``plain``: ``zero_grad``, forward, loss, ``backward``, ``step`` -- nothing else.
* ``trainer``: ``Trainer(..., run_dir=None, val_loader=None).fit()``, timed as a whole (Trainer
  construction excluded; nothing subtracted): the overhead is everything the trainer does
  around forward/backward/step (loss bookkeeping, progress, hook dispatch, per-epoch records).

On a shared machine, trust the process CPU time more than the wall time (other processes'
load inflates the wall time of whichever side it hits). The 1x1-conv rows run the same two loops
around a model that costs next to nothing: their extra time per step is the trainer's fixed cost.

Runs are interleaved in one process, ``A B A B ... B A`` (A: plain, B: trainer), after one
warm-up of each, with ``torch.set_num_threads(1)``. Each trainer run is compared with the mean of
the plain runs just before and after it (a slow drift of the machine's speed cancels out), and each
plain run with the next one (plain/plain: how much the same loop varies by itself). Both sides
should end with bitwise identical weights (reported), so they did the same work. Reported: median
wall and process CPU time per step, the ratio trainer / plain (median, min..max, IQR), the
plain/plain IQR, and the verdict against the target (< 3% overhead): "cannot tell" when the
plain/plain IQR leaves 0.97..1.03 or the trainer/plain IQR is wider than 6 points.

Run: ``nox -s bench`` or ``python benchmarks/bench_trainer_overhead.py [--quick] [--rounds N] [--steps S]``.
Prints a markdown table and writes JSON (default ``benchmarks/results/bench_trainer_overhead.json``).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import platform
import statistics
import time
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

TARGET = 0.03  # the trainer may cost at most 3% more per step than the plain loop
BATCH, SIZE, CLASSES = 8, 64, 4


def _data(steps: int) -> torch.utils.data.TensorDataset:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(steps * BATCH, 3, SIZE, SIZE, generator=generator)
    masks = torch.randint(0, CLASSES, (steps * BATCH, SIZE, SIZE), generator=generator)
    return torch.utils.data.TensorDataset(images, masks)


def _unet() -> nn.Module:
    import seg_core

    return seg_core.create_model(
        "unet", encoder_name="basic_cnn", encoder_depth=3, decoder_channels=[16, 8, 4], classes=CLASSES
    )


def _optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=1e-3)


def _plain(model: nn.Module, loader: torch.utils.data.DataLoader, epochs: int) -> None:
    loss_fn = nn.CrossEntropyLoss()
    optimizer = _optimizer(model)
    model.train()
    for _ in range(epochs):
        for image, target in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(image), target)
            loss.backward()
            optimizer.step()


def _trainer(model: nn.Module, loader: torch.utils.data.DataLoader, epochs: int) -> Any:
    from seg_train.trainer import Trainer

    loss = nn.CrossEntropyLoss()
    return Trainer(model, loss, _optimizer(model), train_loader=loader, epochs=epochs, device="cpu")


def _timed(run: Any) -> tuple[float, float]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def _run(side: str, initial: nn.Module, loader: torch.utils.data.DataLoader, epochs: int) -> tuple[Any, ...]:
    """One timed run of one side on a fresh copy of the initial model: (wall s, CPU s, final weights)."""
    model = copy.deepcopy(initial)
    # The Trainer is built outside the timed part.
    work = _trainer(model, loader, epochs).fit if side == "trainer" else partial(_plain, model, loader, epochs)
    wall, cpu = _timed(work)
    return wall, cpu, [t.clone() for t in model.state_dict().values()]


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def _measure(initial: nn.Module, loader: torch.utils.data.DataLoader, rounds: int, epochs: int) -> dict[str, Any]:
    """Runs ``A B A B ... B A`` (A: plain, B: trainer) after one warm-up ``A B``.

    Each B is compared with the mean of the A before and after it (cancels a linear drift of the
    machine's speed); consecutive A's against each other (``A/A``) show how much the same loop
    varies by itself: the noise a 3% difference must stand out from.
    """
    steps = len(loader) * epochs
    _run("plain", initial, loader, epochs), _run("trainer", initial, loader, epochs)  # warm-up
    plain_runs, trainer_runs = [], []
    for _ in range(rounds):
        plain_runs.append(_run("plain", initial, loader, epochs))
        trainer_runs.append(_run("trainer", initial, loader, epochs))
    plain_runs.append(_run("plain", initial, loader, epochs))
    same = all(all(torch.equal(a, b) for a, b in zip(p[2], t[2])) for p, t in zip(plain_runs, trainer_runs))
    out: dict[str, Any] = {"same_weights": same}
    for k, kind in enumerate(("wall", "cpu")):
        plain = [r[k] / steps for r in plain_runs]
        trainer = [r[k] / steps for r in trainer_runs]
        neighbours = [(plain[i] + plain[i + 1]) / 2 for i in range(rounds)]
        ratios = [t / a for t, a in zip(trainer, neighbours)]
        control = [plain[i + 1] / plain[i] for i in range(rounds)]
        q1, q3 = _quartiles(ratios)
        c1, c3 = _quartiles(control)
        noisy = max(abs(c1 - 1), abs(c3 - 1)) > TARGET or q3 - q1 > 2 * TARGET
        if noisy:
            verdict = "cannot tell"
        else:
            verdict = "meets" if q3 < 1 + TARGET else "misses" if q1 > 1 + TARGET else "cannot tell"
        out[kind] = {
            "plain_s": plain,
            "trainer_s": trainer,
            "plain_median_s": statistics.median(plain),
            "trainer_median_s": statistics.median(trainer),
            "extra_median_s": statistics.median([t - a for t, a in zip(trainer, neighbours)]),
            "ratios": ratios,
            "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "ratio_q1": q1,
            "ratio_q3": q3,
            "control_ratios": control,
            "control_q1": c1,
            "control_q3": c3,
            "noisy": noisy,
            "verdict": verdict,
        }
    return out


def _profile(loader: torch.utils.data.DataLoader, epochs: int, top: int) -> None:
    """cProfile of ``Trainer.fit`` on a 1x1-conv model: what the trainer spends around forward/backward/step."""
    import cProfile
    import pstats

    model = nn.Conv2d(3, CLASSES, 1)
    trainer = _trainer(model, loader, epochs)
    profiler = cProfile.Profile()
    profiler.runcall(trainer.fit)
    print(f"\ncProfile of Trainer.fit, 1x1-conv model, {len(loader) * epochs} steps (top {top} by own time):\n")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few rounds and steps (smoke run)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="timed trainer runs, each between two plain runs (default 6, --quick 5)",
    )
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per epoch (default 100, --quick 20)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per round (default 1)")
    parser.add_argument("--profile", action="store_true", help="also cProfile the trainer on the 1x1-conv model")
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results" / "bench_trainer_overhead.json",
        help="where to write the results as JSON (default: benchmarks/results/bench_trainer_overhead.json)",
    )  # fmt: skip
    args, _ = parser.parse_known_args()  # nox passes the same posargs to every bench script
    rounds = args.rounds or (5 if args.quick else 6)
    steps = args.steps or (20 if args.quick else 100)
    epochs = args.epochs
    torch.set_num_threads(1)
    torch.manual_seed(0)

    loader = torch.utils.data.DataLoader(_data(steps), batch_size=BATCH, shuffle=False)
    cases = {
        "unet": ("tiny Unet (basic_cnn, depth 3)", _unet()),
        # The same loop around a model that costs next to nothing: the trainer's fixed cost per step, in us.
        "conv1x1": ("1x1 conv (overhead floor)", nn.Conv2d(3, CLASSES, 1)),
    }
    measured = {name: _measure(model, loader, rounds, epochs) for name, (_, model) in cases.items()}

    print(
        f"## Trainer overhead per step: Trainer.fit vs a plain loop\n\n"
        f"batches of {BATCH}x3x{SIZE}x{SIZE} from a TensorDataset, AdamW, cross-entropy; runs A B A B ... B A "
        f"({rounds} trainer runs, {rounds + 1} plain runs) x {epochs} epoch(s) x {steps} steps; 1 thread; "
        f"torch {torch.__version__}\n"
    )
    print(
        "| model | time | plain ms/step | trainer ms/step | extra us/step | trainer/plain (median) | min..max | IQR "
        "| plain/plain IQR | < 3%? |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, (label, _) in cases.items():
        for kind, kind_label in (("wall", "wall"), ("cpu", "process CPU")):
            s = measured[name][kind]
            print(
                f"| {label} | {kind_label} | {s['plain_median_s'] * 1e3:.3f} | {s['trainer_median_s'] * 1e3:.3f} | "
                f"{s['extra_median_s'] * 1e6:+.1f} | {s['ratio_median']:.4f} | "
                f"{s['ratio_min']:.4f}..{s['ratio_max']:.4f} | {s['ratio_q1']:.4f}..{s['ratio_q3']:.4f} | "
                f"{s['control_q1']:.4f}..{s['control_q3']:.4f} | {s['verdict'] if name == 'unet' else 'n/a (floor)'} |"
            )
    print()
    unet, floor = measured["unet"], measured["conv1x1"]
    for kind, kind_label in (("wall", "wall"), ("cpu", "process CPU")):
        s = unet[kind]
        overhead = (s["ratio_median"] - 1) * 100
        if s["verdict"] == "cannot tell":
            print(
                f"- {kind_label}: Unet overhead {overhead:+.2f}% (median), but the spread is too wide to tell a 3% "
                f"difference: trainer/plain IQR {s['ratio_q1']:.4f}..{s['ratio_q3']:.4f}, the plain loop against "
                f"itself {s['control_q1']:.4f}..{s['control_q3']:.4f} (more --rounds / --steps, or a quieter machine)."
            )
        else:
            where = "below" if s["verdict"] == "meets" else "above"
            print(
                f"- {kind_label}: Unet overhead {overhead:+.2f}% (median); the IQR lies {where} {1 + TARGET:.2f} and "
                f"the plain loop against itself stays within 3%: {s['verdict']} the target."
            )
        fixed = floor[kind]["extra_median_s"]
        print(
            f"  fixed cost measured on the 1x1 conv: {fixed * 1e6:+.1f} us/step = "
            f"{fixed / s['plain_median_s'] * 100:+.2f}% of a Unet step ({s['plain_median_s'] * 1e3:.2f} ms)"
        )
    same = unet["same_weights"] and floor["same_weights"]
    print(f"- both sides end with bitwise identical weights in every round: {same}")

    payload = {
        "benchmark": "trainer_overhead",
        "config": {
            "rounds": rounds, "epochs": epochs, "steps_per_epoch": steps, "batch": BATCH, "size": SIZE,
            "classes": CLASSES, "threads": 1, "target_overhead": TARGET,
        },
        "environment": {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine()},
        "results": {name: {"model": label, **measured[name]} for name, (label, _) in cases.items()},
    }  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"\nJSON: {args.json}")
    if args.profile:
        _profile(loader, epochs, top=25)


if __name__ == "__main__":
    main()
