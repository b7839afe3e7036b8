"""seg decoders: Unet, Unet++, MAnet, Linknet, FPN, PSPNet, PAN, DeepLabV3, DeepLabV3+ for 2D and 3D"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
