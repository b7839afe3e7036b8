"""seg-core's own plugin: the built-in ``basic_cnn`` encoders. Imports nothing heavy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from seg_core.registry import Registrar


@hookimpl
def seg_register_encoders(registry: Registrar) -> None:
    """Register seg-core's built-in encoders."""
    registry.add(
        "basic_cnn",
        "seg_core.basic_encoder:basic_cnn",
        description="plain conv-norm-ReLU encoder (stride-2 stem), 2D/3D, no pretrained weights",
        family="basic",
        spatial_dims=(2, 3),
        out_channels=(3, 16, 32, 64, 128, 256),
        reductions=(1, 2, 4, 8, 16, 32),
    )
    registry.add(
        "basic_cnn_s4",
        "seg_core.basic_encoder:basic_cnn_s4",
        description="basic_cnn with a stride-4 stem (level 1 is a zero-channel map, like ConvNeXt)",
        family="basic",
        spatial_dims=(2, 3),
        out_channels=(3, 0, 32, 64, 128, 256),
        reductions=(1, 2, 4, 8, 16, 32),
    )
