"""seg encoders: every timm backbone as an encoder (universal features_only and ViT adapters)"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
