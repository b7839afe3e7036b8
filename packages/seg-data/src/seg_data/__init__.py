"""seg data: datasets in their official layouts, metadata, transforms and augmentations, class weights"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
