"""The ``seg`` command line. Listing never imports torch.

Commands: ``seg plugins``, ``seg list KIND [PATTERN]``, ``seg info KIND NAME``,
plus subcommands contributed by plugins through ``seg_cli_commands``.

Exit codes: 0 on success, 2 for a seg error (one line on stderr) or bad usage,
130 when interrupted (Ctrl-C), 141 when stdout was closed early (``seg ... | head``),
and whatever a plugin subcommand returns. A plugin subcommand that cannot be set up
is reported and skipped; the other commands keep working.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from seg_core.cli_commands import Command
from seg_core.errors import SegError

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_ERROR", "EXIT_INTERRUPTED", "build_parser", "main"]

#: Exit code of a seg error or bad usage (like argparse).
EXIT_ERROR = 2
#: Exit code after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: Exit code when the reader of stdout went away (128 + SIGPIPE, as shells report it).
EXIT_BROKEN_PIPE = 141


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
    rows = [(p.name, p.distribution, p.version, p.status, p.error or "; ".join(p.problems)) for p in plugins]
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


def _drop_subparser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, parser: object) -> None:
    """Remove a subcommand added by ``sub.add_parser`` (argparse has no public way to)."""
    if sub._name_parser_map.get(name) is parser:
        del sub._name_parser_map[name]
    sub._choices_actions[:] = [a for a in sub._choices_actions if a.dest != name]


def _add_plugin_command(sub: argparse._SubParsersAction[argparse.ArgumentParser], command: Command) -> bool:
    """Add one plugin subcommand; False (after reporting it) if it cannot be set up."""
    from seg_core.plugins import get_plugin_manager

    parser: argparse.ArgumentParser | None = None
    try:
        help_text = command.help.replace("%", "%%")  # argparse %-formats help texts
        parser = sub.add_parser(command.name, help=help_text, description=command.help)
        command.configure(parser)
    except (Exception, SystemExit) as exc:  # a plugin's setup may even call sys.exit()
        if parser is not None:
            _drop_subparser(sub, command.name, parser)
        get_plugin_manager().command_failed(command.name, "setting up its arguments", exc)
        return False
    parser.set_defaults(func=command.execute)
    return True


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """Build the argument parser, including plugin subcommands.

    Returns:
        The parser and the plugin subcommands it holds (those that could not be set
        up are reported with a `SegPluginWarning` and left out).

    Raises:
        PluginError: In strict mode, a plugin is broken or a plugin subcommand cannot be set up.
    """
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

    added: dict[str, Command] = {}
    for name, command in manager.cli_commands().items():
        if _add_plugin_command(sub, command):
            added[name] = command
    return parser, added


def _stdout_to_devnull() -> None:
    """Point stdout's file descriptor at devnull, so that flushing at exit cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a file (captured, replaced)
        pass


def _run(argv: Sequence[str] | None) -> int:
    try:
        parser, _ = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        return int(args.func(args) or 0)
    except SegError as exc:
        print(f"seg: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seg`` console script.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0, `EXIT_ERROR` (a seg error, printed as one line on stderr),
        `EXIT_INTERRUPTED`, `EXIT_BROKEN_PIPE` (stdout closed by its reader, e.g.
        ``| head``: the rest of the output is dropped silently) or a plugin
        subcommand's own code.
    """
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # here, not at exit, so that a closed pipe is handled below
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
