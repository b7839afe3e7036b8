"""Errors raised by seg-3d's volume data (all subclasses of :class:`seg_core.errors.SegError`)."""

from __future__ import annotations

from seg_core.errors import SegError

__all__ = ["VolumeError", "VolumeLayoutError"]


class VolumeError(SegError, ValueError):
    """A volume file cannot be used: corrupt, missing partner, shape or geometry mismatch, bad label value.

    The message always names the file(s) involved.
    """


class VolumeLayoutError(VolumeError, FileNotFoundError):
    """A dataset root is missing or not laid out as expected; the message shows the expected tree."""
