"""Registration of ``seg`` subcommands by plugins (kept free of heavy imports)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seg_core.errors import ConfigError, PluginError

__all__ = ["BUILTIN_COMMANDS", "Command", "CommandRegistrar", "command_problem"]

#: The subcommands of ``seg`` itself; a plugin command with one of these names is skipped.
BUILTIN_COMMANDS: frozenset[str] = frozenset({"plugins", "list", "info"})

SetupFn = Callable[[argparse.ArgumentParser], None]
RunFn = Callable[[argparse.Namespace], int]


def _resolve(target: Callable[..., Any] | str) -> Callable[..., Any]:
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{target!r} is not callable")
    return obj


def _is_target(value: object) -> bool:
    if isinstance(value, str):
        module_name, sep, attr = value.partition(":")
        return bool(sep and module_name and attr)
    return callable(value)


def command_problem(command: Command) -> str | None:
    """Say why ``command`` cannot be added to the ``seg`` parser, or return None if it can.

    Checks what can be checked without importing anything: the name (not empty, no
    spaces, no leading ``-``, not a built-in subcommand), the help text and the shape
    of the ``setup`` and ``run`` targets.
    """
    name = command.name
    if not isinstance(name, str) or not name or name != name.strip() or " " in name or name.startswith("-"):
        return f"{name!r} is not a valid subcommand name"
    if name in BUILTIN_COMMANDS:
        return f"{name!r} is a built-in seg subcommand"
    if not isinstance(command.help, str):
        return f"its help must be a string, got {command.help!r}"
    if not _is_target(command.run):
        return f"run must be a callable or a 'package.module:attr' string, got {command.run!r}"
    if command.setup is not None and not _is_target(command.setup):
        return f"setup must be a callable or a 'package.module:attr' string, got {command.setup!r}"
    return None


@dataclass
class Command:
    """A ``seg`` subcommand contributed by a plugin."""

    name: str
    help: str
    setup: SetupFn | str | None
    run: RunFn | str
    plugin: str

    def configure(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's arguments to ``parser``."""
        if self.setup is not None:
            _resolve(self.setup)(parser)

    def execute(self, args: argparse.Namespace) -> int:
        """Run the command; returns the exit code.

        Raises:
            PluginError: The lazy ``run`` target cannot be imported.
        """
        try:
            run = _resolve(self.run)
        except (ImportError, AttributeError, TypeError) as exc:
            raise PluginError(
                f"seg subcommand {self.name!r} from {self.plugin} cannot run: {self.run!r} "
                f"cannot be imported: {type(exc).__name__}: {exc}"
            ) from exc
        result = run(args)
        return result if isinstance(result, int) else 0 if result is None else 1


class CommandRegistrar:
    """What the ``seg_cli_commands`` hook receives."""

    def __init__(self, plugin: str = "<runtime>") -> None:
        self.plugin = plugin
        self.commands: dict[str, Command] = {}

    def add(
        self,
        name: str,
        *,
        help: str,
        run: RunFn | str,
        setup: SetupFn | str | None = None,
    ) -> None:
        """Add subcommand ``name``.

        Args:
            name: The subcommand (``seg <name>``).
            help: One-line description shown by ``seg --help``.
            run: ``run(args) -> int`` or a lazy ``"module:attr"`` string.
            setup: ``setup(parser)`` adding arguments, or a lazy string.

        Raises:
            ConfigError: The name is already taken.
        """
        if name in self.commands:
            raise ConfigError(f"seg subcommand {name!r} is already defined by {self.commands[name].plugin}")
        self.commands[name] = Command(name, help, setup, run, self.plugin)
