"""Parse encoder names: ``tu-`` prefix, timm model name and pretrained tag. Imports nothing heavy."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ParsedName", "parse_name"]

PREFIX = "tu-"


@dataclass(frozen=True)
class ParsedName:
    """A name split into its parts.

    Attributes:
        base: The timm architecture (``"convnext_tiny"``).
        tag: The pretrained tag (``"fb_in22k"``) or None.
    """

    base: str
    tag: str | None

    @property
    def full(self) -> str:
        """``base.tag`` as timm spells it (just ``base`` without a tag)."""
        return f"{self.base}.{self.tag}" if self.tag else self.base


def parse_name(name: str) -> ParsedName:
    """Split ``"tu-convnext_tiny.fb_in22k"`` into base ``convnext_tiny`` and tag ``fb_in22k``.

    Args:
        name: Encoder name, bare or with the smp-style ``tu-`` prefix, with or without a tag.

    Returns:
        The :class:`ParsedName`.
    """
    raw = name.strip()
    if raw.lower().startswith(PREFIX):
        raw = raw[len(PREFIX) :]
    base, _, tag = raw.partition(".")
    return ParsedName(base, tag or None)
