"""seg encoders: every timm backbone as an encoder (universal features_only and ViT adapters).

Importing this package is cheap: torch and timm load only when an encoder is built.

Example:
    >>> import seg_core
    >>> encoder = seg_core.create_encoder("tu-resnet18", depth=4)  # doctest: +SKIP
    >>> import seg_encoders_timm
    >>> seg_encoders_timm.list_encoders("convnext_atto*")  # doctest: +SKIP
    ['convnext_atto', 'convnext_atto_ols', 'convnext_atto_rms']
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "list_encoders": "seg_encoders_timm.catalog",
    "encoder_metadata": "seg_encoders_timm.catalog",
    "get_preprocessing_params": "seg_encoders_timm.catalog",
    "TimmEncoderProvider": "seg_encoders_timm._provider",
    "create_timm_encoder": "seg_encoders_timm.factory",
    "TimmUniversalEncoder": "seg_encoders_timm.universal",
    "TimmViTEncoder": "seg_encoders_timm.vit",
}

__all__ = ["__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


if TYPE_CHECKING:
    from seg_encoders_timm._provider import TimmEncoderProvider
    from seg_encoders_timm.catalog import encoder_metadata, get_preprocessing_params, list_encoders
    from seg_encoders_timm.factory import create_timm_encoder
    from seg_encoders_timm.universal import TimmUniversalEncoder
    from seg_encoders_timm.vit import TimmViTEncoder
