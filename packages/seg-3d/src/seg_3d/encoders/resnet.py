"""3D ResNet (18, 34, 50, 101, 152) and ResNeXt encoders with per-level, per-axis strides.

The modules are named as in timm's 2D ``resnet*`` / ``resnext*`` (``conv1``, ``bn1``,
``layer1..layer4``, blocks' ``conv1/bn1/conv2/bn2[/conv3/bn3]``, ``downsample.0/.1``), so timm's
ImageNet weights inflate key by key (`seg_3d.encoders.inflate`). The levels:

=====  ===================================  ===================================
level  modules                              stride
=====  ===================================  ===================================
1      ``conv1`` (7x7x7), ``bn1``, ReLU      the stem convolution
2      ``maxpool`` (3x3x3), ``layer1``       the max-pool
3..5   ``layer2`` .. ``layer4``              the first block's 3x3x3 conv and its shortcut
=====  ===================================  ===================================

Kernels follow the strides (`seg_3d.encoders.geometry.kernel_sizes`): while an axis is not
downsampled yet and another one is, its kernel size is 1 (the stem becomes 1x7x7, the 3x3x3
convolutions and the max-pool 1x3x3).

Example:
    >>> encoder = resnet18_3d(in_channels=1, depth=3, strides=[(1, 2, 2), 2, 2])
    >>> encoder.out_channels, encoder.axis_reductions[-1], encoder.conv1.kernel_size
    ([1, 64, 64, 128], (4, 8, 8), (1, 7, 7))
"""

from __future__ import annotations

import functools
import math
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
    "RESNET_VARIANTS",
    "BasicBlock3d",
    "Bottleneck3d",
    "ResNet3dEncoder",
    "ResNetVariant",
    "resnet18_3d",
    "resnet34_3d",
    "resnet50_3d",
    "resnet101_3d",
    "resnet152_3d",
    "resnext50_32x4d_3d",
    "resnext101_32x4d_3d",
    "resnext101_32x8d_3d",
]


@dataclass(frozen=True)
class ResNetVariant:
    """One network of the family.

    Attributes:
        bottleneck: Bottleneck blocks (1x1, 3x3, 1x1; expansion 4) instead of basic ones (two 3x3).
        layers: Blocks in ``layer1`` .. ``layer4``.
        cardinality: Groups of the 3x3 convolution (ResNeXt).
        base_width: Width per group at the first stage (ResNeXt's ``d``; 64 for ResNet).
    """

    bottleneck: bool
    layers: tuple[int, int, int, int]
    cardinality: int = 1
    base_width: int = 64

    @property
    def out_channels(self) -> tuple[int, ...]:
        """Channels of levels 1..5."""
        expansion = 4 if self.bottleneck else 1
        return (64, *(planes * expansion for planes in (64, 128, 256, 512)))


#: The variants, by timm name (the registered names add ``_3d``).
RESNET_VARIANTS: dict[str, ResNetVariant] = {
    "resnet18": ResNetVariant(False, (2, 2, 2, 2)),
    "resnet34": ResNetVariant(False, (3, 4, 6, 3)),
    "resnet50": ResNetVariant(True, (3, 4, 6, 3)),
    "resnet101": ResNetVariant(True, (3, 4, 23, 3)),
    "resnet152": ResNetVariant(True, (3, 8, 36, 3)),
    "resnext50_32x4d": ResNetVariant(True, (3, 4, 6, 3), cardinality=32, base_width=4),
    "resnext101_32x4d": ResNetVariant(True, (3, 4, 23, 3), cardinality=32, base_width=4),
    "resnext101_32x8d": ResNetVariant(True, (3, 4, 23, 3), cardinality=32, base_width=8),
}


def _conv(cin: int, cout: int, kernel: Stride, stride: Stride = (1, 1, 1), groups: int = 1) -> nn.Conv3d:
    return nn.Conv3d(
        cin, cout, triple(kernel), stride=triple(stride), padding=padding(kernel), groups=groups, bias=False
    )


def _shortcut(cin: int, cout: int, stride: Stride) -> nn.Sequential | None:
    """timm's ``downsample``: a strided 1x1x1 convolution and a norm, where the shape changes."""
    if cin == cout and all(s == 1 for s in stride):
        return None
    return nn.Sequential(_conv(cin, cout, (1, 1, 1), stride), nn.BatchNorm3d(cout))


class BasicBlock3d(nn.Module):
    """Two ``kernel`` convolutions and a shortcut (ResNet-18/34); the first one is strided.

    Args:
        cin: Input channels.
        planes: Output channels.
        kernel: Kernel size of both convolutions.
        stride: Stride of the first convolution (and of the shortcut).
    """

    expansion = 1

    def __init__(self, cin: int, planes: int, kernel: Stride, stride: Stride) -> None:
        super().__init__()
        self.conv1 = _conv(cin, planes, kernel, stride)
        self.bn1 = nn.BatchNorm3d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = _conv(planes, planes, kernel)
        self.bn2 = nn.BatchNorm3d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        result: torch.Tensor = self.act2(out + shortcut)
        return result


class Bottleneck3d(nn.Module):
    """1x1x1 reduce, ``kernel`` (grouped for ResNeXt, strided), 1x1x1 expand by 4, and a shortcut.

    Args:
        cin: Input channels.
        planes: Bottleneck base channels (output: ``4 * planes``).
        kernel: Kernel size of the middle convolution.
        stride: Stride of the middle convolution (and of the shortcut), as in timm (ResNet v1.5).
        cardinality: Groups of the middle convolution.
        base_width: Width per group at ``planes = 64``.
    """

    expansion = 4

    def __init__(
        self, cin: int, planes: int, kernel: Stride, stride: Stride, cardinality: int = 1, base_width: int = 64
    ) -> None:
        super().__init__()
        width = int(math.floor(planes * (base_width / 64)) * cardinality)
        cout = planes * self.expansion
        self.conv1 = _conv(cin, width, (1, 1, 1))
        self.bn1 = nn.BatchNorm3d(width)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = _conv(width, width, kernel, stride, groups=cardinality)
        self.bn2 = nn.BatchNorm3d(width)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = _conv(width, cout, (1, 1, 1))
        self.bn3 = nn.BatchNorm3d(cout)
        self.act3 = nn.ReLU(inplace=True)
        self.downsample = _shortcut(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        result: torch.Tensor = self.act3(out + shortcut)
        return result


class ResNet3dEncoder(Encoder3d):
    """A 3D ResNet / ResNeXt encoder (`RESNET_VARIANTS`) with per-level, per-axis strides.

    Args:
        variant: The timm name: ``"resnet18"`` .. ``"resnet152"``, ``"resnext50_32x4d"``,
            ``"resnext101_32x4d"``, ``"resnext101_32x8d"``.
        in_channels: Input channels (1 or any count; pretrained stems are adapted as in 2D:
            1 channel sums the RGB kernels, others repeat them scaled by ``3 / in_channels``).
        depth: Levels (1..5); only the layers those levels use are built.
        weights: None; a local weights file of timm's 2D network (``.safetensors`` / ``.pth``:
            its kernels are inflated) or of this 3D encoder (5D kernels, loaded as they are); or a
            timm pretrained tag (``"imagenet"``, ``"a1_in1k"``...), which needs timm and its cache.
        output_stride: 8 or 16 to replace the deepest strides by dilation, axis by axis
            (`seg_3d.encoders.axis_dilation`); None or 32: no dilation.
        strides: One stride per level, an int or one per axis, each 1 or 2, e.g.
            ``((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))`` for thick slices; None: 2 everywhere.
        checkpointing: Recompute each level's activations in the backward pass instead of keeping
            them (`seg_3d.encoders.stages.run_stage`): less memory, about one more forward pass.

    Raises:
        ConfigError: An unknown variant, an invalid depth, ``in_channels``, ``strides``,
            ``output_stride`` or ``weights``, or a tag without timm.
        CheckpointError: A weights file that cannot be read or does not fit (the file is named).

    Example:
        >>> encoder = ResNet3dEncoder("resnet18", depth=2)
        >>> [tuple(f.shape) for f in encoder(torch.randn(1, 3, 16, 16, 16))]
        [(1, 3, 16, 16, 16), (1, 64, 8, 8, 8), (1, 64, 4, 4, 4)]
    """

    _first_conv = "conv1"

    def __init__(self, variant: str = "resnet18", **kwargs: Unpack[Encoder3dArgs]) -> None:
        if variant not in RESNET_VARIANTS:
            raise ConfigError(f"unknown ResNet variant {variant!r}; choose from {sorted(RESNET_VARIANTS)}")
        spec = RESNET_VARIANTS[variant]
        super().__init__(name=f"{variant}_3d", **kwargs)
        self._timm_name = variant
        self.variant = variant
        self.conv1 = nn.Conv3d(
            self._in_channels, 64, self.kernel(1, 7), self.level_stride(1), padding(self.kernel(1, 7)), bias=False
        )
        self.bn1 = nn.BatchNorm3d(64)
        self.act1 = nn.ReLU(inplace=True)
        levels: list[list[nn.Module]] = [[self.conv1, self.bn1, self.act1]]
        if self._depth >= 2:
            pool = self.kernel(2, 3)
            self.maxpool = nn.MaxPool3d(pool, self.level_stride(2), padding(pool))
        cin = 64
        for index, (planes, blocks) in enumerate(zip((64, 128, 256, 512), spec.layers)):
            level = index + 2
            if level > self._depth:
                break
            stride = (1, 1, 1) if level == 2 else self.level_stride(level)  # level 2's stride is the max-pool's
            layer, cin = self._make_layer(spec, cin, planes, blocks, self.kernel(level, 3), stride)
            self.add_module(f"layer{index + 1}", layer)
            levels.append([self.maxpool, layer] if level == 2 else [layer])
        self._finish(levels, spec.out_channels[: self._depth])

    @staticmethod
    def _make_layer(
        spec: ResNetVariant, cin: int, planes: int, blocks: int, kernel: Stride, stride: Stride
    ) -> tuple[nn.Sequential, int]:
        layer: list[nn.Module] = []
        for index in range(blocks):
            block_stride = stride if index == 0 else (1, 1, 1)
            if spec.bottleneck:
                layer.append(Bottleneck3d(cin, planes, kernel, block_stride, spec.cardinality, spec.base_width))
                cin = planes * Bottleneck3d.expansion
            else:
                layer.append(BasicBlock3d(cin, planes, kernel, block_stride))
                cin = planes
        return nn.Sequential(*layer), cin


#: ``resnet18_3d``: BasicBlock, 2-2-2-2 (timm ``resnet18``).
resnet18_3d = functools.partial(ResNet3dEncoder, "resnet18")
#: ``resnet34_3d``: BasicBlock, 3-4-6-3 (timm ``resnet34``).
resnet34_3d = functools.partial(ResNet3dEncoder, "resnet34")
#: ``resnet50_3d``: Bottleneck, 3-4-6-3 (timm ``resnet50``).
resnet50_3d = functools.partial(ResNet3dEncoder, "resnet50")
#: ``resnet101_3d``: Bottleneck, 3-4-23-3 (timm ``resnet101``).
resnet101_3d = functools.partial(ResNet3dEncoder, "resnet101")
#: ``resnet152_3d``: Bottleneck, 3-8-36-3 (timm ``resnet152``).
resnet152_3d = functools.partial(ResNet3dEncoder, "resnet152")
#: ``resnext50_32x4d_3d``: grouped Bottleneck (32 groups of width 4), 3-4-6-3.
resnext50_32x4d_3d = functools.partial(ResNet3dEncoder, "resnext50_32x4d")
#: ``resnext101_32x4d_3d``: grouped Bottleneck (32 groups of width 4), 3-4-23-3.
resnext101_32x4d_3d = functools.partial(ResNet3dEncoder, "resnext101_32x4d")
#: ``resnext101_32x8d_3d``: grouped Bottleneck (32 groups of width 8), 3-4-23-3.
resnext101_32x8d_3d = functools.partial(ResNet3dEncoder, "resnext101_32x8d")
