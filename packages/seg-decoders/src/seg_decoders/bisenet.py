"""BiSeNet V1 (Yu et al., 2018): spatial path, context path with attention refinement, feature fusion."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from seg_core.building import check_positive
from seg_core.layers import adaptive_avg_pool, conv
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._blocks import SafeBatchNorm, resize, resolve_mode
from seg_decoders._realtime_blocks import ConvBNReLU

if TYPE_CHECKING:
    from collections.abc import Sequence

    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["AttentionRefinement", "BiSeNet", "BiSeNetDecoder", "FeatureFusion"]

#: The paper's context-path backbone (ResNet-18, from seg-encoders-timm).
BISENET_DEFAULT_ENCODER = "tu-resnet18"
#: The level the spatial path's output is aligned to (stride 8 for stride-2 encoders).
SPATIAL_LEVEL = 3


class AttentionRefinement(nn.Module):
    """ARM: 3x3 conv-BN-ReLU, then channel attention from global pooling (1x1 conv, BN, sigmoid)."""

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, out_channels, 3, spatial_dims)
        self.attention = nn.Sequential(
            adaptive_avg_pool(spatial_dims)(1),
            conv(spatial_dims)(out_channels, out_channels, 1, bias=False),
            SafeBatchNorm(out_channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return x * self.attention(x)


class FeatureFusion(nn.Module):
    """FFM: concatenation, 1x1 conv-BN-ReLU, then ``x + x * attention`` (pooling, 1x1, ReLU, 1x1, sigmoid)."""

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int) -> None:
        super().__init__()
        conv_cls = conv(spatial_dims)
        self.conv = ConvBNReLU(in_channels, out_channels, 1, spatial_dims)
        self.attention = nn.Sequential(
            adaptive_avg_pool(spatial_dims)(1),
            conv_cls(out_channels, max(out_channels // 4, 1), 1),
            nn.ReLU(inplace=True),
            conv_cls(max(out_channels // 4, 1), out_channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.conv(torch.cat([spatial, context], dim=1))
        return x + x * self.attention(x)


class BiSeNetDecoder(nn.Module):
    """Spatial path on the input, context path on the two deepest maps, fusion, 3x3 conv-BN-ReLU.

    Spatial path: three stride-2 3x3 conv-BN-ReLU (1/8 of the input), then 1x1 to
    ``spatial_channels``. Context path: global context (pooling, 1x1 conv-BN-ReLU) added to
    the ARM of the deepest map, upsampled, 3x3 conv-BN-ReLU; ARM of the level above plus that,
    upsampled to the spatial path's size, 3x3 conv-BN-ReLU. With ``aux``, both context outputs
    get a 3x3 conv-BN-ReLU tower for the auxiliary heads (the paper's auxiliary losses).
    """

    def __init__(
        self,
        encoder_channels: Sequence[int],
        *,
        spatial_channels: int = 128,
        context_channels: int = 128,
        out_channels: int = 256,
        spatial_dims: int = 2,
        aux: bool = False,
    ) -> None:
        super().__init__()
        c_in, c16, c32 = int(encoder_channels[0]), int(encoder_channels[-2]), int(encoder_channels[-1])
        mid = max(spatial_channels // 2, 1)
        self.spatial_path = nn.Sequential(
            ConvBNReLU(c_in, mid, 3, spatial_dims, stride=2),
            ConvBNReLU(mid, mid, 3, spatial_dims, stride=2),
            ConvBNReLU(mid, mid, 3, spatial_dims, stride=2),
            ConvBNReLU(mid, spatial_channels, 1, spatial_dims),
        )
        self.global_context = nn.Sequential(
            adaptive_avg_pool(spatial_dims)(1), ConvBNReLU(c32, context_channels, 1, spatial_dims)
        )
        self.arm32 = AttentionRefinement(c32, context_channels, spatial_dims)
        self.arm16 = AttentionRefinement(c16, context_channels, spatial_dims)
        self.head32 = ConvBNReLU(context_channels, context_channels, 3, spatial_dims)
        self.head16 = ConvBNReLU(context_channels, context_channels, 3, spatial_dims)
        self.ffm = FeatureFusion(spatial_channels + context_channels, out_channels, spatial_dims)
        self.conv = ConvBNReLU(out_channels, out_channels, 3, spatial_dims)
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.out_channels = out_channels
        self.aux: nn.ModuleList | None = None
        if aux:
            aux_channels = max(context_channels // 2, 1)
            self.aux = nn.ModuleList(ConvBNReLU(context_channels, aux_channels, 3, spatial_dims) for _ in range(2))
            #: Read by SegmentationModel to build the 1x1 deep-supervision heads of the aux towers.
            self.deep_supervision_channels = [aux_channels, aux_channels]

    def _paths(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f16, f32 = features[-2], features[-1]
        spatial = self.spatial_path(features[0])
        reference = features[SPATIAL_LEVEL] if len(features) > SPATIAL_LEVEL else features[-1]
        spatial = resize(spatial, reference.shape[2:], self.mode)
        up32 = self.head32(resize(self.arm32(f32) + self.global_context(f32), f16.shape[2:], self.mode))
        up16 = self.head16(resize(self.arm16(f16) + up32, spatial.shape[2:], self.mode))
        return spatial, up16, up32

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        spatial, context, _ = self._paths(features)
        return self.conv(self.ffm(spatial, context))

    def forward_stages(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """The aux towers (on the coarser, then the finer context output), then the main output."""
        spatial, context, coarse = self._paths(features)
        main = self.conv(self.ffm(spatial, context))
        if self.aux is None:
            return [main]
        return [self.aux[1](coarse), self.aux[0](context), main]


@architecture(
    ArchitectureSpec(
        "bisenet",
        "BiSeNet V1: bilateral spatial and context paths with feature fusion",
        paper="arXiv:1808.00897",
        requires=Requirements(min_depth=3, nonzero_levels=(-1, -2)),
    )
)
class BiSeNet(SegmentationModel):
    """BiSeNet V1: a shallow spatial path at 1/8 and an encoder context path, fused by FFM.

    The output of the fusion is at level 3 (stride 8 for stride-2 encoders); the 1x1 head
    upsamples it to the input size. With ``deep_supervision=True``, the paper's two auxiliary
    heads (on the context path's 1/8 and 1/16 outputs) are extra outputs: in training mode, or
    with ``model.return_aux = True``, ``forward`` returns ``{"out": masks, "deep_supervision":
    [aux_8, aux_16]}`` at their own resolutions (seg-train's ``deep_supervision`` loss resizes them).

    Args:
        encoder_name: Context-path encoder. Default: the paper's ResNet-18, ``"tu-resnet18"``
            (install seg-encoders-timm; without it the error says so). Any registered encoder
            works, e.g. ``"basic_cnn"``.
        decoder_spatial_channels: Width of the spatial path's output (paper: 128).
        decoder_context_channels: Width of the context path (paper: 128).
        decoder_channels: Width of the fusion module's output (paper: 256).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        UnknownNameError: The default encoder without seg-encoders-timm installed.
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import BiSeNet
        >>> model = BiSeNet("basic_cnn", encoder_depth=4, decoder_channels=16, classes=2)
    """

    def __init__(
        self,
        encoder_name: str = BISENET_DEFAULT_ENCODER,
        *,
        decoder_spatial_channels: int = 128,
        decoder_context_channels: int = 128,
        decoder_channels: int = 256,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        check_positive("decoder_spatial_channels", decoder_spatial_channels)
        check_positive("decoder_context_channels", decoder_context_channels)
        check_positive("decoder_channels", decoder_channels)
        encoder = self.build_encoder(encoder_name, kwargs)
        self.decoder = BiSeNetDecoder(
            encoder.out_channels,
            spatial_channels=decoder_spatial_channels,
            context_channels=decoder_context_channels,
            out_channels=decoder_channels,
            spatial_dims=encoder.spatial_dims,
            aux=bool(self._model_args["deep_supervision"]),
        )
        self.build_heads(self.decoder.out_channels, kernel_size=1, output_level=min(SPATIAL_LEVEL, encoder.depth))
        self.initialize()
