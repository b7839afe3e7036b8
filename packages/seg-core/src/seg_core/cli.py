"""The ``seg`` command line. Listing never imports torch.

Commands: ``seg plugins``, ``seg list KIND [PATTERN]``, ``seg info KIND NAME``,
plus subcommands contributed by plugins through ``seg_cli_commands``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from seg_core.errors import SegError

__all__ = ["main"]


def _table(rows: Sequence[tuple[str, ...]], head: tuple[str, ...]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths))] + [fmt.format(*r) for r in rows])


def _cmd_plugins(args: argparse.Namespace) -> int:
    from seg_core.plugins import get_plugin_manager

    plugins = get_plugin_manager().plugins()
    if args.json:
        print(json.dumps([p.__dict__ for p in plugins], indent=2))
        return 0
    rows = [(p.name, p.distribution, p.version, p.status, p.error or "") for p in plugins]
    print(_table(rows, ("plugin", "distribution", "version", "status", "error")))
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from seg_core.plugins import get_registry

    names = get_registry(args.kind).names(args.pattern)
    for name in names:
        print(name)
    if not names:
        print(
            f"no {args.kind} match {args.pattern!r}" if args.pattern else f"no {args.kind} registered", file=sys.stderr
        )
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from seg_core.plugins import get_registry

    print(json.dumps(get_registry(args.kind).info(args.name), indent=2, default=str))
    return 0


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    """Build the argument parser, including plugin subcommands."""
    from seg_core import __version__
    from seg_core.plugins import get_plugin_manager

    parser = argparse.ArgumentParser(prog="seg", description="seg: segmentation models as plugin packages")
    parser.add_argument("--version", action="version", version=f"seg-core {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("plugins", help="list discovered plugins with their status")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_plugins)

    manager = get_plugin_manager()
    p = sub.add_parser("list", help="list registered names of one kind")
    p.add_argument("kind", help=f"one of: {', '.join(manager.registries.kinds())}")
    p.add_argument("pattern", nargs="?", default=None, help="fnmatch pattern, e.g. 'resnet*'")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="show what is known about one name")
    p.add_argument("kind")
    p.add_argument("name")
    p.set_defaults(func=_cmd_info)

    commands = manager.cli_commands()
    for name, command in commands.items():
        p = sub.add_parser(name, help=command.help)
        command.configure(p)
        p.set_defaults(func=command.execute)
    return parser, dict(commands)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seg`` console script."""
    try:
        parser, _ = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except SegError as exc:
        print(f"seg: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
