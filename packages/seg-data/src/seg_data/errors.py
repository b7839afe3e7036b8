"""Errors raised by seg-data (all subclasses of :class:`seg_core.errors.SegError`)."""

from __future__ import annotations

from seg_core.errors import ConfigError, SegError

__all__ = ["ConfigError", "DatasetError", "LayoutError", "MetadataFileError"]


class DatasetError(SegError, ValueError):
    """A file of a dataset cannot be used: corrupt, missing partner, size mismatch, bad label value.

    The message always names the file(s) involved.
    """


class LayoutError(DatasetError, FileNotFoundError):
    """The dataset root is missing or not laid out as expected; the message shows the expected tree."""


class MetadataFileError(DatasetError, ConfigError):
    """A metadata file (``metadata.json`` / ``.toml``, Mapillary's config json) cannot be decoded, is not a table,
    lacks a key or holds invalid values; the message names the file.

    Both a :class:`DatasetError` (a file of the dataset) and a :class:`~seg_core.errors.ConfigError` (what invalid
    metadata files raised before).
    """
