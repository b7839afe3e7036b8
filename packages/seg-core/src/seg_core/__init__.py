"""seg-core: encoder contract, feature pyramids, registries, plugins and the base model.

Importing ``seg_core`` is cheap: torch-based classes load on first attribute access.

Example:
    >>> import seg_core
    >>> seg_core.list_encoders("basic*")
    ['basic_cnn', 'basic_cnn_s4']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.hookspecs import hookimpl
from seg_core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    # registry and plugins (no torch)
    "get_registry": "seg_core.plugins",
    "get_plugin_manager": "seg_core.plugins",
    "Registry": "seg_core.registry",
    "Provider": "seg_core.registry",
    "create_model": "seg_core.architectures",
    "create_encoder": "seg_core.components",
    "build_encoder": "seg_core.building",
    "EncoderArgs": "seg_core.building",
    "HeadArgs": "seg_core.building",
    "ModelArgs": "seg_core.building",
    "ArchitectureSpec": "seg_core.spec",
    "Requirements": "seg_core.spec",
    "architecture": "seg_core.spec",
    "check_compatible": "seg_core.spec",
    "list_encoders": "seg_core.components",
    "list_architectures": "seg_core.components",
    "list_datasets": "seg_core.components",
    "list_losses": "seg_core.components",
    "SegError": "seg_core.errors",
    "ConfigError": "seg_core.errors",
    "UnknownNameError": "seg_core.errors",
    "InputShapeError": "seg_core.errors",
    "IncompatibleEncoderError": "seg_core.errors",
    "CheckpointError": "seg_core.errors",
    "PluginError": "seg_core.errors",
    "SegPluginWarning": "seg_core.errors",
    # torch-based
    "EncoderMixin": "seg_core.encoder",
    "EncoderCapabilities": "seg_core.encoder",
    "FeaturePyramidAdapter": "seg_core.pyramid",
    "FeatureLevel": "seg_core.pyramid",
    "check_pyramid": "seg_core.pyramid",
    "SegmentationHead": "seg_core.heads",
    "ClassificationHead": "seg_core.heads",
    "SegmentationModel": "seg_core.model",
    "get_activation": "seg_core.activations",
    "get_norm": "seg_core.layers",
    "save_pretrained": "seg_core.checkpoint",
    "from_pretrained": "seg_core.architectures",
    "load_weights": "seg_core.checkpoint",
    "lazy_exports": "seg_core.lazy",
    "LoadReport": "seg_core.checkpoint",
    "optimize_for_inference": "seg_core.optimize",
    "OptimizationReport": "seg_core.optimize",
}

__all__ = ["__version__", "hookimpl", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:
    from seg_core.activations import get_activation
    from seg_core.architectures import create_model, from_pretrained
    from seg_core.building import EncoderArgs, HeadArgs, ModelArgs, build_encoder
    from seg_core.checkpoint import LoadReport, load_weights, save_pretrained
    from seg_core.components import (
        create_encoder,
        list_architectures,
        list_datasets,
        list_encoders,
        list_losses,
    )
    from seg_core.encoder import EncoderCapabilities, EncoderMixin
    from seg_core.errors import (
        CheckpointError,
        ConfigError,
        IncompatibleEncoderError,
        InputShapeError,
        PluginError,
        SegError,
        SegPluginWarning,
        UnknownNameError,
    )
    from seg_core.heads import ClassificationHead, SegmentationHead
    from seg_core.layers import get_norm
    from seg_core.model import SegmentationModel
    from seg_core.optimize import OptimizationReport, optimize_for_inference
    from seg_core.plugins import get_plugin_manager, get_registry
    from seg_core.pyramid import FeatureLevel, FeaturePyramidAdapter, check_pyramid
    from seg_core.registry import Provider, Registry
    from seg_core.spec import ArchitectureSpec, Requirements, architecture, check_compatible
