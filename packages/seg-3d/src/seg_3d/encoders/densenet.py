"""3D DenseNet (121, 169, 201) encoders with per-level, per-axis strides.

The modules are named as in timm's 2D ``densenet*`` (``features.conv0``, ``features.norm0``,
``features.denseblockN.denselayerM.norm1/conv1/norm2/conv2``, ``features.transitionN.norm/conv``,
``features.norm5``), so timm's ImageNet weights inflate key by key (`seg_3d.encoders.inflate`); the
norms apply their ReLU as timm's ``BatchNormAct2d`` does. The levels, whose maps are the ones timm's
``features_only`` returns:

=====  ==========================================================  ==============================
level  modules                                                     stride
=====  ==========================================================  ==============================
1      ``conv0`` (7x7x7), ``norm0``                                the stem convolution
2      ``pool0`` (3x3x3 max), ``denseblock1``                      the max-pool
3, 4   ``transition1`` / ``2``, ``denseblock2`` / ``3``            the transition's average pool
5      ``transition3``, ``denseblock4``, ``norm5``                 the transition's average pool
=====  ==========================================================  ==============================

Kernels follow the strides (`seg_3d.encoders.geometry.kernel_sizes`): 1 along an axis not
downsampled yet while another one is. DenseNet cannot be dilated (its transitions pool), so
``output_stride`` below the encoder's reduction is refused.

Example:
    >>> encoder = densenet121_3d(depth=2, strides=[(1, 2, 2), (1, 2, 2)])
    >>> encoder.out_channels, encoder.axis_reductions[-1], encoder.features.pool0.kernel_size
    ([3, 64, 256], (1, 4, 4), (1, 3, 3))
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from seg_core.errors import ConfigError

from .encoder3d import Encoder3d, Encoder3dArgs, padding, triple
from .geometry import Stride

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DENSENET_VARIANTS",
    "BatchNormAct3d",
    "DenseBlock3d",
    "DenseLayer3d",
    "DenseNet3dEncoder",
    "DenseNetVariant",
    "DenseTransition3d",
    "densenet121_3d",
    "densenet169_3d",
    "densenet201_3d",
]


@dataclass(frozen=True)
class DenseNetVariant:
    """One network of the family.

    Attributes:
        blocks: Dense layers in ``denseblock1`` .. ``denseblock4``.
        growth_rate: Channels each dense layer adds.
        bn_size: Bottleneck width of a dense layer, in multiples of the growth rate.
    """

    blocks: tuple[int, int, int, int]
    growth_rate: int = 32
    bn_size: int = 4

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Channels of levels 1..5 (each dense block's output; transitions halve them)."""
        channels = [2 * self.growth_rate]
        width = channels[0]
        for index, layers in enumerate(self.blocks):
            width += layers * self.growth_rate
            channels.append(width)
            if index < 3:
                width //= 2
        return tuple(channels)


#: The variants, by timm name (the registered names add ``_3d``).
DENSENET_VARIANTS: dict[str, DenseNetVariant] = {
    "densenet121": DenseNetVariant((6, 12, 24, 16)),
    "densenet169": DenseNetVariant((6, 12, 32, 32)),
    "densenet201": DenseNetVariant((6, 12, 48, 32)),
}


class BatchNormAct3d(nn.BatchNorm3d):
    """BatchNorm followed by ReLU, with a plain BatchNorm's state dict (as timm's ``BatchNormAct2d``)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.act(super().forward(x))
        return out


class DenseLayer3d(nn.Module):
    """Norm, 1x1x1 conv to ``bn_size * growth_rate``, norm, ``kernel`` conv to ``growth_rate`` channels."""

    def __init__(self, cin: int, growth_rate: int, bn_size: int, kernel: Stride) -> None:
        super().__init__()
        width = bn_size * growth_rate
        self.norm1 = BatchNormAct3d(cin)
        self.conv1 = nn.Conv3d(cin, width, 1, bias=False)
        self.norm2 = BatchNormAct3d(width)
        self.conv2 = nn.Conv3d(width, growth_rate, triple(kernel), padding=padding(kernel), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv2(self.norm2(self.conv1(self.norm1(x))))
        return out


class DenseBlock3d(nn.ModuleDict):
    """Dense layers (``denselayer1``...), each fed the concatenation of the input and all earlier outputs."""

    def __init__(self, layers: int, cin: int, growth_rate: int, bn_size: int, kernel: Stride) -> None:
        super().__init__()
        for index in range(layers):
            self.add_module(
                f"denselayer{index + 1}", DenseLayer3d(cin + index * growth_rate, growth_rate, bn_size, kernel)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class DenseTransition3d(nn.Sequential):
    """Norm, 1x1x1 conv halving the channels, and an average pool by ``stride`` (kernel = stride)."""

    def __init__(self, cin: int, cout: int, stride: Stride) -> None:
        super().__init__()
        self.add_module("norm", BatchNormAct3d(cin))
        self.add_module("conv", nn.Conv3d(cin, cout, 1, bias=False))
        self.add_module("pool", nn.AvgPool3d(triple(stride), triple(stride)))


class DenseNet3dEncoder(Encoder3d):
    """A 3D DenseNet encoder (`DENSENET_VARIANTS`) with per-level, per-axis strides.

    Args:
        variant: The timm name: ``"densenet121"``, ``"densenet169"`` or ``"densenet201"``.
        in_channels: Input channels (1 or any count; pretrained stems are adapted as in 2D).
        depth: Levels (1..5); only the blocks those levels use are built.
        weights: None; a local weights file of timm's 2D network (inflated) or of this 3D encoder
            (loaded as is); or a timm pretrained tag (``"imagenet"``...), which needs timm and its cache.
        output_stride: None or 32 (or any value the encoder's reduction does not exceed): DenseNet
            cannot be dilated.
        strides: One stride per level, an int or one per axis, each 1 or 2; None: 2 everywhere.
        checkpointing: Recompute each level's activations in the backward pass instead of keeping them.

    Raises:
        ConfigError: An unknown variant, an invalid depth, ``in_channels``, ``strides`` or
            ``weights``, an ``output_stride`` that would need dilation, or a tag without timm.
        CheckpointError: A weights file that cannot be read or does not fit (the file is named).

    Example:
        >>> encoder = DenseNet3dEncoder("densenet121", depth=3)
        >>> [tuple(f.shape[1:]) for f in encoder(torch.randn(1, 3, 16, 16, 16))][1:]
        [(64, 8, 8, 8), (256, 4, 4, 4), (512, 2, 2, 2)]
    """

    _first_conv = "features.conv0"
    _supports_dilation = False
    _no_dilation_reason = "its transitions downsample by average pooling"

    def __init__(self, variant: str = "densenet121", **kwargs: Unpack[Encoder3dArgs]) -> None:
        if variant not in DENSENET_VARIANTS:
            raise ConfigError(f"unknown DenseNet variant {variant!r}; choose from {sorted(DENSENET_VARIANTS)}")
        spec = DENSENET_VARIANTS[variant]
        super().__init__(name=f"{variant}_3d", **kwargs)
        self._timm_name = variant
        self.variant = variant
        features = nn.ModuleDict()
        self.features = features
        stem = self.kernel(1, 7)
        width = 2 * spec.growth_rate
        features["conv0"] = nn.Conv3d(self._in_channels, width, stem, self.level_stride(1), padding(stem), bias=False)
        features["norm0"] = BatchNormAct3d(width)
        levels: list[list[nn.Module]] = [[features["conv0"], features["norm0"]]]
        for index, layers in enumerate(spec.blocks):
            level = index + 2
            if level > self._depth:
                break
            chain: list[nn.Module] = []
            if level == 2:
                pool = self.kernel(2, 3)
                features["pool0"] = nn.MaxPool3d(pool, self.level_stride(2), padding(pool))
                chain.append(features["pool0"])
            else:
                transition = DenseTransition3d(width, width // 2, self.level_stride(level))
                features[f"transition{index}"] = transition
                chain.append(transition)
                width //= 2
            block = DenseBlock3d(layers, width, spec.growth_rate, spec.bn_size, self.kernel(level, 3))
            features[f"denseblock{index + 1}"] = block
            chain.append(block)
            width += layers * spec.growth_rate
            if level == 5:
                features["norm5"] = BatchNormAct3d(width)
                chain.append(features["norm5"])
            levels.append(chain)
        self._finish(levels, spec.out_channels[: self._depth])


#: ``densenet121_3d``: dense blocks 6-12-24-16, growth 32 (timm ``densenet121``).
densenet121_3d = functools.partial(DenseNet3dEncoder, "densenet121")
#: ``densenet169_3d``: dense blocks 6-12-32-32, growth 32 (timm ``densenet169``).
densenet169_3d = functools.partial(DenseNet3dEncoder, "densenet169")
#: ``densenet201_3d``: dense blocks 6-12-48-32, growth 32 (timm ``densenet201``).
densenet201_3d = functools.partial(DenseNet3dEncoder, "densenet201")
