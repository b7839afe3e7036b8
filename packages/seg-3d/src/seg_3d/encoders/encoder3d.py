"""`Encoder3d`: what seg-3d's CNN encoders share (levels, strides, weights, dilation, checkpointing).

An encoder is a list of levels; level ``i`` is a short chain of modules whose output is the
``i``-th pyramid map. The subclass builds the modules (with kernel sizes from `kernel` and the
level's stride from `level_stride`), then calls `Encoder3d._finish` with the chains; the rest
(forward, weights, ``in_channels``, per-axis dilation, activation checkpointing) is here.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import torch
from torch import nn

from seg_core.encoder import EncoderMixin
from seg_core.errors import ConfigError
from seg_core.suggest import unexpected_arguments

from .axis_dilation import dilate_levels
from .encoder_weights import load_encoder_weights
from .geometry import Stride, kernel_sizes, level_strides, total_reduction
from .stages import run_stage

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Encoder3d", "padding", "triple"]

#: What ``output_stride`` may be (None: no dilation).
OUTPUT_STRIDES = (8, 16, 32)


def triple(value: Sequence[int]) -> tuple[int, int, int]:
    """A per-axis size as the 3-tuple ``nn.Conv3d`` and the 3D pools take.

    Example:
        >>> triple([1, 3, 3])
        (1, 3, 3)
    """
    depth, height, width = value
    return int(depth), int(height), int(width)


def padding(kernel: Sequence[int]) -> tuple[int, int, int]:
    """``k // 2`` per axis: "same" size for stride 1, ``ceil(n / s)`` for stride ``s``.

    Example:
        >>> padding((1, 7, 7))
        (0, 3, 3)
    """
    return triple([k // 2 for k in kernel])


class Encoder3dArgs(TypedDict, total=False):
    """The arguments every seg-3d CNN encoder takes, declared once (the registry's encoder factory
    protocol plus ``strides`` and ``checkpointing``); the families take them as ``**kwargs``.

    Attributes:
        in_channels: Input channels (default 3).
        depth: Levels, 1..5 (default 5).
        weights: None, a local 2D or 3D weights file, or a timm tag (``"imagenet"``).
        output_stride: None, 8, 16 or 32 (dilation, per axis).
        strides: One stride per level, an int or one per axis (the architectures' ``encoder_strides``).
        checkpointing: Activation checkpointing of every level while training (default False).
    """

    in_channels: int
    depth: int
    weights: str | Path | None
    output_stride: int | None
    strides: Sequence[int | Sequence[int]] | None
    checkpointing: bool


#: The defaults of `Encoder3dArgs`.
ENCODER3D_DEFAULTS: dict[str, Any] = {
    "in_channels": 3,
    "depth": 5,
    "weights": None,
    "output_stride": None,
    "strides": None,
    "checkpointing": False,
}


class Encoder3d(nn.Module, EncoderMixin):
    """Base of seg-3d's volumetric CNN encoders.

    Args:
        name: The registered name (for messages).
        in_channels: Input channels (validated here; applied by `_finish`).
        depth: Levels (1..5).
        weights: None, a local 2D or 3D weights file, or a timm tag (validated by `_finish`).
        output_stride: None, or 8 / 16 / 32 (validated here).
        strides: Per-level strides (`seg_3d.encoders.geometry.level_strides`).
        checkpointing: Run every level through `seg_3d.encoders.stages.run_stage` with
            activation checkpointing.

    Raises:
        ConfigError: An invalid depth, ``in_channels``, ``output_stride`` (also one the encoder
            cannot reach when it does not support dilation) or ``strides``.
    """

    _spatial_dims = 3
    _name: str
    #: Whether each level runs under activation checkpointing while training.
    checkpointing: bool
    #: The timm model whose 2D weights fit (for tags); set by subclasses.
    _timm_name: str | None = None
    #: Why the encoder cannot be dilated (when ``_supports_dilation`` is False), for messages.
    _no_dilation_reason = "it downsamples by pooling"

    def __init__(self, *, name: str, **kwargs: Unpack[Encoder3dArgs]) -> None:
        super().__init__()
        unknown = set(kwargs) - set(ENCODER3D_DEFAULTS)
        if unknown:
            raise ConfigError(unexpected_arguments(f"encoder {name!r}", sorted(unknown), list(ENCODER3D_DEFAULTS)))
        args: dict[str, Any] = {**ENCODER3D_DEFAULTS, **kwargs}
        in_channels, depth, weights = args["in_channels"], args["depth"], args["weights"]
        output_stride, strides, checkpointing = args["output_stride"], args["strides"], args["checkpointing"]
        self._build = args  # what `_finish` applies once the subclass has built its levels
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 5:
            raise ConfigError(f"{name}: encoder_depth must be an int in 1..5, got {depth!r}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, numbers.Integral) or in_channels < 1:
            raise ConfigError(f"{name}: in_channels must be an int >= 1, got {in_channels!r}")
        if not isinstance(checkpointing, bool):
            raise ConfigError(f"{name}: checkpointing must be True or False, got {checkpointing!r}")
        self._name = name
        self._depth = depth
        self.strides: list[Stride] = level_strides(strides, depth, 3, owner=name)
        axis: list[tuple[int, ...]] = [(1, 1, 1)]
        for stride in self.strides:
            axis.append(tuple(a * s for a, s in zip(axis[-1], stride)))
        self._axis_reductions = axis
        if output_stride is not None:
            if isinstance(output_stride, bool) or output_stride not in OUTPUT_STRIDES:
                raise ConfigError(f"{name}: encoder_output_stride must be None, 8, 16 or 32, got {output_stride!r}")
            if not self._supports_dilation and output_stride < max(total_reduction(self.strides)):
                raise ConfigError(
                    f"{name} cannot be dilated ({self._no_dilation_reason}), so "
                    f"encoder_output_stride={output_stride} is not supported at encoder_depth={depth} (reduction "
                    f"{max(total_reduction(self.strides))}); use encoder_output_stride=None, an encoder_depth "
                    f"whose reduction is <= {output_stride}, or a resnet_3d encoder"
                )
        self.checkpointing = checkpointing
        self._in_channels = 3 if weights is not None else int(in_channels)
        self._levels: tuple[tuple[nn.Module, ...], ...] = ()

    def kernel(self, level: int, size: int) -> tuple[int, int, int]:
        """The kernel of a ``size`` convolution (or pooling) at ``level`` (1-based), by nnU-Net's rule.

        An axis not downsampled yet while another one is gets 1 (`seg_3d.encoders.geometry.kernel_sizes`).
        """
        return triple(kernel_sizes(self.strides, size)[level - 1])

    def level_stride(self, level: int) -> tuple[int, int, int]:
        """The per-axis stride of ``level`` (1-based)."""
        return triple(self.strides[level - 1])

    def _finish(self, levels: Sequence[Sequence[nn.Module]], out_channels: Sequence[int]) -> None:
        """Record the levels and channels, load the weights, adapt ``in_channels``, dilate."""
        in_channels, weights, output_stride = (self._build[k] for k in ("in_channels", "weights", "output_stride"))
        if len(levels) != self._depth or len(out_channels) != self._depth:
            raise ConfigError(f"{self._name}: built {len(levels)} levels for depth {self._depth}")
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        # a plain attribute (a tuple is not registered): the modules stay where timm's names put them
        self._levels = tuple(tuple(chain) for chain in levels)
        self._out_channels = [self._in_channels, *(int(c) for c in out_channels)]
        if weights is not None:
            load_encoder_weights(self, weights, timm_name=self._timm_name, name=self._name)
        self.set_in_channels(int(in_channels), pretrained=weights is not None)
        if output_stride is not None:
            self.make_dilated(output_stride)

    def make_dilated(self, output_stride: int) -> None:
        """Dilate the deepest levels so that no axis is reduced more than ``output_stride``, axis by axis.

        Args:
            output_stride: 8, 16 or 32 (32, or a value the encoder does not exceed: nothing to do).

        Raises:
            ConfigError: Another value, an encoder that cannot be dilated, or one already dilated
                to another output stride.
        """
        if isinstance(output_stride, bool) or output_stride not in OUTPUT_STRIDES:
            raise ConfigError(f"{self._name}: encoder_output_stride must be 8, 16 or 32, got {output_stride!r}")
        if self._output_stride != 32 and output_stride != self._output_stride:
            raise ConfigError(
                f"{self._name} is already dilated to output stride {self._output_stride}; build a new encoder "
                f"with encoder_output_stride={output_stride}"
            )
        if output_stride >= self.reductions[-1]:
            return
        if not self._supports_dilation:
            raise ConfigError(f"{self._name} does not support encoder_output_stride={output_stride}")
        dilate_levels(self._levels, self.strides, output_stride, owner=self._name)
        self._output_stride = output_stride

    def _run_level(self, chain: tuple[nn.Module, ...], x: torch.Tensor) -> torch.Tensor:
        if len(chain) == 1:
            return run_stage(chain[0], x, self.checkpointing)
        if self.checkpointing:
            stage = nn.Sequential(*chain)  # a view on this level's modules, so that one checkpoint covers them
            stage.training = self.training  # the flag only: children keep their own (e.g. frozen norms)
            return run_stage(stage, x, True)
        for module in chain:
            x = module(x)
        return x

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input, then the map of every level (``depth + 1`` maps)."""
        features = [x]
        for chain in self._levels:
            x = self._run_level(chain, x)
            features.append(x)
        return features
