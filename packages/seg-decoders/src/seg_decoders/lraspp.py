"""Lite R-ASPP (Howard et al., 2019, the MobileNetV3 paper's segmentation head) for 2D and 3D."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from seg_core.building import check_positive
from seg_core.layers import adaptive_avg_pool, conv
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._blocks import resize, resolve_mode
from seg_decoders._realtime_blocks import ConvBNReLU

if TYPE_CHECKING:
    from collections.abc import Sequence

    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["LRASPP", "LRASPPDecoder"]

#: The paper's backbone (MobileNetV3-Large, from seg-encoders-timm).
LRASPP_DEFAULT_ENCODER = "tu-mobilenetv3_large_100"


class LRASPPDecoder(nn.Module):
    """The deepest map through 1x1 conv-BN-ReLU, gated by a pooled sigmoid branch, upsampled to level ``depth-2``.

    The output is the concatenation of the low-level map (level ``depth - 2``, stride 8 in
    the paper) and the gated high-level map; the model's 1x1 segmentation head on it equals
    torchvision's ``low_classifier(low) + high_classifier(high)`` (one bias instead of two).
    """

    def __init__(self, encoder_channels: Sequence[int], *, channels: int = 128, spatial_dims: int = 2) -> None:
        super().__init__()
        high = int(encoder_channels[-1])
        self.low_channels = int(encoder_channels[-3])
        self.cbr = ConvBNReLU(high, channels, 1, spatial_dims)
        self.scale = nn.Sequential(
            adaptive_avg_pool(spatial_dims)(1), conv(spatial_dims)(high, channels, 1, bias=False), nn.Sigmoid()
        )
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.out_channels = self.low_channels + channels

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        high, low = features[-1], features[-3]
        x = resize(self.cbr(high) * self.scale(high), low.shape[2:], self.mode)
        return torch.cat([low, x], dim=1)


@architecture(
    ArchitectureSpec(
        "lraspp",
        "LRASPP: lite reduced atrous spatial pyramid pooling (MobileNetV3's head)",
        paper="arXiv:1905.02244",
        requires=Requirements(min_depth=3, nonzero_levels=(-1, -3)),
    )
)
class LRASPP(SegmentationModel):
    """LRASPP: a gated 1x1 branch on the deepest map, fused with the map two levels above.

    Args:
        encoder_name: Registered encoder. Default: the paper's MobileNetV3-Large,
            ``"tu-mobilenetv3_large_100"`` (install seg-encoders-timm; without it the error says
            so). The paper dilates the last stage: pass ``encoder_output_stride=16``.
            Any registered encoder works, e.g. ``"basic_cnn"``.
        decoder_channels: Width of the high-level branch (paper: 128).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        UnknownNameError: The default encoder without seg-encoders-timm installed.
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import LRASPP
        >>> model = LRASPP("basic_cnn", encoder_depth=3, decoder_channels=16, classes=2)
    """

    def __init__(
        self,
        encoder_name: str = LRASPP_DEFAULT_ENCODER,
        *,
        decoder_channels: int = 128,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        check_positive("decoder_channels", decoder_channels)
        encoder = self.build_encoder(encoder_name, kwargs)
        self.decoder = LRASPPDecoder(encoder.out_channels, channels=decoder_channels, spatial_dims=encoder.spatial_dims)
        self.build_heads(self.decoder.out_channels, kernel_size=1, output_level=encoder.depth - 2)
        self.initialize()
