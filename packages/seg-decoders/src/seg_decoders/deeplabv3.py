"""DeepLabV3 (Chen et al., 2017) and DeepLabV3+ (Chen et al., 2018) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER, check_positive, check_probability
from seg_core.errors import ConfigError
from seg_core.layers import adaptive_avg_pool, conv
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._blocks import SafeBatchNorm, SeparableConv, resize, resolve_mode, scale_between
from seg_decoders._realtime_blocks import AuxTowerMixin

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["ASPP", "DeepLabV3", "DeepLabV3Decoder", "DeepLabV3Plus", "DeepLabV3PlusDecoder"]

#: Width of the DeepLabV3+ high-resolution projection (from the paper).
HIGHRES_CHANNELS = 48


def _bn(channels: int) -> nn.Module:
    return SafeBatchNorm(channels)


def check_atrous_rates(rates: Any) -> tuple[int, int, int]:
    """``decoder_atrous_rates`` must be exactly three ints >= 1."""
    try:
        values = tuple(rates)
    except TypeError:
        values = ()
    if len(values) != 3 or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in values):
        raise ConfigError(f"decoder_atrous_rates must be three ints >= 1 (e.g. (12, 24, 36)), got {rates!r}")
    return (int(values[0]), int(values[1]), int(values[2]))


class ASPPPooling(nn.Sequential):
    """Image-level branch: global pooling, 1x1 conv, BatchNorm, ReLU, upsampling back.

    Its BatchNorm is a :class:`~seg_decoders._blocks.SafeBatchNorm` so that batch size 1 trains.
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_dims: int) -> None:
        super().__init__(
            adaptive_avg_pool(spatial_dims)(1),
            conv(spatial_dims)(in_channels, out_channels, kernel_size=1, bias=False),
            _bn(out_channels),
            nn.ReLU(),
        )
        self.mode = resolve_mode("bilinear", spatial_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        for module in self:
            x = module(x)
        return nn.functional.interpolate(x, size=size, mode=self.mode, align_corners=False)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: 1x1 branch, three dilated 3x3 branches, image pooling, projection."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        atrous_rates: Sequence[int],
        *,
        spatial_dims: int = 2,
        separable: bool = False,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        conv_cls = conv(spatial_dims)
        branches: list[nn.Module] = [
            nn.Sequential(conv_cls(in_channels, out_channels, 1, bias=False), _bn(out_channels), nn.ReLU())
        ]
        for rate in atrous_rates:
            layer: nn.Module
            if separable:
                layer = SeparableConv(
                    in_channels, out_channels, 3, spatial_dims, padding=rate, dilation=rate, bias=False
                )
            else:
                layer = conv_cls(in_channels, out_channels, 3, padding=rate, dilation=rate, bias=False)
            branches.append(nn.Sequential(layer, _bn(out_channels), nn.ReLU()))
        branches.append(ASPPPooling(in_channels, out_channels, spatial_dims))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            conv_cls(5 * out_channels, out_channels, 1, bias=False), _bn(out_channels), nn.ReLU(), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(torch.cat([branch(x) for branch in self.convs], dim=1))


class DeepLabV3Decoder(AuxTowerMixin, nn.Module):
    """ASPP on the deepest map, then 3x3 conv, BatchNorm, ReLU (smp's keys ``aspp``, ``conv``, ``bn``).

    With ``aux_channels`` (the channels of the level above the deepest), torchvision's aux
    classifier tower is built too (`AuxTowerMixin`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        atrous_rates: Sequence[int],
        *,
        spatial_dims: int = 2,
        aspp_separable: bool = False,
        aspp_dropout: float = 0.5,
        aux_channels: int | None = None,
    ) -> None:
        super().__init__()
        self.init_aux(aux_channels, spatial_dims)
        self.aspp = ASPP(
            in_channels,
            out_channels,
            atrous_rates,
            spatial_dims=spatial_dims,
            separable=aspp_separable,
            dropout=aspp_dropout,
        )
        self.conv = conv(spatial_dims)(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn = _bn(out_channels)
        self.relu = nn.ReLU()

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.relu(self.bn(self.conv(self.aspp(features[-1]))))


class _Upsample(nn.Module):
    """Linear upsampling to the size of a reference map (smp's ``up``: fixed x2/x4)."""

    def __init__(self, factor: Sequence[int], spatial_dims: int) -> None:
        super().__init__()
        self.factor = tuple(factor)
        self.mode = resolve_mode("bilinear", spatial_dims)

    def forward(self, x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        return resize(x, size, self.mode)

    def extra_repr(self) -> str:
        return f"factor={self.factor}, mode={self.mode!r}"


class DeepLabV3PlusDecoder(AuxTowerMixin, nn.Module):
    """ASPP + separable conv on the deepest map, upsampled to level 2 (stride 4), fused with its 48-channel projection."""

    def __init__(
        self,
        encoder_channels: Sequence[int],
        axis_reductions: Sequence[Sequence[int]],
        out_channels: int,
        atrous_rates: Sequence[int],
        *,
        spatial_dims: int = 2,
        aspp_separable: bool = True,
        aspp_dropout: float = 0.5,
        aux: bool = False,
    ) -> None:
        super().__init__()
        self.init_aux(int(encoder_channels[-2]) if aux else None, spatial_dims)
        conv_cls = conv(spatial_dims)
        depth = len(encoder_channels) - 1
        self.aspp = nn.Sequential(
            ASPP(
                encoder_channels[-1],
                out_channels,
                atrous_rates,
                spatial_dims=spatial_dims,
                separable=aspp_separable,
                dropout=aspp_dropout,
            ),
            SeparableConv(out_channels, out_channels, 3, spatial_dims, padding=1, bias=False),
            _bn(out_channels),
            nn.ReLU(),
        )
        self.up = _Upsample(scale_between(axis_reductions, 2, depth), spatial_dims)
        self.block1 = nn.Sequential(
            conv_cls(encoder_channels[2], HIGHRES_CHANNELS, 1, bias=False), _bn(HIGHRES_CHANNELS), nn.ReLU()
        )
        self.block2 = nn.Sequential(
            SeparableConv(HIGHRES_CHANNELS + out_channels, out_channels, 3, spatial_dims, padding=1, bias=False),
            _bn(out_channels),
            nn.ReLU(),
        )

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        high = features[2]
        x = self.up(self.aspp(features[-1]), high.shape[2:])
        return self.block2(torch.cat([x, self.block1(high)], dim=1))


def _common_checks(decoder_channels: Any, atrous_rates: Any, aspp_dropout: Any) -> tuple[int, int, int]:
    check_positive("decoder_channels", decoder_channels)
    check_probability("decoder_aspp_dropout", aspp_dropout)
    return check_atrous_rates(atrous_rates)


@architecture(
    ArchitectureSpec(
        "deeplabv3",
        "DeepLabV3: atrous spatial pyramid pooling",
        paper="arXiv:1706.05587",
        requires=Requirements(output_strides=(8, 16)),
        encoder_defaults={"encoder_output_stride": 8},
        smp_class="DeepLabV3",
    )
)
class DeepLabV3(SegmentationModel):
    """DeepLabV3: a dilated encoder and atrous spatial pyramid pooling, 1x1 head.

    Unlike smp, :meth:`initialize` is called, and batch size 1 trains (the image-pooling
    BatchNorm falls back to running statistics on a single value per channel).

    With ``deep_supervision=True``, torchvision's aux classifier (an FCN tower on the level
    above the deepest, ``aux_loss=True``) is an extra output: in training mode, or with
    ``model.return_aux = True``, ``forward`` returns ``{"out": masks, "deep_supervision": [aux]}``
    (the aux logits at that level's resolution; seg-train's ``deep_supervision`` loss resizes them).

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_channels: Width of the ASPP branches.
        decoder_atrous_rates: Three dilation rates.
        decoder_aspp_separable: Depthwise-separable ASPP convolutions.
        decoder_aspp_dropout: Dropout after the ASPP projection.
        upsampling: smp's name for the head upsampling; None = automatic (the output stride).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import DeepLabV3
        >>> model = DeepLabV3("basic_cnn", encoder_depth=3, decoder_channels=32)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_channels: int = 256,
        decoder_atrous_rates: Sequence[int] = (12, 24, 36),
        decoder_aspp_separable: bool = False,
        decoder_aspp_dropout: float = 0.5,
        upsampling: int | None = None,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        rates = _common_checks(decoder_channels, decoder_atrous_rates, decoder_aspp_dropout)
        encoder = self.build_encoder(encoder_name, kwargs)
        dims = encoder.spatial_dims
        self.decoder = DeepLabV3Decoder(
            encoder.out_channels[-1],
            decoder_channels,
            rates,
            spatial_dims=dims,
            aspp_separable=bool(decoder_aspp_separable),
            aspp_dropout=float(decoder_aspp_dropout),
            aux_channels=int(encoder.out_channels[-2]) if self._model_args["deep_supervision"] else None,
        )
        self.build_heads(decoder_channels, kernel_size=1, output_level=encoder.depth, upsampling=upsampling)
        self.initialize()


@architecture(
    ArchitectureSpec(
        "deeplabv3plus",
        "DeepLabV3+: ASPP with a stride-4 refinement branch",
        paper="arXiv:1802.02611",
        aliases=("deeplabv3+",),
        requires=Requirements(min_depth=3, nonzero_levels=(2, -1), output_strides=(8, 16)),
        encoder_defaults={"encoder_output_stride": 16},
        smp_class="DeepLabV3Plus",
        smp_defaults={"upsampling": 4},
    )
)
class DeepLabV3Plus(SegmentationModel):
    """DeepLabV3+: DeepLabV3's ASPP plus a decoder refining with the stride-4 encoder map.

    With ``deep_supervision=True``, torchvision's aux classifier (an FCN tower on the level
    above the deepest, ``aux_loss=True``) is an extra output: in training mode, or with
    ``model.return_aux = True``, ``forward`` returns ``{"out": masks, "deep_supervision": [aux]}``
    (the aux logits at that level's resolution; seg-train's ``deep_supervision`` loss resizes them).

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_channels: Width of the ASPP and fusion convolutions.
        decoder_atrous_rates: Three dilation rates.
        decoder_aspp_separable: Depthwise-separable ASPP convolutions (default True).
        decoder_aspp_dropout: Dropout after the ASPP projection.
        upsampling: smp's name for the head upsampling; None = automatic (smp: 4).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import DeepLabV3Plus
        >>> model = DeepLabV3Plus("basic_cnn", encoder_depth=4, decoder_channels=32)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_channels: int = 256,
        decoder_atrous_rates: Sequence[int] = (12, 24, 36),
        decoder_aspp_separable: bool = True,
        decoder_aspp_dropout: float = 0.5,
        upsampling: int | None = None,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        rates = _common_checks(decoder_channels, decoder_atrous_rates, decoder_aspp_dropout)
        encoder = self.build_encoder(encoder_name, kwargs)
        dims = encoder.spatial_dims
        self.decoder = DeepLabV3PlusDecoder(
            encoder.out_channels,
            encoder.axis_reductions,
            decoder_channels,
            rates,
            spatial_dims=dims,
            aspp_separable=bool(decoder_aspp_separable),
            aspp_dropout=float(decoder_aspp_dropout),
            aux=bool(self._model_args["deep_supervision"]),
        )
        self.build_heads(decoder_channels, kernel_size=1, output_level=2, upsampling=upsampling)
        self.initialize()
