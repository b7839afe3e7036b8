"""seg decoders: smp's architectures, UPerNet, SegFormer, DPT and PixSeg's real-time models, for 2D and 3D.

Importing the package is cheap; the model classes load on first access. The class
exports are derived from the architectures' declarations (the generated ``_catalog.json``).

Example:
    >>> import seg_decoders
    >>> model = seg_decoders.FPN("basic_cnn", classes=2)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports
from seg_core.spec import load_catalog

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    **{entry["class_name"]: entry["target"].partition(":")[0] for entry in load_catalog(__name__).values()},
    "from_smp": "seg_decoders.smp_import",
    "check_compatible": "seg_core.spec",
    "is_compatible": "seg_core.spec",
}

__all__ = ["__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:
    from seg_core.spec import check_compatible, is_compatible
    from seg_decoders.bisenet import BiSeNet
    from seg_decoders.deeplabv3 import DeepLabV3, DeepLabV3Plus
    from seg_decoders.dpt import DPT
    from seg_decoders.enet import ENet
    from seg_decoders.fcn import FCN
    from seg_decoders.fpn import FPN
    from seg_decoders.linknet import Linknet
    from seg_decoders.lraspp import LRASPP
    from seg_decoders.manet import MAnet
    from seg_decoders.pan import PAN
    from seg_decoders.pspnet import PSPNet
    from seg_decoders.segformer import Segformer
    from seg_decoders.sfnet import SFNet
    from seg_decoders.sfnet_lite import SFNetLite
    from seg_decoders.smp_import import from_smp
    from seg_decoders.unet import Unet
    from seg_decoders.unetplusplus import UnetPlusPlus
    from seg_decoders.upernet import UPerNet
