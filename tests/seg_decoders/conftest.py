"""Strict plugin loading for the seg-decoders tests."""

from __future__ import annotations

import os

os.environ.setdefault("SEG_STRICT_PLUGINS", "1")
