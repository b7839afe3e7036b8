"""Registration of ``seg`` subcommands by plugins (kept free of heavy imports)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seg_core.errors import ConfigError

__all__ = ["Command", "CommandRegistrar"]

SetupFn = Callable[[argparse.ArgumentParser], None]
RunFn = Callable[[argparse.Namespace], int]


def _resolve(target: Callable[..., Any] | str) -> Callable[..., Any]:
    if not isinstance(target, str):
        return target
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


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
        """Run the command; returns the exit code."""
        return int(_resolve(self.run)(args) or 0)


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
