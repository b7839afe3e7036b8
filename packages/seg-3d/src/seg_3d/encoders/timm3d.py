"""timm_3d's models as encoders (``t3d-<model>``), when the optional ``timm_3d`` package is installed.

Names come from timm_3d's sources (the ``@register_model`` functions of the modules its ``models``
package imports), read without importing timm_3d or torch, so ``seg list encoders`` stays light. The encoder is timm_3d's
``features_only`` model: isotropic strides only (its stems and stages fix them), so
``encoder_strides`` is refused with the encoders that take it.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
from pathlib import Path
from typing import Any

from seg_core.errors import ConfigError
from seg_core.source_names import registered_names

__all__ = ["PREFIX", "Timm3dEncoderProvider", "create_timm3d_encoder", "timm3d_names"]

#: The name prefix of timm_3d encoders.
PREFIX = "t3d-"


@functools.lru_cache(maxsize=1)
def timm3d_names() -> tuple[str, ...]:
    """timm_3d's model names, from its sources (empty when timm_3d is not installed).

    Example:
        >>> isinstance(timm3d_names(), tuple)
        True
    """
    return tuple(registered_names("timm_3d") or ())


class Timm3dEncoderProvider:
    """Every timm_3d model as the encoder ``t3d-<model>`` (optional extra ``timm3d``)."""

    name = "timm_3d"
    examples: tuple[str, ...] = ("t3d-resnet18",)

    def names(self, pattern: str | None = None) -> list[str]:
        """The ``t3d-`` names matching the fnmatch ``pattern`` (case-insensitive)."""
        names = [PREFIX + n for n in timm3d_names()]
        if pattern is None:
            return names
        return [n for n in names if fnmatch.fnmatch(n.lower(), pattern.lower())]

    def has(self, name: str) -> bool:
        """Whether ``name`` is ``t3d-<a timm_3d model>``."""
        return isinstance(name, str) and name.lower().startswith(PREFIX) and name[len(PREFIX) :] in timm3d_names()

    def create(self, name: str, /, **kwargs: Any) -> Any:
        """Build the encoder (see `create_timm3d_encoder`)."""
        return create_timm3d_encoder(name, **kwargs)

    def info(self, name: str) -> dict[str, Any]:
        """What is known without building it."""
        return {
            "description": f"timm_3d model {name[len(PREFIX) :]} (features_only, isotropic strides)",
            "family": "timm_3d",
            "spatial_dims": (3,),
        }


def create_timm3d_encoder(
    name: str,
    *,
    in_channels: int = 3,
    depth: int = 5,
    weights: str | Path | None = None,
    output_stride: int | None = None,
    strides: Any = None,
) -> Any:
    """Build ``t3d-<model>`` as a seg encoder.

    Args:
        name: ``t3d-`` and a timm_3d model name.
        in_channels: Input channels (timm_3d's ``in_chans``).
        depth: Pyramid levels (1..5).
        weights: None, a local weights file of the timm_3d model, or ``"imagenet"`` (timm_3d's
            own pretrained weights: a download, so only with a warm cache).
        output_stride: Not supported (None).
        strides: Not supported (None): timm_3d's models fix their strides.

    Returns:
        The encoder.

    Raises:
        ConfigError: timm_3d is missing, or an option it cannot honour.
    """
    from seg_3d.encoders.timm3d_encoder import Timm3dEncoder

    if importlib.util.find_spec("timm_3d") is None:
        raise ConfigError(
            f"encoder {name!r} needs timm_3d: pip install './packages/seg-3d[timm3d]' (from a seg checkout)"
        )
    if strides is not None:
        raise ConfigError(
            f"{name}: timm_3d models fix their strides, so encoder_strides is not supported; use a seg-3d encoder "
            "that takes it (resnet18_3d, resnext50_32x4d_3d, densenet121_3d, efficientnet_b0_3d, resenc_m_3d, ...)"
        )
    if output_stride is not None:
        raise ConfigError(f"{name}: encoder_output_stride is not supported by timm_3d encoders (use None)")
    return Timm3dEncoder(name[len(PREFIX) :], in_channels=in_channels, depth=depth, weights=weights)
