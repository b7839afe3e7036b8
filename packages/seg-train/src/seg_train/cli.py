"""``seg train``, ``seg eval``, ``seg demo`` and ``seg config``: seg-train's commands in the ``seg`` CLI.

The module is imported only when one of these commands runs (``seg --help`` stays light).
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["DEMO_CONFIG", "STARTER_CONFIG"]

#: The built-in configs, shipped in the package.
DEMO_CONFIG = "demo.toml"
STARTER_CONFIG = "starter.toml"


def _packaged(name: str) -> str:
    return resources.files("seg_train.config").joinpath(name).read_text(encoding="utf-8")


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set trainer.epochs=3 (TOML values; repeatable)",
    )


def setup_train(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg train``."""
    parser.add_argument("config", help="the TOML config")
    parser.add_argument("--resume", metavar="PATH|auto", help="a checkpoint or run folder to resume, or 'auto'")
    _add_set(parser)


def run_train(args: argparse.Namespace) -> int:
    """``seg train CONFIG``."""
    from seg_train.config import load_config
    from seg_train.run import train

    config = load_config(args.config, args.overrides)
    trainer = train(config, resume=args.resume)
    if trainer.dist.is_main:
        _report(trainer)
    return 0


def setup_eval(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg eval``."""
    parser.add_argument("config", help="the TOML config (its [data] and [model] sections)")
    parser.add_argument(
        "--checkpoint", required=True, help="a training checkpoint, a run folder or a save_pretrained folder"
    )
    parser.add_argument("--plot", metavar="PNG", help="also draw the confusion matrix into this file")
    _add_inference(parser)
    _add_set(parser)


def run_eval(args: argparse.Namespace) -> int:
    """``seg eval CONFIG --checkpoint PATH``: the metrics table and the confusion matrix."""
    from seg_train.config import load_config
    from seg_train.inference.predict import parse_window
    from seg_train.run import evaluate

    config = load_config(args.config, args.overrides)
    window = parse_window(args.window, args.overlap, args.blend, args.padding)
    metrics, confusion, metadata = evaluate(config, args.checkpoint, tta=args.tta, window=window)
    print(_metrics_table(metrics, metadata))
    if confusion is not None:
        print()
        print(_confusion_table(confusion, list(metadata.labels)))
        if args.plot:
            from seg_core.io import atomic_write_bytes
            from seg_train.loggers.plots import confusion_png

            atomic_write_bytes(args.plot, confusion_png(confusion, list(metadata.labels)))
            print(f"\nconfusion matrix drawn to {args.plot}")
    return 0


def _add_inference(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tta", metavar="SPEC", help="test-time augmentation: flip, scale, rot90, or e.g. 'flip,scale'"
    )
    parser.add_argument("--window", metavar="SIZE", help="sliding window: one size (512) or one per axis (96,96,64)")
    parser.add_argument("--overlap", type=float, default=0.5, help="sliding-window overlap in [0, 1) (default 0.5)")
    parser.add_argument("--blend", choices=("gaussian", "constant"), default="gaussian", help="window blending")
    parser.add_argument(
        "--padding", default="constant", metavar="MODE",
        help="how an image smaller than the window is padded: constant (zeros, the default), reflect, replicate, circular",
    )  # fmt: skip


def setup_predict(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg predict``."""
    parser.add_argument("inputs", nargs="+", help="image files or folders (and volumes, with seg-3d installed)")
    parser.add_argument("--checkpoint", required=True, help="a run folder, a save_pretrained folder or a checkpoint")
    parser.add_argument("--out", required=True, help="the folder for the masks")
    parser.add_argument("--overlay", action="store_true", help="also write the mask over the image")
    parser.add_argument("--probabilities", action="store_true", help="also write the class probabilities (.npy)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    _add_inference(parser)


def run_predict(args: argparse.Namespace) -> int:
    """``seg predict --checkpoint PATH INPUTS... --out DIR``: masks for every image; failures are listed at the end."""
    from seg_train.inference.files import collect_inputs, load_for_inference, predict_files
    from seg_train.inference.predict import parse_tta, parse_window
    from seg_train.trainer import select_device

    bundle = load_for_inference(args.checkpoint, select_device(args.device))
    window = parse_window(args.window, args.overlap, args.blend, args.padding)
    tta = parse_tta(args.tta, bundle.spatial_dims)
    files, failures = collect_inputs(args.inputs)
    failures += predict_files(
        bundle, files, args.out, tta=tta, window=window, overlay=args.overlay, probabilities=args.probabilities,
        progress=sys.stderr.isatty(),
    )  # fmt: skip
    done = len(files) - sum(1 for path, _ in failures if path in set(files))
    print(f"{done} of {len(files)} image(s) predicted into {args.out}")
    if failures:
        print(f"{len(failures)} failure(s):", file=sys.stderr)
        for path, reason in failures:
            print(f"  {path}: {reason}", file=sys.stderr)
        return 1
    return 0


def setup_demo(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg demo``."""
    parser.add_argument("--runs", default="runs", help="folder for the run folder (default: runs)")
    _add_set(parser)


def run_demo(args: argparse.Namespace) -> int:
    """``seg demo``: train on the synthetic dataset with the built-in config; print the run folder and metrics."""
    from seg_train.config.validate import apply_overrides, parse_config, read_toml
    from seg_train.run import train

    source = resources.files("seg_train.config").joinpath(DEMO_CONFIG)
    with resources.as_file(source) as path:
        data = read_toml(path)
    data.setdefault("paths", {})["runs"] = args.runs
    config = parse_config(apply_overrides(data, args.overrides), source="the demo config")
    trainer = train(config)
    _report(trainer)
    return 0


def setup_config(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg config``."""
    actions = parser.add_subparsers(dest="action", required=True)
    init = actions.add_parser("init", help="write a commented starter config")
    init.add_argument("path", nargs="?", default="config.toml", help="where (default: config.toml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    check = actions.add_parser("check", help="validate a config (and print it resolved)")
    check.add_argument("path", help="the TOML config")
    _add_set(check)


def run_config(args: argparse.Namespace) -> int:
    """``seg config init [PATH]`` / ``seg config check PATH``."""
    from seg_core.errors import ConfigError

    if args.action == "init":
        path = Path(args.path)
        if path.exists() and not args.force:
            raise ConfigError(f"{path} exists; pass --force to overwrite it")
        path.write_text(_packaged(STARTER_CONFIG), encoding="utf-8")
        print(f"wrote {path}; train with: seg train {path}")
        return 0
    import tomli_w

    from seg_train.config import load_config
    from seg_train.run import _resolved

    config = load_config(args.path, args.overrides)
    sys.stdout.write(tomli_w.dumps(_resolved(config)))
    print(f"# {args.path}: valid", file=sys.stderr)
    return 0


def _report(trainer: Any) -> None:
    last = trainer.history[-1] if trainer.history else {}
    print(f"\nrun folder: {trainer.run_dir}")
    for key in ("train/loss", "val/loss", "val/accuracy", "val/miou", "val/dice"):
        if key in last:
            print(f"  {key:<14} {last[key]:.4f}")
    if trainer.best_value is not None:
        print(f"  best {trainer.best_metric} {trainer.best_value:.4f} at epoch {trainer.best_epoch}")
    print("  look at: metrics.csv, plots/curves.png, plots/confusion_*.png, snapshots/, best_model/")


def _metrics_table(metrics: dict[str, float], metadata: Any) -> str:
    lines = [f"{'metric':<16}{'value':>10}"]
    lines += [f"{k.split('/', 1)[1]:<16}{v:>10.4f}" for k, v in metrics.items() if k.count("/") == 1]
    labels = list(metadata.labels)
    width = max(len(label) for label in labels) + 2
    header = f"\n{'class':<{width}}{'iou':>8}{'dice':>8}{'accuracy':>10}"
    rows = [header]
    split = next(iter(metrics)).split("/")[0]
    for label in labels:
        values = [metrics.get(f"{split}/per_class_{m}/{label}", float("nan")) for m in ("iou", "dice", "accuracy")]
        rows.append(f"{label:<{width}}{values[0]:>8.4f}{values[1]:>8.4f}{values[2]:>10.4f}")
    return "\n".join(lines + rows)


def _confusion_table(confusion: Any, labels: list[str]) -> str:
    matrix = confusion.tolist()
    if confusion.ndim != 2:
        return f"confusion matrices per class (truth x prediction): {matrix}"
    width = max(max(len(label) for label in labels), max(len(str(v)) for row in matrix for v in row)) + 2
    lines = [
        "confusion matrix (rows: ground truth, columns: prediction)",
        " " * width + "".join(f"{label:>{width}}" for label in labels),
    ]
    lines += [f"{labels[i]:<{width}}" + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(matrix)]
    return "\n".join(lines)
