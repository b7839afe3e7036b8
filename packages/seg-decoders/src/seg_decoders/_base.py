"""Shared construction steps of the seg-decoders models."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from seg_core.errors import ConfigError
from seg_core.heads import ClassificationHead, SegmentationHead
from seg_core.model import SegmentationModel
from seg_decoders.compatibility import check_compatible

__all__ = ["DecoderModel"]

#: Default encoder: seg-core's built-in CNN (timm is optional, so smp's resnet34 is not assumed).
DEFAULT_ENCODER = "basic_cnn"


def check_classes(classes: Any) -> None:
    """Reject class counts below 1 (smp builds them and fails at the first forward)."""
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ConfigError(f"classes must be an int >= 1, got {classes!r}")


def resolve_alias(value: Any, default: Any, deprecated: Any, old: str, new: str) -> Any:
    """Apply a deprecated argument alias (with a ``DeprecationWarning``)."""
    if deprecated is None:
        return value
    if value != default:
        raise ConfigError(f"pass either {new} or the deprecated {old}, not both")
    warnings.warn(f"{old} is deprecated, use {new}", DeprecationWarning, stacklevel=3)
    return deprecated


def check_positive(name: str, value: Any) -> None:
    """Require an int >= 1 for ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be an int >= 1, got {value!r}")


def check_probability(name: str, value: Any) -> None:
    """Require a float in [0, 1) for ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{name} must be a float in [0, 1), got {value!r}")


class DecoderModel(SegmentationModel):
    """Base of the nine models: builds the encoder and the heads the same way for all."""

    def _build_encoder(
        self,
        *,
        encoder_name: str,
        encoder_depth: int,
        encoder_weights: Any,
        encoder_output_stride: int | None,
        encoder_indices: Any,
        encoder_channels: Sequence[int] | None,
        encoder_params: dict[str, Any] | None,
        in_channels: int,
        classes: int,
        input_padding: bool,
    ) -> Any:
        from seg_core.api import build_encoder

        check_classes(classes)
        if not isinstance(input_padding, bool):
            raise ConfigError(f"input_padding must be True or False, got {input_padding!r}")
        encoder = build_encoder(
            encoder_name,
            in_channels=in_channels,
            depth=encoder_depth,
            weights=encoder_weights,
            output_stride=encoder_output_stride,
            indices=encoder_indices,
            channels=encoder_channels,
            params=encoder_params,
        )
        assert self.architecture_name is not None
        check_compatible(self.architecture_name, encoder.capabilities)
        self.encoder = encoder
        self.input_padding = input_padding
        return encoder

    def _build_heads(
        self,
        *,
        decoder_channels: int,
        classes: int,
        activation: Any,
        kernel_size: int,
        aux_params: dict[str, Any] | None,
        output_level: int,
        head_upsampling: int | Sequence[int] | None,
        upsampling: int | None = None,
    ) -> None:
        """Build the segmentation head (and the aux head) for a decoder output at ``output_level``.

        With ``head_upsampling`` and ``upsampling`` both None, the head upsamples by the
        encoder's per-axis reduction at ``output_level``, so the output has the input size.
        """
        encoder: Any = self.encoder
        dims = int(encoder.spatial_dims)
        if head_upsampling is not None and upsampling is not None:
            raise ConfigError("pass either head_upsampling or upsampling (its smp name), not both")
        chosen = head_upsampling if head_upsampling is not None else upsampling
        if chosen is None:
            factor: tuple[int, ...] = tuple(int(v) for v in encoder.axis_reductions[output_level])
        elif isinstance(chosen, int) and not isinstance(chosen, bool):
            factor = (chosen,) * dims
        elif isinstance(chosen, Sequence) and len(chosen) == dims and all(isinstance(v, int) for v in chosen):
            factor = tuple(chosen)
        else:
            raise ConfigError(f"head_upsampling must be None (automatic), an int or {dims} ints, got {chosen!r}")
        if any(f < 1 for f in factor):
            raise ConfigError(f"head_upsampling must be >= 1, got {chosen!r}")
        self.segmentation_head = SegmentationHead(
            decoder_channels,
            classes,
            kernel_size=kernel_size,
            activation=activation,
            upsampling=factor,
            spatial_dims=dims,
        )
        if aux_params is not None:
            if not isinstance(aux_params, dict):
                raise ConfigError(f"aux_params must be a dict or None, got {type(aux_params).__name__}")
            self.classification_head = ClassificationHead.from_aux_params(
                encoder.out_channels[-1], aux_params, spatial_dims=dims
            )
        else:
            self.classification_head = None
