"""seg-decoders's plugin hook module (light: imports neither torch nor heavy dependencies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from seg_core.registry import Registrar

#: name -> (target, description, min encoder depth, paper)
ARCHITECTURES: dict[str, tuple[str, str, int, str]] = {
    "unet": ("seg_decoders.unet:Unet", "U-Net: upsampling blocks with skip connections", 1, "arXiv:1505.04597"),
    "unetplusplus": (
        "seg_decoders.unetplusplus:UnetPlusPlus",
        "UNet++: nested dense skip pathways",
        1,
        "arXiv:1807.10165",
    ),
    "manet": (
        "seg_decoders.manet:MAnet",
        "MA-Net: position and multi-scale attention blocks",
        1,
        "doi:10.1109/ACCESS.2020.3025372",
    ),
    "linknet": ("seg_decoders.linknet:Linknet", "LinkNet: light decoder adding skips", 1, "arXiv:1707.03718"),
    "fpn": ("seg_decoders.fpn:FPN", "Feature Pyramid Network (panoptic FPN head)", 3, "arXiv:1901.02446"),
    "pspnet": ("seg_decoders.pspnet:PSPNet", "Pyramid Scene Parsing Network", 1, "arXiv:1612.01105"),
    "pan": ("seg_decoders.pan:PAN", "Pyramid Attention Network", 3, "arXiv:1805.10180"),
    "deeplabv3": (
        "seg_decoders.deeplabv3:DeepLabV3",
        "DeepLabV3: atrous spatial pyramid pooling",
        1,
        "arXiv:1706.05587",
    ),
    "deeplabv3plus": (
        "seg_decoders.deeplabv3:DeepLabV3Plus",
        "DeepLabV3+: ASPP with a stride-4 refinement branch",
        3,
        "arXiv:1802.02611",
    ),
}


@hookimpl
def seg_register_architectures(registry: Registrar) -> None:
    """Register the nine smp architectures (2D and 3D)."""
    for name, (target, description, min_depth, paper) in ARCHITECTURES.items():
        registry.add(
            name,
            target,
            description=description,
            family="seg_decoders",
            spatial_dims=(2, 3),
            min_encoder_depth=min_depth,
            paper=paper,
            compatibility="seg_decoders.compatibility:is_compatible_info",
        )
