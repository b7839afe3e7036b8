"""``seg plan``: plan a 3D training from a dataset folder, a fingerprint JSON, or spacings and shapes.

Usage::

    seg plan DATASET_DIR [--preset m|l|xl] [--gpu-memory GB] [--out plan.toml]
    seg plan dataset_fingerprint.json --preset l
    seg plan --spacings 3.6,0.6,0.6 3.0,0.6,0.6 --shapes 20,320,320 24,320,300 --classes 3

With ``--out`` the plan's reasons are printed and the config is written to the file; without it the
config (its reasons as comments) goes to stdout. The module is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from seg_core.errors import ConfigError

if TYPE_CHECKING:
    from seg_3d.plan.fingerprint import Fingerprint

T = TypeVar("T")

__all__ = ["parse_triples", "run_plan", "setup_plan"]


def parse_triples(values: list[str], option: str, cast: Callable[[str], T]) -> list[tuple[T, ...]]:
    """Parse ``["3.6,0.6,0.6", "3.6x0.6x0.6"]`` into tuples (``,`` or ``x`` between the axes).

    Raises:
        ConfigError: A value that is not numbers separated by ``,`` or ``x`` (names ``option``).

    Example:
        >>> parse_triples(["3.6,0.6,0.6", "3x0.8x0.8"], "--spacings", float)
        [(3.6, 0.6, 0.6), (3.0, 0.8, 0.8)]
        >>> parse_triples(["20x320x320"], "--shapes", int)
        [(20, 320, 320)]
    """
    out = []
    for raw in values:
        parts = [p for p in raw.replace("x", ",").replace("X", ",").split(",") if p.strip()]
        try:
            out.append(tuple(cast(p.strip()) for p in parts))
        except ValueError:
            raise ConfigError(
                f"{option} {raw!r}: give one value per axis separated by ',' or 'x', e.g. 3.6,0.6,0.6"
            ) from None
    return out


def setup_plan(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``seg plan``."""
    parser.add_argument(
        "source",
        nargs="?",
        help="a volume dataset folder (NIfTI / .npy / .npz; a Decathlon folder with dataset.json), or a "
        "fingerprint JSON (ours or nnU-Net's dataset_fingerprint.json)",
    )
    parser.add_argument("--spacings", nargs="+", metavar="S", help="per-case spacings, e.g. 3.6,0.6,0.6 (mm)")
    parser.add_argument("--shapes", nargs="+", metavar="N", help="per-case shapes, e.g. 20,320,320 (voxels)")
    parser.add_argument(
        "--preset", default="m", type=str.lower, choices=("m", "l", "xl"), help="ResEnc preset (default m)"
    )
    parser.add_argument("--gpu-memory", type=float, metavar="GB", help="GPU memory target (default: the preset's)")
    parser.add_argument("--classes", type=int, help="classes, background included (default: from the dataset, else 2)")
    parser.add_argument("--in-channels", type=int, help="image channels (default: from the dataset, else 1)")
    parser.add_argument("--target-spacing", metavar="S", help="use this target spacing, e.g. 3,0.8,0.8")
    parser.add_argument("--root", help="data.root in the config (default: the dataset folder)")
    parser.add_argument("--dataset", choices=("volume_folder", "msd"), help="data.dataset in the config")
    parser.add_argument("--epochs", type=int, default=None, help="trainer.epochs in the config")
    parser.add_argument("--out", metavar="TOML", help="write the config here (default: print it)")
    parser.add_argument("--save-fingerprint", metavar="JSON", help="also write the fingerprint as JSON")


def _fingerprint(args: argparse.Namespace) -> Fingerprint:
    from seg_3d.plan.fingerprint import Fingerprint

    given = args.spacings is not None or args.shapes is not None
    if args.source is not None and given:
        raise ConfigError("seg plan: give a dataset folder / fingerprint JSON, or --spacings and --shapes, not both")
    if given:
        if args.spacings is None or args.shapes is None:
            raise ConfigError("seg plan: --spacings and --shapes go together (one of each per case)")
        spacings = parse_triples(args.spacings, "--spacings", float)
        shapes = parse_triples(args.shapes, "--shapes", int)
        return Fingerprint.from_lists(spacings, shapes)
    if args.source is None:
        raise ConfigError(
            "seg plan needs a dataset folder, a fingerprint JSON, or --spacings and --shapes "
            "(e.g. seg plan --spacings 1,1,1 --shapes 128,128,128)"
        )
    path = Path(args.source)
    if path.is_dir():
        return Fingerprint.from_folder(path)
    if path.is_file():
        return Fingerprint.from_json(path)
    raise ConfigError(f"seg plan: {str(path)!r} is neither a dataset folder nor a fingerprint JSON file")


def run_plan(args: argparse.Namespace) -> int:
    """``seg plan``: print the plan's reasons and write (or print) the config."""
    from seg_3d.plan.config import DEFAULT_EPOCHS, ROOT_PLACEHOLDER, plan_to_toml
    from seg_3d.plan.planner import plan

    fingerprint = _fingerprint(args)
    if args.save_fingerprint:
        fingerprint.to_json(args.save_fingerprint)
    override = parse_triples([args.target_spacing], "--target-spacing", float)[0] if args.target_spacing else None
    result = plan(
        fingerprint,
        preset=args.preset,
        gpu_memory_gb=args.gpu_memory,
        num_classes=args.classes,
        in_channels=args.in_channels,
        spacing=override,
    )
    text = plan_to_toml(
        result,
        root=args.root,
        dataset=args.dataset,
        epochs=args.epochs if args.epochs is not None else DEFAULT_EPOCHS,
    )
    if args.root is None and result.root is None:
        print(f"note: data.root is set to the placeholder {ROOT_PLACEHOLDER!r}; pass --root", file=sys.stderr)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(result.explain())
        print(f"\nwrote {out}; check it with: seg config check {out}; train with: seg train {out}")
    else:
        sys.stdout.write(text)
    return 0
