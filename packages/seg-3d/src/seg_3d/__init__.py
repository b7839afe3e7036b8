"""seg 3d: volumetric encoders with anisotropic strides, 3D data and models"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
