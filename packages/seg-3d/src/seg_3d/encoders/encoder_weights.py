"""Loading an encoder's weights: a 2D file or timm tag (inflated) or a 3D file (loaded as is).

The encoder is built with the 2D network's 3 input channels when it has weights; whatever the
file's first convolution takes is matched before loading, and `seg_core.encoder.patch_first_conv`
adapts the stem to the requested ``in_channels`` afterwards (the encoder's ``set_in_channels``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from seg_core.encoder import EncoderMixin
from seg_core.errors import CheckpointError, ConfigError

from .inflate import inflate_state_dict, load_2d_weights

__all__ = ["WEIGHT_SUFFIXES", "load_encoder_weights"]

#: File suffixes read as weight files (anything else is a timm pretrained tag).
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


def _match_stem(encoder: Any, channels: int) -> None:
    """Give the stem ``channels`` inputs (fresh weights: the file's replace them)."""
    if channels != encoder.in_channels:
        encoder.set_in_channels(channels, pretrained=False)


def _load_file(encoder: Any, path: Path, stem_key: str, name: str) -> dict[str, torch.Tensor]:
    from seg_core.io import load_state_file, strip_wrapper_prefixes

    state = strip_wrapper_prefixes(load_state_file(path), encoder.state_dict().keys())
    stem = state.get(stem_key)
    if not isinstance(stem, torch.Tensor) or stem.ndim not in (4, 5):
        raise CheckpointError(
            f"{name}: weights file {path} holds no 2D or 3D convolution {stem_key!r}, so it is not a {name} "
            f"state dict (first keys: {list(state)[:4]})"
        )
    _match_stem(encoder, int(stem.shape[1]))
    if stem.ndim == 5:  # already 3D: kernel shapes must match the strides the encoder was built with
        target = encoder.state_dict()
        wrong = [
            f"{k}: file {tuple(v.shape)}, encoder {tuple(target[k].shape)}"
            for k, v in state.items()
            if k in target and tuple(v.shape) != tuple(target[k].shape)
        ]
        if wrong:
            raise CheckpointError(
                f"{name}: the 3D weights in {path} do not fit this encoder ({wrong[0]}); build it with the "
                "encoder_strides (hence kernel sizes) the file was saved with"
            )
        return {k: v for k, v in state.items() if k in target}
    try:
        return inflate_state_dict(state, encoder)
    except CheckpointError as error:
        raise CheckpointError(f"{name}: cannot inflate the 2D weights in {path}: {error}") from error


def load_encoder_weights(encoder: nn.Module, weights: Any, *, timm_name: str | None, name: str) -> None:
    """Load ``weights`` into ``encoder`` (in place), inflating 2D weights.

    Args:
        encoder: A seg-3d encoder (an `seg_core.EncoderMixin` whose ``_first_conv`` names the stem
            and whose module names follow timm's 2D network).
        weights: A local weights file (``.safetensors`` / ``.pth``; 2D kernels are inflated, 3D ones
            loaded as they are), or a timm pretrained tag (``"imagenet"`` or e.g. ``"a1_in1k"``),
            which needs timm and its cache.
        timm_name: The timm model holding the 2D weights (for tags).
        name: The encoder's registered name, for messages.

    Raises:
        ConfigError: ``weights`` is neither a path nor a tag, or a tag without timm.
        CheckpointError: An unreadable file (named), weights that do not fit, or weights that do not
            cover every parameter of the encoder.

    Example:
        >>> load_encoder_weights(encoder, "resnet18_2d.safetensors", timm_name="resnet18", name="resnet18_3d")  # doctest: +SKIP
    """
    if not isinstance(encoder, EncoderMixin) or encoder._first_conv is None:
        raise ConfigError(f"{name}: load_encoder_weights needs an EncoderMixin with _first_conv set")
    if isinstance(weights, bool) or not isinstance(weights, (str, Path)) or not str(weights).strip():
        raise ConfigError(
            f"{name}: encoder_weights must be None, a local weights file (.safetensors/.pth) or a timm tag "
            f"such as 'imagenet', got {weights!r}"
        )
    path = Path(weights)
    if path.suffix in WEIGHT_SUFFIXES or path.is_file():
        source = str(path)
        state = _load_file(encoder, path, f"{encoder._first_conv}.weight", name)
    else:
        source = f"timm's {timm_name} weights ({weights!r})"
        state = load_2d_weights(encoder, str(weights), timm_name=timm_name)
    missing = [k for k in encoder.state_dict() if k not in state and not k.endswith("num_batches_tracked")]
    if missing:
        raise CheckpointError(
            f"{name}: {source} does not cover {len(missing)} of the encoder's weights, e.g. {missing[:4]}; "
            f"pass the state dict of timm's {timm_name or name} (or of this encoder)"
        )
    encoder.load_state_dict(state, strict=False)
