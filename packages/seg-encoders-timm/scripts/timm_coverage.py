"""Sweep timm models and report which ones work as seg encoders, counted by failure reason.

Every model is built with random weights at a small input size. When seg-decoders is
installed the check is a real ``seg_core.create_model("unet", encoder_name=...)`` forward
pass; otherwise the encoder alone goes through a forward pass with the pyramid checks of
``seg_core.testing``.

Usage:
    python packages/seg-encoders-timm/scripts/timm_coverage.py --limit 60 --markdown
    python packages/seg-encoders-timm/scripts/timm_coverage.py --pattern "convnext*" --json out.json
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import re
import sys
import time
from typing import Any


def _reason(stage: str, exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = re.sub(r"\d+", "N", text)  # group messages that differ only by sizes
    text = re.sub(r"'[^']*'", "'...'", text)
    return f"{stage}: {type(exc).__name__}: {text[:90]}"


def _input_size(encoder: Any, size: int) -> list[int]:
    fixed = getattr(encoder, "_fixed_input_size", None)
    if fixed:
        return [int(v) for v in fixed]
    step = max(encoder.reductions)
    return [max(step, -(-size // step) * step)] * 2


def _millions_of_params(name: str) -> float:
    import timm
    import torch

    with torch.device("meta"):
        model = timm.create_model(name)
    return sum(p.numel() for p in model.parameters()) / 1e6


def check_one(name: str, size: int, use_unet: bool, max_params: float) -> str | None:
    """Return None if ``name`` works, else a failure reason (or a skip note)."""
    import torch

    import seg_core
    from seg_core.testing.conformance import _check_pyramid_outputs

    try:
        if _millions_of_params(name) > max_params:
            return f"skipped: more than {max_params:g}M parameters (--max-params)"
    except Exception as exc:
        return _reason("build model", exc)
    torch.manual_seed(0)
    try:
        encoder = seg_core.create_encoder(name, depth=5)
    except Exception as exc:
        return _reason("build encoder", exc)
    hw = _input_size(encoder, size)
    try:
        with torch.no_grad():
            if use_unet:
                model = seg_core.create_model("unet", encoder_name=name, classes=2).eval()
                out = model(torch.randn(1, 3, *hw))
                if tuple(out.shape) != (1, 2, *hw):
                    return f"unet: output shape {tuple(out.shape)} for input {hw}"
            else:
                x = torch.randn(1, 3, *hw)
                _check_pyramid_outputs(name, encoder.eval(), x, encoder(x))
    except Exception as exc:
        return _reason("unet forward" if use_unet else "encoder forward", exc)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pattern", default=None, help="fnmatch pattern of timm names (default: all)")
    parser.add_argument("--limit", type=int, default=None, help="check an evenly spread sample of this many models")
    parser.add_argument("--offset", type=float, default=0.0, help="shift of the sample, in [0, 1) of the spacing")
    parser.add_argument("--size", type=int, default=64, help="input size (rounded up to the encoder's stride)")
    parser.add_argument("--skip", default="giant|huge|gigantic|_6b|xxlarge|enormous|_e_", help="regex of names to skip")
    parser.add_argument("--max-params", type=float, default=100.0, help="skip models above this many million params")
    parser.add_argument("--json", default=None, help="write per-model results to this file")
    parser.add_argument("--markdown", action="store_true", help="print the summary as a markdown table")
    args = parser.parse_args(argv)

    import timm

    names = timm.list_models(args.pattern or "*")
    if args.skip:
        names = [n for n in names if not re.search(args.skip, n)]
    total_available = len(names)
    if args.limit and args.limit < len(names):
        step = len(names) / args.limit
        names = [names[int((i + args.offset) * step)] for i in range(args.limit)]
    use_unet = importlib.util.find_spec("seg_decoders") is not None
    results: dict[str, str | None] = {}
    start = time.time()
    for i, name in enumerate(names, 1):
        results[name] = check_one(name, args.size, use_unet, args.max_params)
        status = "ok" if results[name] is None else results[name]
        print(f"[{i}/{len(names)}] {name}: {status}", file=sys.stderr, flush=True)
    elapsed = time.time() - start
    counts = collections.Counter("works" if r is None else r for r in results.values())
    check = "Unet forward (seg-decoders installed)" if use_unet else "encoder forward + pyramid checks"
    header = (
        f"timm {timm.__version__}: {len(names)} of {total_available} models checked ({check}, "
        f"input {args.size}, random weights) in {elapsed:.0f} s"
    )
    if args.markdown:
        print(header + "\n")
        print("| result | models | examples |\n|---|---:|---|")
        for reason, count in counts.most_common():
            examples = [n for n, r in results.items() if (r is None and reason == "works") or r == reason][:3]
            print(f"| {reason.replace('|', '/')} | {count} | {', '.join(examples)} |")
    else:
        print(header)
        for reason, count in counts.most_common():
            print(f"{count:6d}  {reason}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"header": header, "results": results}, handle, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
