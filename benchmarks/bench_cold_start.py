"""Cold start, in fresh processes: imports, the first model, and listing encoders (cold and warm cache).

Each case is a whole ``python -c ...`` process (interpreter start and exit included), timed from
outside, wall time and CPU time of the child (``getrusage``). seg and smp cases are interleaved
round by round (A B, B A, ...), and each ratio is per round (see ``_harness``). The listing cases
also report whether torch or timm was imported: listing must import neither.

* ``import seg_decoders`` against ``import segmentation_models_pytorch``;
* import and build Unet with a ResNet-34 (``tu-resnet34``, timm) against smp's
  ``Unet("resnet34", encoder_weights=None)``;
* ``seg list encoders``: cold (an empty cache folder each time: the first listing on a machine)
  and warm;
* ``import torch``: the floor every case that builds a model pays.

Targets (issue 15): ``import seg_decoders`` under torch's own import time + 0.3 s; listing encoders
under 0.5 s without torch, cold or warm.

Run: ``nox -s bench`` or ``python benchmarks/bench_cold_start.py [--quick] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import _harness as h

LISTING = (
    "import sys; from seg_core.cli import main; main(['list', 'encoders']);"
    " print('torch' in sys.modules, 'timm' in sys.modules, file=sys.stderr)"
)
#: name -> (seg code, smp code or None)
CASES: dict[str, tuple[str, str | None]] = {
    "import torch": ("import torch", None),
    "import the package": ("import seg_decoders", "import segmentation_models_pytorch"),
    "import + build Unet-resnet34": (
        "import seg_core; seg_core.create_model('unet', encoder_name='tu-resnet34')",
        "import segmentation_models_pytorch as smp; smp.Unet('resnet34', encoder_weights=None)",
    ),
    "seg list encoders, warm cache": (LISTING, None),
    "seg list encoders, cold cache": (LISTING, None),
}


def _run(code: str, env: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{code!r} failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr


def _has_smp() -> bool:
    import importlib.util

    return importlib.util.find_spec("segmentation_models_pytorch") is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 round (no spread)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per case (default 3, --quick 1)")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "bench_cold_start.json")
    args, _ = parser.parse_known_args()  # nox passes the same posargs to every bench script
    rounds = args.rounds or (1 if args.quick else 3)
    smp = _has_smp()
    warm = tempfile.mkdtemp(prefix="seg-bench-cache-")
    base_env = {**os.environ, "SEG_CACHE_DIR": warm, "SEG_STRICT_PLUGINS": "1"}
    _run(LISTING, base_env)  # fills the warm cache
    results: dict[str, Any] = {}
    for name, (seg_code, smp_code) in CASES.items():
        sides = {"seg": seg_code}
        if smp_code is not None and smp:
            sides["smp"] = smp_code
        wall: dict[str, list[float]] = {s: [] for s in sides}
        cpu: dict[str, list[float]] = {s: [] for s in sides}
        imported = ""
        for r in range(rounds):
            for side in list(sides)[r % len(sides) :] + list(sides)[: r % len(sides)]:
                env = dict(base_env)
                if "cold" in name:
                    env["SEG_CACHE_DIR"] = tempfile.mkdtemp(prefix="seg-bench-cold-")
                w, c, err = _run(sides[side], env)
                wall[side].append(w)
                cpu[side].append(c)
                if "list" in name:
                    imported = " ".join(err.split()[-2:])
        entry: dict[str, Any] = {
            side: {
                "wall_s": statistics.median(wall[side]),
                "cpu_s": statistics.median(cpu[side]),
                "samples": wall[side],
            }
            for side in sides
        }
        if "smp" in sides:
            entry["ratio_wall"] = h.ratio_summary([a / b for a, b in zip(wall["seg"], wall["smp"])])
            entry["ratio_cpu"] = h.ratio_summary([a / b for a, b in zip(cpu["seg"], cpu["smp"])])
        if imported:
            torch_loaded, timm_loaded = imported.split()
            entry["imports_torch"], entry["imports_timm"] = torch_loaded == "True", timm_loaded == "True"
        results[name] = entry
        print(f"  {name}: done", file=sys.stderr, flush=True)
    rows = []
    for name, entry in results.items():
        seg = entry["seg"]
        other = entry.get("smp")
        note = ""
        if "imports_torch" in entry:
            note = f"torch imported: {entry['imports_torch']}, timm imported: {entry['imports_timm']}"
        rows.append([
            name, f"{seg['wall_s']:.2f}", f"{seg['cpu_s']:.2f}",
            "—" if other is None else f"{other['wall_s']:.2f}", "—" if other is None else f"{other['cpu_s']:.2f}",
            "—" if "ratio_wall" not in entry else h.fmt_ratio(entry["ratio_wall"]), note,
        ])  # fmt: skip
    machine = h.machine()
    text = (
        f"Machine: {machine['cpu']}, {machine['cores']} cores, torch {machine['torch']}; {rounds} rounds, whole "
        "processes (interpreter start and exit included), medians in seconds.\n\n"
        + h.table(["case", "seg wall", "seg CPU", "smp wall", "smp CPU", "seg/smp wall", "note"], rows)
    )
    print(text)
    command = "python benchmarks/bench_cold_start.py " + " ".join(sys.argv[1:])
    h.write_json(args.json, {"machine": machine, "command": command, "results": results, "markdown": text})


if __name__ == "__main__":
    main()
