"""EfficientNet b0..b7 in 3D, with timm's module names so its 2D ImageNet weights inflate by key.

The network is timm's ``efficientnet_b0`` .. ``efficientnet_b7`` (Tan & Le, 2019) with every 2D
layer made 3D: a stem convolution, then seven stages of mobile inverted-bottleneck blocks
(depthwise convolution, squeeze-and-excitation, SiLU), the widths and block counts scaled per
variant by timm's rules. Module names mirror timm's (``conv_stem``, ``bn1``,
``blocks.<stage>.<block>.conv_dw`` ...), so ``timm.create_model("efficientnet_b0").state_dict()``
inflates onto it key by key (`seg_3d.encoders.inflate`). The classifier (``conv_head``,
``bn2``, ``classifier``) is not built.

Levels, as smp's EfficientNet encoders: level 1 is the stem's output; levels 2..5 end after
the stages that downsample (timm stages 0-1, 2, 3-4 and 5-6). Each level's stride (``strides``,
the architectures' ``encoder_strides=``) is applied by its stem or first strided block, and every
depthwise kernel ``k`` becomes ``1 x k x k`` on an axis that is not downsampled yet while another
one is (`seg_3d.encoders.geometry.kernel_sizes`, taken at the resolution the block's output has).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from seg_3d.encoders.axis_dilation import dilate_levels
from seg_3d.encoders.geometry import Stride, kernel_sizes, level_strides
from seg_3d.encoders.stages import run_stage
from seg_core.encoder import EncoderMixin
from seg_core.errors import CheckpointError, ConfigError

__all__ = [
    "EFFICIENTNET_VARIANTS",
    "EfficientNet3dEncoder",
    "efficientnet_b0_3d",
    "efficientnet_b1_3d",
    "efficientnet_b2_3d",
    "efficientnet_b3_3d",
    "efficientnet_b4_3d",
    "efficientnet_b5_3d",
    "efficientnet_b6_3d",
    "efficientnet_b7_3d",
]

#: ``(width multiplier, depth multiplier)`` per variant, as timm's ``efficientnet_b0`` .. ``_b7``.
EFFICIENTNET_VARIANTS: dict[str, tuple[float, float]] = {
    "b0": (1.0, 1.0),
    "b1": (1.0, 1.1),
    "b2": (1.1, 1.2),
    "b3": (1.2, 1.4),
    "b4": (1.4, 1.8),
    "b5": (1.6, 2.2),
    "b6": (1.8, 2.6),
    "b7": (2.0, 3.1),
}

#: timm's stage definitions: (block kind, repeats, kernel, stride, expansion, channels), before scaling.
_STAGES: tuple[tuple[str, int, int, int, int, int], ...] = (
    ("ds", 1, 3, 1, 1, 16),
    ("ir", 2, 3, 2, 6, 24),
    ("ir", 2, 5, 2, 6, 40),
    ("ir", 3, 3, 2, 6, 80),
    ("ir", 3, 5, 1, 6, 112),
    ("ir", 4, 5, 2, 6, 192),
    ("ir", 1, 3, 1, 6, 320),
)
#: The timm stages that run in levels 2, 3, 4 and 5 (level 1 is the stem).
_LEVEL_STAGES: tuple[tuple[int, ...], ...] = ((0, 1), (2,), (3, 4), (5, 6))
#: The level whose resolution each stage's output has (stage 0 runs before level 2's downsampling).
_STAGE_RESOLUTION: tuple[int, ...] = (1, 2, 3, 4, 4, 5, 5)
_STEM_CHANNELS = 32
_SE_RATIO = 0.25


def _make_divisible(value: float, divisor: int = 8, round_limit: float = 0.9) -> int:
    """timm's ``make_divisible``: the nearest multiple of ``divisor``, never more than 10 % below ``value``."""
    out = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return out + divisor if out < round_limit * value else out


def _round_channels(channels: int, multiplier: float) -> int:
    return _make_divisible(channels * multiplier)


def _scale_repeats(repeats: int, multiplier: float) -> int:
    return math.ceil(repeats * multiplier)


def _conv(cin: int, cout: int, kernel: Stride = (1, 1, 1), stride: Stride = (1, 1, 1), groups: int = 1) -> nn.Conv3d:
    """A bias-free convolution padded by ``k // 2`` per axis."""
    padding: Any = tuple(k // 2 for k in kernel)
    return nn.Conv3d(cin, cout, cast(Any, kernel), stride=cast(Any, stride), padding=padding, groups=groups, bias=False)


class _BatchNormAct(nn.BatchNorm3d):
    """BatchNorm, then SiLU or nothing (timm's ``BatchNormAct2d``: the same parameter names)."""

    def __init__(self, channels: int, act: bool = True) -> None:
        super().__init__(channels)
        self.act: nn.Module = nn.SiLU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(super().forward(x))


class _SqueezeExcite(nn.Module):
    """Global average, 1x1x1 reduce, SiLU, 1x1x1 expand, sigmoid gate (timm's ``SqueezeExcite``)."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.conv_reduce = nn.Conv3d(channels, reduced, 1)
        self.act1 = nn.SiLU()
        self.conv_expand = nn.Conv3d(reduced, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.conv_expand(self.act1(self.conv_reduce(x.mean((2, 3, 4), keepdim=True))))
        return x * scale.sigmoid()


class _DepthwiseSeparable(nn.Module):
    """Depthwise conv, BN-SiLU, SE, pointwise conv, BN (timm's ``DepthwiseSeparableConv``)."""

    def __init__(self, cin: int, cout: int, kernel: Stride, stride: Stride) -> None:
        super().__init__()
        self.has_skip = all(s == 1 for s in stride) and cin == cout
        self.conv_dw = _conv(cin, cin, kernel, stride, groups=cin)
        self.bn1 = _BatchNormAct(cin)
        self.se = _SqueezeExcite(cin, round(cin * _SE_RATIO))
        self.conv_pw = _conv(cin, cout)
        self.bn2 = _BatchNormAct(cout, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv_pw(self.se(self.bn1(self.conv_dw(x)))))
        return out + x if self.has_skip else out


class _InvertedResidual(nn.Module):
    """Pointwise expansion, depthwise conv, SE, pointwise projection (timm's ``InvertedResidual``)."""

    def __init__(self, cin: int, cout: int, kernel: Stride, stride: Stride, expansion: int) -> None:
        super().__init__()
        mid = _make_divisible(cin * expansion)
        self.has_skip = all(s == 1 for s in stride) and cin == cout
        self.conv_pw = _conv(cin, mid)
        self.bn1 = _BatchNormAct(mid)
        self.conv_dw = _conv(mid, mid, kernel, stride, groups=mid)
        self.bn2 = _BatchNormAct(mid)
        self.se = _SqueezeExcite(mid, round(mid * (_SE_RATIO / expansion)))
        self.conv_pwl = _conv(mid, cout)
        self.bn3 = _BatchNormAct(cout, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.se(self.bn2(self.conv_dw(self.bn1(self.conv_pw(x)))))
        out = self.bn3(self.conv_pwl(out))
        return out + x if self.has_skip else out


class EfficientNet3dEncoder(nn.Module, EncoderMixin):
    """A 3D EfficientNet (b0..b7) encoder with per-level, per-axis strides.

    Args:
        variant: ``"b0"`` .. ``"b7"`` (`EFFICIENTNET_VARIANTS`).
        in_channels: Input channels (1 or any count; 2D weights are adapted as in 2D).
        depth: Levels (1..5); only the stages those levels use are built.
        weights: None, a local 2D (or already 3D) weights file of timm's ``efficientnet_<variant>``
            (``.safetensors`` / ``.pth``), or a timm pretrained tag (``"imagenet"``, ``"ra_in1k"``),
            which needs timm and its cache. 2D kernels are inflated (`seg_3d.encoders.inflate`).
        output_stride: 8 or 16 to dilate the deepest levels (per axis: anisotropic strides work too).
        strides: One stride per level (an int or one per axis, 1 or 2); None: 2 everywhere.
        checkpointing: Recompute each block stage's activations in the backward pass instead of
            keeping them (per level: the stem, then each timm stage). BatchNorm's running statistics are
            updated once more by the recomputation.

    Raises:
        ConfigError: An unknown variant, an invalid depth, ``in_channels``, ``strides``,
            ``output_stride`` or ``weights``.
        CheckpointError: Weights that do not fit (or do not cover) the encoder.

    Example:
        >>> encoder = EfficientNet3dEncoder("b0", depth=3, strides=[(1, 2, 2), 2, 2])
        >>> encoder.out_channels, encoder.axis_reductions[-1]
        ([3, 32, 24, 40], (4, 8, 8))
    """

    def __init__(
        self,
        variant: str = "b0",
        *,
        in_channels: int = 3,
        depth: int = 5,
        weights: str | Path | None = None,
        output_stride: int | None = None,
        strides: Sequence[int | Sequence[int]] | None = None,
        checkpointing: bool = False,
    ) -> None:
        super().__init__()
        if variant not in EFFICIENTNET_VARIANTS:
            raise ConfigError(f"unknown EfficientNet variant {variant!r}; choose from {sorted(EFFICIENTNET_VARIANTS)}")
        name = self._name = f"efficientnet_{variant}_3d"
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 5:
            raise ConfigError(f"{name}: encoder_depth must be an int in 1..5, got {depth!r}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ConfigError(f"{name}: in_channels must be an int >= 1, got {in_channels!r}")
        self.variant = variant
        self.checkpointing = bool(checkpointing)
        self._spatial_dims = 3
        self._depth = depth
        self._first_conv = "conv_stem"
        per_level = level_strides(strides, depth, 3, owner=name)
        self.strides = per_level
        axis: list[Stride] = [(1, 1, 1)]
        for stride in per_level:
            axis.append(tuple(a * s for a, s in zip(axis[-1], stride)))
        self._axis_reductions = axis
        kernels = {k: kernel_sizes(per_level, k) for k in (3, 5)}

        width, depth_multiplier = EFFICIENTNET_VARIANTS[variant]
        stem = _round_channels(_STEM_CHANNELS, width)
        self.conv_stem = _conv(3, stem, kernels[3][0], per_level[0])
        self.bn1 = _BatchNormAct(stem)
        stages: list[nn.Module] = []
        stage_channels: list[int] = []
        cin = stem
        built_stages = sum(len(group) for group in _LEVEL_STAGES[: depth - 1])
        for index, (kind, repeats, kernel, nominal_stride, expansion, channels) in enumerate(_STAGES[:built_stages]):
            cout = _round_channels(channels, width)
            level = _STAGE_RESOLUTION[index]
            axis_kernel = kernels[kernel][level - 1]
            first_stride = per_level[level - 1] if nominal_stride == 2 else (1, 1, 1)
            blocks: list[nn.Module] = []
            for block in range(_scale_repeats(repeats, depth_multiplier)):
                block_stride = first_stride if block == 0 else (1, 1, 1)
                if kind == "ds":
                    blocks.append(_DepthwiseSeparable(cin, cout, axis_kernel, block_stride))
                else:
                    blocks.append(_InvertedResidual(cin, cout, axis_kernel, block_stride, expansion))
                cin = cout
            stages.append(nn.Sequential(*blocks))
            stage_channels.append(cout)
        self.blocks = nn.Sequential(*stages)
        self._out_channels = [3, stem] + [stage_channels[group[-1]] for group in _LEVEL_STAGES[: depth - 1]]

        if weights is not None:
            self._load(weights)
        if in_channels != 3:
            self.set_in_channels(in_channels, pretrained=weights is not None)
        if output_stride is not None and output_stride < self.reductions[-1]:
            self.make_dilated(output_stride)

    def _load(self, weights: str | Path) -> None:
        from seg_3d.encoders.inflate import load_2d_weights

        if not isinstance(weights, (str, Path)):
            raise ConfigError(
                f"{self._name}: encoder_weights must be None, a local weights file or a timm "
                f"tag such as 'imagenet', got {weights!r}"
            )
        state = load_2d_weights(self, weights, timm_name=f"efficientnet_{self.variant}")
        missing = self.load_state_dict(state, strict=False).missing_keys
        if missing:
            raise CheckpointError(
                f"encoder_weights={str(weights)!r} does not cover efficientnet_{self.variant}_3d: "
                f"{len(missing)} tensors missing, e.g. {missing[:4]}; pass timm's efficientnet_{self.variant} weights"
            )

    def _level_modules(self) -> list[list[nn.Module]]:
        levels: list[list[nn.Module]] = [[self.conv_stem, self.bn1]]
        for group in _LEVEL_STAGES[: self.depth - 1]:
            levels.append([self.blocks[i] for i in group])
        return levels

    def make_dilated(self, output_stride: int) -> None:
        """Dilate the deepest levels so that no axis is reduced more than ``output_stride``, axis by axis
        (`seg_3d.encoders.axis_dilation.dilate_levels`; anisotropic strides work too).

        Args:
            output_stride: 8, 16 or 32 (32, or a value the encoder does not exceed: nothing to do).

        Raises:
            ConfigError: Another value.
        """
        if isinstance(output_stride, bool) or output_stride not in (8, 16, 32):
            raise ConfigError(f"{self._name}: encoder_output_stride must be 8, 16 or 32, got {output_stride!r}")
        if output_stride >= self.reductions[-1]:
            return
        dilate_levels(self._level_modules(), self.strides, output_stride, owner=self._name)
        self._output_stride = output_stride

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        if self.checkpointing and self.training:
            stem = nn.Sequential(self.conv_stem, self.bn1)  # a view, so that one checkpoint covers both
            stem.training = True
            return run_stage(stem, x, True)
        out: torch.Tensor = self.bn1(self.conv_stem(x))
        return out

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = [x]
        x = self._stem(x)
        features.append(x)
        for group in _LEVEL_STAGES[: self.depth - 1]:
            for index in group:
                x = run_stage(self.blocks[index], x, self.checkpointing)
            features.append(x)
        return features


def _factory(variant: str) -> Callable[..., EfficientNet3dEncoder]:
    def factory(
        *,
        in_channels: int = 3,
        depth: int = 5,
        weights: str | Path | None = None,
        output_stride: int | None = None,
        strides: Sequence[int | Sequence[int]] | None = None,
        checkpointing: bool = False,
    ) -> EfficientNet3dEncoder:
        return EfficientNet3dEncoder(
            variant,
            in_channels=in_channels,
            depth=depth,
            weights=weights,
            output_stride=output_stride,
            strides=strides,
            checkpointing=checkpointing,
        )

    factory.__name__ = factory.__qualname__ = f"efficientnet_{variant}_3d"
    factory.__doc__ = (
        f"3D EfficientNet-{variant.upper()} encoder (timm's ``efficientnet_{variant}`` inflated); "
        "see `EfficientNet3dEncoder` for the arguments."
    )
    return factory


#: Registry factories, one per variant (keyword arguments as `EfficientNet3dEncoder`).
efficientnet_b0_3d = _factory("b0")
efficientnet_b1_3d = _factory("b1")
efficientnet_b2_3d = _factory("b2")
efficientnet_b3_3d = _factory("b3")
efficientnet_b4_3d = _factory("b4")
efficientnet_b5_3d = _factory("b5")
efficientnet_b6_3d = _factory("b6")
efficientnet_b7_3d = _factory("b7")
