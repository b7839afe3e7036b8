"""Blocks shared by the real-time architectures (FCN, LRASPP, BiSeNet, SFNet): conv-BN-ReLU, FCN tower."""

from __future__ import annotations

from torch import nn

from seg_core.layers import conv
from seg_decoders._blocks import SafeBatchNorm


class ConvBNReLU(nn.Sequential):
    """Convolution (no bias), BatchNorm (batch-1 safe), ReLU, for 1D/2D/3D maps."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        spatial_dims: int,
        *,
        stride: int = 1,
        dilation: int = 1,
    ) -> None:
        padding = dilation * (kernel_size // 2)
        super().__init__(
            conv(spatial_dims)(
                in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=False
            ),
            SafeBatchNorm(out_channels),
            nn.ReLU(inplace=True),
        )


class FCNTower(nn.Sequential):
    """torchvision's ``FCNHead`` without its last 1x1 convolution: 3x3 conv-BN-ReLU to ``in // 4``, dropout.

    The segmentation head (or a deep-supervision head) adds the 1x1 convolution to the classes.
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int, dropout: float = 0.1) -> None:
        super().__init__(ConvBNReLU(in_channels, out_channels, 3, spatial_dims), nn.Dropout(dropout))
        self.out_channels = out_channels
