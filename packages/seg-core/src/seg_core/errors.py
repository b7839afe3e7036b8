"""Exception and warning types raised by seg.

Every error seg raises on bad input derives from `SegError`, and also
from the built-in exception a caller would naturally catch (``ValueError`` for a
bad argument, ``KeyError`` for an unknown name), so code written against smp's
exceptions keeps working.
"""

from __future__ import annotations

from seg_core.suggest import singular

__all__ = [
    "CheckpointError",
    "ConfigError",
    "IncompatibleEncoderError",
    "InputShapeError",
    "PluginError",
    "SegError",
    "SegPluginWarning",
    "UnknownNameError",
]

#: Base address of the published documentation; error messages link into it.
DOCS_URL = "https://seg.readthedocs.io/en/latest"


def faq_link(anchor: str) -> str:
    """Return the FAQ URL for ``anchor`` (used at the end of error messages)."""
    return f"{DOCS_URL}/faq/#{anchor}"


class SegError(Exception):
    """Base class of all errors raised by seg."""


class ConfigError(SegError, ValueError):
    """An argument has a value that cannot work; the message names the argument."""


class UnknownNameError(SegError, KeyError):
    """A registry lookup found no such name.

    Attributes:
        kind: The registry kind (``"encoders"``, ``"architectures"``...).
        name: The name that was asked for.
        suggestions: Close matches among the registered names.
        install_hint: A sentence saying which distribution provides the name and how to
            get it (install, enable, or why its plugin failed), when known.
    """

    def __init__(
        self,
        kind: str,
        name: str,
        suggestions: list[str] | None = None,
        install_hint: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = list(suggestions or [])
        self.install_hint = install_hint
        message = f"unknown {singular(kind)} {name!r}."
        if self.suggestions:
            message += " Did you mean: " + ", ".join(repr(s) for s in self.suggestions) + "?"
        if install_hint:
            message += f" {install_hint}."
        if kind == "registry kinds":
            message += " (plugins may add kinds; `seg plugins` shows what is installed)"
        else:
            message += f" (see `seg list {kind}` for all registered names)"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class InputShapeError(SegError, ValueError):
    """An input tensor has a shape the model cannot process."""


class IncompatibleEncoderError(SegError, ValueError):
    """An encoder's feature pyramid cannot feed the requested decoder."""


class CheckpointError(SegError, ValueError):
    """A saved model or weights file is missing, corrupt or does not fit the model."""


class PluginError(SegError, RuntimeError):
    """A plugin failed to load or register (raised only in strict mode)."""


class SegPluginWarning(UserWarning):
    """A third-party plugin was skipped or lost a name conflict."""
