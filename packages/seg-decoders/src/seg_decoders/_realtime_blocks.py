"""Blocks shared by the real-time architectures (FCN, LRASPP, BiSeNet, SFNet) and DeepLab: conv-BN-ReLU, FCN tower, aux tower."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seg_core.errors import ConfigError
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


class AuxTowerMixin:
    """torchvision's aux classifier for any decoder: an `FCNTower` on the level above the deepest.

    A decoder class lists this mixin before ``nn.Module`` and calls `init_aux` in ``__init__``.
    With the tower, the decoder has ``deep_supervision_channels`` and ``forward_stages``, which
    the base model reads for ``deep_supervision=True`` (the tower's 1x1 classifier is the
    model's deep-supervision head); without it, ``forward_stages`` is the plain forward.
    """

    aux: FCNTower | None

    def init_aux(self, above_channels: int | None, spatial_dims: int, dropout: float = 0.1) -> None:
        """Build the tower on ``above_channels`` (the level above the deepest), or none when None.

        Raises:
            ConfigError: That level has no channels (a stride-4 stem at encoder_depth 2).
        """
        self.aux = None
        if above_channels is None:
            return
        if above_channels <= 0:
            raise ConfigError(
                "deep_supervision=True puts the aux classifier on the level above the deepest, which has no "
                "channels with this encoder; use a deeper encoder_depth or deep_supervision=False"
            )
        self.aux = FCNTower(above_channels, max(above_channels // 4, 1), spatial_dims, dropout)
        #: Read by SegmentationModel to build the 1x1 deep-supervision head of the aux tower.
        self.deep_supervision_channels = [self.aux.out_channels]

    def forward_stages(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """The aux tower's output (level ``depth - 1``, when built), then the main output."""
        main: Any = self(features)  # type: ignore[operator]  # the nn.Module this is mixed into
        if self.aux is None:
            return [main]
        return [self.aux(features[-2]), main]
