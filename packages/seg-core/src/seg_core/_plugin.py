"""seg-core's own plugin: the built-in ``basic_cnn`` encoders. Imports nothing heavy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from seg_core.registry import Registrar


#: (name, description, level-1 channels): the stride-2 stem and the stride-4 stem variants.
_BASIC_ENCODERS = (
    ("basic_cnn", "plain conv-norm-ReLU encoder (stride-2 stem), 2D/3D, no pretrained weights", 16),
    ("basic_cnn_s4", "basic_cnn with a stride-4 stem (level 1 is a zero-channel map, like ConvNeXt)", 0),
)


@hookimpl
def seg_register_encoders(registry: Registrar) -> None:
    """Register seg-core's built-in encoders."""
    for name, description, level1 in _BASIC_ENCODERS:
        registry.add(
            name,
            f"seg_core.basic_encoder:{name}",
            description=description,
            family="basic",
            spatial_dims=(2, 3),
            out_channels=(3, level1, 32, 64, 128, 256),
            reductions=(1, 2, 4, 8, 16, 32),
        )
