"""Test settings for seg-encoders-timm: strict plugins, a private support cache, no network."""

from __future__ import annotations

import os
import tempfile

os.environ["SEG_STRICT_PLUGINS"] = "1"
os.environ.setdefault("SEG_CACHE_DIR", tempfile.mkdtemp(prefix="seg-timm-cache-"))
os.environ["HF_HUB_OFFLINE"] = "1"

import pytest

pytest.importorskip("timm")
