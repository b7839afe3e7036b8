"""``basic_cnn``: a small plain-convolution encoder built into seg-core.

It needs no extra dependency, works in 2D and 3D, supports any depth 1..5,
anisotropic per-stage strides, a stride-4 stem (``basic_cnn_s4``, which pads
level 1 with a zero-channel map like ConvNeXt), dilation and local weight
files. It is the reference implementation of `EncoderMixin`
and a reasonable from-scratch encoder for small datasets.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seg_core.encoder import EncoderMixin
from seg_core.errors import ConfigError
from seg_core.layers import conv, get_norm

__all__ = ["BasicCNNEncoder", "basic_cnn", "basic_cnn_s4"]

_DEFAULT_WIDTHS = (16, 32, 64, 128, 256)


def _block(cin: int, cout: int, stride: Sequence[int], spatial_dims: int, norm: Any) -> nn.Sequential:
    conv_cls = conv(spatial_dims)
    return nn.Sequential(
        conv_cls(cin, cout, 3, stride=tuple(stride), padding=1, bias=False),
        get_norm(norm, cout, spatial_dims),
        nn.ReLU(inplace=True),
        conv_cls(cout, cout, 3, padding=1, bias=False),
        get_norm(norm, cout, spatial_dims),
        nn.ReLU(inplace=True),
    )


class BasicCNNEncoder(nn.Module, EncoderMixin):
    """Plain conv-norm-ReLU stages, each halving the resolution (or by ``strides``).

    Args:
        in_channels: Input channels.
        depth: Number of levels (1..5); only those stages are built.
        weights: None, or a local ``.safetensors``/``.pth`` file with this encoder's state dict.
        output_stride: 8 or 16 to dilate the deepest stages.
        widths: Channels of levels 1..5.
        stem_stride: 2, or 4 for a ConvNeXt-like stem (level 1 becomes zero-channel).
        strides: Per-level stride, an int or one per axis (e.g. ``(1, 2, 2)`` in 3D).
        spatial_dims: 2 or 3.
        norm: Norm layer name (see `seg_core.layers.get_norm`).

    Raises:
        ConfigError: Invalid depth, widths (each an int >= 1), strides or weights.
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        depth: int = 5,
        weights: str | Path | None = None,
        output_stride: int | None = None,
        widths: Sequence[int] = _DEFAULT_WIDTHS,
        stem_stride: int = 2,
        strides: Sequence[int | Sequence[int]] | None = None,
        spatial_dims: int = 2,
        norm: Any = "batchnorm",
    ) -> None:
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 5:
            raise ConfigError(f"basic_cnn depth must be in 1..5, got {depth!r}")
        try:
            listed = None if isinstance(widths, (str, bytes)) else list(widths)
        except TypeError:
            listed = None
        if listed is None:
            raise ConfigError(f"basic_cnn widths must be a list of ints >= 1 (one per level), got {widths!r}")
        if len(listed) < depth:
            raise ConfigError(f"basic_cnn needs at least depth={depth} widths, got {listed}")
        used = listed[1 if stem_stride == 4 else 0 : depth]  # a stride-4 stem builds no level 1
        bad = [w for w in used if isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1]
        if bad:
            raise ConfigError(
                f"basic_cnn widths must be ints >= 1 (a stage of width {bad[0]!r} builds a broken network), "
                f"got widths={listed}; pass e.g. encoder_params={{'widths': {list(_DEFAULT_WIDTHS[:depth])}}}"
            )
        if stem_stride not in (2, 4):
            raise ConfigError(f"stem_stride must be 2 or 4, got {stem_stride!r}")
        if stem_stride == 4 and strides is not None:
            raise ConfigError("pass either stem_stride=4 or strides, not both")
        if stem_stride == 4 and depth < 2:
            raise ConfigError("a stride-4 stem needs depth >= 2 (level 1 is empty)")
        self._spatial_dims = spatial_dims
        self._depth = depth
        per_level = self._level_strides(depth, strides, spatial_dims)
        axis = [(1,) * spatial_dims]
        for s in per_level:
            axis.append(tuple(a * b for a, b in zip(axis[-1], s)))
        self._axis_reductions = axis
        self._out_channels = [3] + [
            0 if (stem_stride == 4 and i == 0) else int(w) for i, w in enumerate(widths[:depth])
        ]
        self._first_conv = "stages.0.0"

        stages: list[nn.Module] = []
        cin = 3
        for level in range(1, depth + 1):
            if stem_stride == 4 and level == 1:
                continue
            stride = per_level[level - 1]
            if stem_stride == 4 and level == 2:
                stride = tuple(2 * s for s in stride)
            stages.append(_block(cin, int(widths[level - 1]), stride, spatial_dims, norm))
            cin = int(widths[level - 1])
        self.stages = nn.ModuleList(stages)
        self._stem_stride = stem_stride

        if weights is not None:
            self._load(weights)
        if in_channels != 3:
            self.set_in_channels(in_channels, pretrained=weights is not None)
        if output_stride is not None and output_stride < self.reductions[-1]:
            self.make_dilated(output_stride)

    @staticmethod
    def _level_strides(depth: int, strides: Any, spatial_dims: int) -> list[tuple[int, ...]]:
        if strides is None:
            return [(2,) * spatial_dims] * depth
        if len(strides) != depth:
            raise ConfigError(f"strides needs one entry per level ({depth}), got {len(strides)}")
        out = []
        for s in strides:
            t = (int(s),) * spatial_dims if isinstance(s, int) else tuple(int(v) for v in s)
            if len(t) != spatial_dims or any(v < 1 for v in t):
                raise ConfigError(f"each stride needs {spatial_dims} values >= 1, got {s!r}")
            out.append(t)
        return out

    def _load(self, weights: str | Path) -> None:
        from seg_core.io import load_state_file

        if not isinstance(weights, (str, Path)) or not Path(weights).suffix:
            raise ConfigError(
                f"basic_cnn has no published pretrained weights; encoder_weights must be None or a local "
                f"weights file, got {weights!r}"
            )
        self.load_state_dict(load_state_file(weights))

    def get_stages(self) -> dict[int, Sequence[nn.Module]]:
        """Stage modules by the reduction they end at."""
        offset = 1 if self._stem_stride == 2 else 2
        axis = self.axis_reductions
        return {max(axis[i + offset]): [stage] for i, stage in enumerate(self.stages)}

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [x]
        if self._stem_stride == 4:
            size = [math.ceil(s / 2) for s in x.shape[2:]]
            features.append(x.new_zeros((x.shape[0], 0, *size)))
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


#: Registry factory for ``basic_cnn`` (stride-2 stem).
basic_cnn = BasicCNNEncoder
#: Registry factory for ``basic_cnn_s4`` (stride-4 stem; level 1 is zero-channel).
basic_cnn_s4 = functools.partial(BasicCNNEncoder, stem_stride=4)
