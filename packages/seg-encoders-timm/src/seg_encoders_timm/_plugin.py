"""seg-encoders-timm's plugin hook module (light: imports neither torch nor heavy dependencies)."""

from __future__ import annotations
