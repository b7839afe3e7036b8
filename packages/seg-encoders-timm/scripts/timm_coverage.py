"""Sweep timm models and report which ones build into a working seg Unet, counted by failure reason.

Each model goes through ``seg_core.create_model("unet", encoder_name=name, classes=2)`` with
random weights, then through a forward pass whose output shape is checked:

* models up to ``--max-params`` million parameters are built for real and run on a small
  random input (``--size``, rounded up to the encoder's stride; models with a fixed input
  size use their declared size, ``encoder._fixed_input_size``): "works (real forward)";
* bigger models are built and run on PyTorch's ``meta`` device (``with torch.device("meta")``):
  every module is constructed and every operator infers its output shape, but no memory is
  allocated and nothing is computed, so this is a shape-level check of the whole pipeline
  (encoder adapter, decoder, head), not a numerical one: "works (shape check on meta)".

Models run in parallel worker processes (``--jobs``), one model per task, each with a
time limit (``--timeout``); a worker that times out or crashes is replaced. Results are
written to ``--json`` as they come, and ``--resume`` continues an interrupted sweep from it.

Usage:
    python packages/seg-encoders-timm/scripts/timm_coverage.py --jobs 2 --json /tmp/cov.json --markdown
    python packages/seg-encoders-timm/scripts/timm_coverage.py --json /tmp/cov.json --resume --markdown
    python packages/seg-encoders-timm/scripts/timm_coverage.py --pattern "convnext*" --limit 10
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import math
import multiprocessing as mp
import multiprocessing.connection as mp_connection
import os
import platform
import re
import sys
import time
from typing import Any

WORKS_REAL = "works (real forward)"
WORKS_META = "works (shape check on meta)"
_NATIVE = ", at its pretrained input size only"
WORKS = (WORKS_REAL, WORKS_REAL[:-1] + _NATIVE + ")", WORKS_META, WORKS_META[:-1] + _NATIVE + ")")


def _reason(stage: str, exc: BaseException) -> str:
    """``stage: Type: first line`` with numbers and quoted names folded, so that alike failures group."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = re.sub(r"\d+", "N", text)
    text = re.sub(r"'[^']*'", "'...'", text)
    return f"{stage}: {type(exc).__name__}: {text[:110]}"


def _divisor(encoder: Any) -> int:
    """The encoder's output stride, times what a non-power-of-two stem patch size needs (patch 14: lcm 112)."""
    step = max(int(r) for r in encoder.reductions)
    for module in encoder.modules():
        if "PatchEmbed" in type(module).__name__:
            patch = getattr(module, "patch_size", None)
            if getattr(module, "dynamic_img_pad", False) or patch is None:
                break
            for value in [patch] if isinstance(patch, int) else list(patch):
                step = math.lcm(step, int(value))
            break
    return step


def _input_sizes(encoder: Any, size: int) -> list[list[int]]:
    """Sizes to try: the fixed size; else ``size`` rounded up, then the pretrained input size (rounded up)."""
    fixed = getattr(encoder, "_fixed_input_size", None)
    if fixed:
        return [[int(v) for v in fixed]]
    step = _divisor(encoder)
    sizes = [[max(step, -(-size // step) * step)] * 2]
    cfg = getattr(encoder, "pretrained_cfg", None) or {}
    native = [-(-int(v) // step) * step for v in list(cfg.get("input_size", ()))[1:]]
    if len(native) == 2 and native != sizes[0]:
        sizes.append(native)
    return sizes


def _run(name: str, size: int, on_meta: bool) -> tuple[str, list[int] | None, str | None]:
    """Build the Unet (on ``meta`` or for real) and run it; return (outcome, input size, small-size failure)."""
    import torch

    import seg_core

    suffix = " (meta)" if on_meta else ""
    device = torch.device("meta") if on_meta else torch.device("cpu")
    torch.manual_seed(0)
    try:
        with device:
            model = seg_core.create_model("unet", encoder_name=name, classes=2).eval()
    except Exception as exc:
        return _reason("build unet" + suffix, exc), None, None
    first: str | None = None
    hw: list[int] | None = None
    for attempt, hw in enumerate(_input_sizes(model.encoder, size)):
        try:
            with torch.no_grad(), device:
                out = model(torch.randn(1, 3, *hw))
        except Exception as exc:
            first = first or _reason("unet forward" + suffix, exc)
            continue
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else None
        if shape != (1, 2, *hw):
            first = first or f"unet forward{suffix}: output shape {shape} for input {hw}"
        elif not on_meta and not bool(torch.isfinite(out).all()):
            first = first or "unet forward: non-finite output (random weights)"
        else:
            return WORKS[(2 if on_meta else 0) + (attempt > 0)], hw, first
    return first or "unet forward: no input size to try", hw, None


def check_one(name: str, size: int, max_params: float, fallback_params: float = 1000.0) -> dict[str, Any]:
    """Check one timm model; return ``{"outcome": ..., "params_m": ..., "input": ...}``.

    ``outcome`` is one of `WORKS` or a failure reason ``stage: Type: message``. A model that
    fails at the small size is tried again at its pretrained input size. A big model whose
    meta check fails for want of a meta kernel (``.item()``...) is built for real when it has
    at most ``fallback_params`` million parameters.
    """
    import timm
    import torch

    result: dict[str, Any] = {"outcome": None, "params_m": None, "input": None}
    try:
        with torch.device("meta"):
            bare = timm.create_model(name, pretrained=False)
        result["params_m"] = round(sum(p.numel() for p in bare.parameters()) / 1e6, 2)
        del bare
    except Exception as exc:
        result["outcome"] = _reason("timm.create_model (meta)", exc)
        return result
    on_meta = result["params_m"] > max_params
    outcome, hw, first = _run(name, size, on_meta)
    if (
        on_meta
        and outcome not in WORKS
        and "meta" in outcome.split(":", 1)[1]
        and result["params_m"] <= fallback_params
    ):
        result["meta_failure"] = outcome
        outcome, hw, first = _run(name, size, False)
    result["outcome"], result["input"] = outcome, hw
    if first:
        result["small_size_failure"] = first
    return result


def _worker(tasks: Any, conn: Any, size: int, max_params: float, fallback_params: float, threads: int) -> None:
    """Worker process: check names from ``tasks`` until it gets None; answer on its own pipe ``conn``."""
    import logging
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    torch.set_num_threads(threads)
    while True:
        name = tasks.get()
        if name is None:
            return
        start = time.time()
        try:
            res = check_one(name, size, max_params, fallback_params)
        except BaseException as exc:  # a check must never take the worker down silently
            res = {"outcome": _reason("check", exc), "params_m": None, "input": None}
        res["seconds"] = round(time.time() - start, 2)
        conn.send((name, res))


class _Pool:
    """Worker processes fed one model at a time, so that a stuck model can be killed and replaced.

    Each worker answers on its own pipe: killing a worker cannot leave a lock shared with the others held.
    """

    def __init__(self, jobs: int, args: tuple[int, float, float, int], max_tasks: int) -> None:
        self._ctx = mp.get_context("spawn")
        self._args = args
        self._max_tasks = max_tasks
        self._slots: list[dict[str, Any]] = [self._spawn() for _ in range(jobs)]

    def _spawn(self) -> dict[str, Any]:
        tasks = self._ctx.SimpleQueue()
        reader, writer = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(target=_worker, args=(tasks, writer, *self._args), daemon=True)
        proc.start()
        writer.close()
        return {"proc": proc, "tasks": tasks, "conn": reader, "name": None, "start": 0.0, "done": 0}

    def _replace(self, i: int, graceful: bool) -> None:
        old = self._slots[i]
        if graceful:
            old["tasks"].put(None)
            old["proc"].join(10)
        if old["proc"].is_alive():
            old["proc"].kill()
            old["proc"].join(5)
        old["conn"].close()
        self._slots[i] = self._spawn()

    def run(self, names: list[str], timeout: float, on_result: Any) -> None:
        pending = list(reversed(names))
        while True:
            for i, slot in enumerate(self._slots):
                if slot["name"] is None and pending:
                    if slot["done"] >= self._max_tasks:  # recycle: bounds memory growth of long-lived workers
                        self._replace(i, graceful=True)
                        slot = self._slots[i]
                    slot["name"], slot["start"] = pending.pop(), time.time()
                    slot["tasks"].put(slot["name"])
            busy = [slot for slot in self._slots if slot["name"] is not None]
            if not busy:
                return
            ready = mp_connection.wait([slot["conn"] for slot in busy], timeout=1.0)
            now = time.time()
            for i, slot in enumerate(self._slots):
                if slot["name"] is None:
                    continue
                if slot["conn"] in ready:
                    try:
                        name, res = slot["conn"].recv()
                    except (EOFError, OSError):  # the worker died; reported below
                        pass
                    else:
                        slot["name"], slot["done"] = None, slot["done"] + 1
                        on_result(name, res)
                        continue
                if not slot["proc"].is_alive() or now - slot["start"] > timeout:
                    dead = not slot["proc"].is_alive()
                    code = slot["proc"].exitcode
                    outcome = f"worker crashed (exit code {code})" if dead else f"timeout (> {timeout:g} s)"
                    lost, seconds = slot["name"], round(now - slot["start"], 1)
                    self._replace(i, graceful=False)
                    on_result(lost, {"outcome": outcome, "params_m": None, "input": None, "seconds": seconds})

    def close(self) -> None:
        for slot in self._slots:
            slot["tasks"].put(None)
        for slot in self._slots:
            slot["proc"].join(10)
            if slot["proc"].is_alive():
                slot["proc"].kill()


def _save(path: str, meta: dict[str, Any], results: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump({**meta, "results": results}, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


def summarize(results: dict[str, dict[str, Any]], total: int, markdown: bool) -> str:
    """Counts by outcome (works first, then failure reasons by frequency), with percentages of ``total``."""
    counts = collections.Counter(r["outcome"] for r in results.values())
    order = [o for o in WORKS if o in counts] + [o for o, _ in counts.most_common() if o not in WORKS]
    working = sum(counts[o] for o in WORKS)
    lines = []
    if markdown:
        lines += ["| result | models | % of all | examples |", "|---|---:|---:|---|"]
    for outcome in order:
        examples = sorted(n for n, r in results.items() if r["outcome"] == outcome)[:3]
        pct = 100.0 * counts[outcome] / total
        if markdown:
            text = outcome.replace("|", "/")
            lines.append(f"| {text} | {counts[outcome]} | {pct:.1f} | {', '.join(examples)} |")
        else:
            lines.append(f"{counts[outcome]:6d} {pct:5.1f}%  {outcome}  (e.g. {', '.join(examples)})")
    pct = 100.0 * working / total
    if markdown:
        lines.append(f"| **works, total** | **{working}** | **{pct:.1f}** | |")
    else:
        lines.append(f"{working:6d} {pct:5.1f}%  works, total ({len(results)} of {total} timm models checked)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pattern", default=None, help="fnmatch pattern of timm names (default: all)")
    parser.add_argument("--names", nargs="*", default=None, help="check exactly these timm names")
    parser.add_argument("--limit", type=int, default=None, help="check an evenly spread sample of this many models")
    parser.add_argument("--offset", type=float, default=0.0, help="shift of the sample, in [0, 1) of the spacing")
    parser.add_argument("--skip", default=None, help="regex of names to leave out (default: none)")
    parser.add_argument("--size", type=int, default=64, help="input size (rounded up to the encoder's stride)")
    parser.add_argument("--max-params", type=float, default=100.0, help="above this many M params: meta check")
    parser.add_argument(
        "--fallback-params",
        type=float,
        default=1000.0,
        help="build for real a model up to this many M params whose meta check lacks a meta kernel",
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one model per task)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per model before it counts as failed")
    parser.add_argument("--max-tasks-per-worker", type=int, default=50, help="recycle workers after this many")
    parser.add_argument("--json", default=None, help="write per-model results here (updated as they come)")
    parser.add_argument("--resume", action="store_true", help="keep the results already in --json, check the rest")
    parser.add_argument("--retry-failed", action="store_true", help="with --resume: check failed models again")
    parser.add_argument("--markdown", action="store_true", help="print the summary as a markdown table")
    args = parser.parse_args(argv)
    if args.resume and not args.json:
        parser.error("--resume needs --json")

    import timm

    all_names = timm.list_models()
    names = list(args.names) if args.names else timm.list_models(args.pattern or "*")
    if args.skip:
        names = [n for n in names if not re.search(args.skip, n)]
    if args.limit and args.limit < len(names):
        step = len(names) / args.limit
        names = [names[int((i + args.offset) * step)] for i in range(args.limit)]
    results: dict[str, dict[str, Any]] = {}
    if args.resume and os.path.exists(args.json):
        with open(args.json, encoding="utf-8") as handle:
            results = json.load(handle).get("results", {})
        if args.retry_failed:
            results = {n: r for n, r in results.items() if r["outcome"] in WORKS}
    todo = [n for n in names if n not in results]
    command = " ".join(["python", "packages/seg-encoders-timm/scripts/timm_coverage.py", *(argv or sys.argv[1:])])
    meta = {
        "timm": timm.__version__,
        "torch": __import__("torch").__version__,
        "python": platform.python_version(),
        "size": args.size,
        "max_params": args.max_params,
        "fallback_params": args.fallback_params,
        "timm_models": len(all_names),
        "command": command,
    }
    print(f"timm {timm.__version__}: {len(todo)} models to check ({len(results)} already done)", file=sys.stderr)
    start = time.time()
    done = [0]
    last_save = [time.time()]

    def on_result(name: str, res: dict[str, Any]) -> None:
        results[name] = res
        done[0] += 1
        rate = (time.time() - start) / done[0]
        eta = rate * (len(todo) - done[0]) / 60
        print(
            f"[{done[0]}/{len(todo)} eta {eta:.0f} min] {name} ({res.get('params_m')}M, "
            f"{res.get('seconds', 0):.1f} s): {res['outcome']}",
            file=sys.stderr,
            flush=True,
        )
        if args.json and time.time() - last_save[0] > 10:
            _save(args.json, {**meta, "date": datetime.date.today().isoformat()}, results)
            last_save[0] = time.time()

    if todo:
        work = (args.size, args.max_params, args.fallback_params, args.threads)
        pool = _Pool(max(1, args.jobs), work, args.max_tasks_per_worker)
        try:
            pool.run(todo, args.timeout, on_result)
        finally:
            pool.close()
            if args.json:
                _save(args.json, {**meta, "date": datetime.date.today().isoformat()}, results)
    elapsed = time.time() - start
    checked = {n: results[n] for n in names if n in results}
    header = (
        f"timm {timm.__version__} ({len(all_names)} models): {len(checked)} checked; Unet, classes=2, random "
        f"weights, input {args.size} (fixed-size models at their size); real forward up to {args.max_params:g}M "
        f"params, meta-device shape check above; this run: {len(todo)} models in {elapsed / 60:.1f} min, "
        f"{args.jobs} job(s)"
    )
    print(header + ("\n" if args.markdown else ""))
    print(summarize(checked, len(all_names), args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
