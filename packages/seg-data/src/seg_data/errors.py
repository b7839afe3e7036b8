"""Errors raised by seg-data (all subclasses of :class:`seg_core.errors.SegError`)."""

from __future__ import annotations

from seg_core.errors import ConfigError, SegError

__all__ = ["ConfigError", "DatasetError", "LayoutError"]


class DatasetError(SegError, ValueError):
    """A file of a dataset cannot be used: corrupt, missing partner, size mismatch, bad label value.

    The message always names the file(s) involved.
    """


class LayoutError(DatasetError, FileNotFoundError):
    """The dataset root is missing or not laid out as expected; the message shows the expected tree."""
