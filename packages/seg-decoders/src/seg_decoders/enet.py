"""ENet (Paszke et al., 2016): a whole real-time network with its own encoder (initial block, bottlenecks), 2D."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from seg_core.building import check_probability, resolve_model_args
from seg_core.encoder import EncoderMixin
from seg_core.errors import ConfigError
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["ENet", "ENetDecoder", "ENetEncoder"]

#: The only encoder ENet takes: its own (built in, not a registered encoder).
ENET_ENCODER = "enet"
#: The paper's widths of stages 1 (initial block), 2 and 3 (bottlenecks).
ENET_CHANNELS = (16, 64, 128)


def _bn_act(channels: int, relu: bool) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels), nn.ReLU(inplace=True) if relu else nn.PReLU(channels)]


class InitialBlock(nn.Module):
    """A 3x3 stride-2 convolution concatenated with a 2x2 max pooling of the input, BatchNorm, PReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        conv_channels = out_channels - in_channels if out_channels > in_channels else out_channels
        self.conv = nn.Conv2d(in_channels, conv_channels, 3, stride=2, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.out_channels = conv_channels + in_channels
        self.norm = nn.Sequential(*_bn_act(self.out_channels, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(torch.cat([self.conv(x), self.pool(x)], dim=1))


class Bottleneck(nn.Module):
    """Residual bottleneck: 1x1 projection, regular / dilated / asymmetric (kx1 then 1xk) conv, 1x1 expansion,
    spatial dropout, added to the input, activation."""

    def __init__(
        self, channels: int, *, dilation: int = 1, asymmetric: int = 0, dropout: float = 0.1, relu: bool = False
    ) -> None:
        super().__init__()
        inner = max(channels // 4, 1)
        middle: list[nn.Module]
        if asymmetric:
            pad = asymmetric // 2
            middle = [
                nn.Conv2d(inner, inner, (asymmetric, 1), padding=(pad, 0), bias=False),
                nn.Conv2d(inner, inner, (1, asymmetric), padding=(0, pad), bias=False),
            ]
        else:
            middle = [nn.Conv2d(inner, inner, 3, padding=dilation, dilation=dilation, bias=False)]
        self.branch = nn.Sequential(
            nn.Conv2d(channels, inner, 1, bias=False),
            *_bn_act(inner, relu),
            *middle,
            *_bn_act(inner, relu),
            nn.Conv2d(inner, channels, 1, bias=False),
            *_bn_act(channels, relu),
            nn.Dropout2d(dropout),
        )
        self.act = nn.ReLU(inplace=True) if relu else nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.branch(x))


class DownsamplingBottleneck(nn.Module):
    """Bottleneck that halves the size: 2x2 stride-2 projection; the shortcut is a max pooling, zero-padded."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__()
        inner = max(in_channels // 4, 1)
        self.branch = nn.Sequential(
            nn.Conv2d(in_channels, inner, 2, stride=2, bias=False),
            *_bn_act(inner, relu=False),
            nn.Conv2d(inner, inner, 3, padding=1, bias=False),
            *_bn_act(inner, relu=False),
            nn.Conv2d(inner, out_channels, 1, bias=False),
            *_bn_act(out_channels, relu=False),
            nn.Dropout2d(dropout),
        )
        self.extra = out_channels - in_channels
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = F.max_pool2d(x, 2)
        if self.extra > 0:
            main = F.pad(main, (0, 0, 0, 0, 0, self.extra))
        return self.act(main + self.branch(x))


class UpsamplingBottleneck(nn.Module):
    """Bottleneck that doubles the size: the shortcut is a 1x1 conv and max unpooling with the indices of the
    matching downsampling, the branch a 3x3 stride-2 transposed convolution."""

    def __init__(self, in_channels: int, out_channels: int, dropout: float) -> None:
        super().__init__()
        inner = max(in_channels // 4, 1)
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.branch = nn.Sequential(
            nn.Conv2d(in_channels, inner, 1, bias=False),
            *_bn_act(inner, relu=True),
        )
        self.up = nn.ConvTranspose2d(inner, inner, 3, stride=2, padding=1, bias=False)
        self.up_norm = nn.Sequential(*_bn_act(inner, relu=True))
        self.expand = nn.Sequential(
            nn.Conv2d(inner, out_channels, 1, bias=False), *_bn_act(out_channels, relu=True), nn.Dropout2d(dropout)
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, indices: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
        main = F.max_unpool2d(self.shortcut(x), indices, (2, 2), output_size=list(size))
        ext = self.branch(x)
        ext = self.up_norm(self.up(ext, output_size=list(size)))
        return self.act(main + self.expand(ext))


def _stage(channels: int, dropout: float) -> list[nn.Module]:
    """Stages 2 and 3 after their first block: regular, dilated 2, asymmetric 5, dilated 4, regular,
    dilated 8, asymmetric 5, dilated 16."""
    return [
        Bottleneck(channels, dropout=dropout),
        Bottleneck(channels, dilation=2, dropout=dropout),
        Bottleneck(channels, asymmetric=5, dropout=dropout),
        Bottleneck(channels, dilation=4, dropout=dropout),
        Bottleneck(channels, dropout=dropout),
        Bottleneck(channels, dilation=8, dropout=dropout),
        Bottleneck(channels, asymmetric=5, dropout=dropout),
        Bottleneck(channels, dilation=16, dropout=dropout),
    ]


class ENetEncoder(nn.Module, EncoderMixin):
    """ENet's encoder: initial block (level 1, 1/2), stage 1 (level 2, 1/4), stages 2 and 3 (level 3, 1/8).

    Args:
        in_channels: Input channels.
        channels: Widths of levels 1, 2 and 3 (paper: 16, 64, 128).
        dropout: Spatial dropout of stage 1, then of the later stages (paper: 0.01, 0.1).
    """

    def __init__(
        self, in_channels: int = 3, channels: Sequence[int] = ENET_CHANNELS, dropout: Sequence[float] = (0.01, 0.1)
    ) -> None:
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        self.initial = InitialBlock(in_channels, c1)
        c1 = self.initial.out_channels
        self.stage1 = nn.Sequential(
            DownsamplingBottleneck(c1, c2, dropout[0]), *(Bottleneck(c2, dropout=dropout[0]) for _ in range(4))
        )
        self.stage23 = nn.Sequential(
            DownsamplingBottleneck(c2, c3, dropout[1]), *_stage(c3, dropout[1]), *_stage(c3, dropout[1])
        )
        self._out_channels = [in_channels, c1, c2, c3]
        self._depth = 3
        self._in_channels = in_channels
        self._output_stride = 8
        self._supports_dilation = False
        self.registry_name = ENET_ENCODER

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f1 = self.initial(x)
        f2 = self.stage1(f1)
        return [x, f1, f2, self.stage23(f2)]


class ENetDecoder(nn.Module):
    """Stages 4 and 5: an upsampling bottleneck (max unpooling) and regular bottlenecks each, to level 1.

    The unpooling indices are those of the encoder's downsampling bottlenecks, recomputed from
    the maps they pooled (levels 1 and 2: one max pooling each), so the encoder returns plain maps.
    """

    def __init__(self, encoder_channels: Sequence[int]) -> None:
        super().__init__()
        _, c1, c2, c3 = (int(c) for c in encoder_channels)
        self.up4 = UpsamplingBottleneck(c3, c2, 0.1)
        self.stage4 = nn.Sequential(*(Bottleneck(c2, dropout=0.1, relu=True) for _ in range(2)))
        self.up5 = UpsamplingBottleneck(c2, c1, 0.1)
        self.stage5 = Bottleneck(c1, dropout=0.1, relu=True)
        self.out_channels = c1

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        _, f1, f2, f3 = features
        _, idx2 = F.max_pool2d(f2, 2, return_indices=True)
        _, idx1 = F.max_pool2d(f1, 2, return_indices=True)
        x = self.stage4(self.up4(f3, idx2, f2.shape[2:]))
        return self.stage5(self.up5(x, idx1, f1.shape[2:]))


def _check_encoder_args(args: dict[str, Any], encoder_name: str) -> None:
    if encoder_name != ENET_ENCODER:
        raise ConfigError(
            f"ENet has its own encoder: encoder_name must be {ENET_ENCODER!r}, got {encoder_name!r} "
            "(for a real-time model on another encoder use lraspp, bisenet, sfnet or sfnet_lite)"
        )
    if args["encoder_depth"] != 3:
        raise ConfigError(f"ENet's encoder has 3 levels: encoder_depth must be 3, got {args['encoder_depth']!r}")
    fixed = ("encoder_weights", "encoder_output_stride", "encoder_indices", "encoder_channels", "encoder_strides")
    for name in (*fixed, "encoder_params"):
        if args[name] is not None:
            raise ConfigError(
                f"ENet's built-in encoder takes no {name} (got {args[name]!r}); set its widths with enet_channels"
            )


@architecture(
    ArchitectureSpec(
        "enet",
        "ENet: efficient neural network with its own bottleneck encoder",
        paper="arXiv:1606.02147",
        requires=Requirements(min_depth=3, max_depth=3, spatial_dims=(2,)),
        encoder_defaults={"encoder_depth": 3},
    )
)
class ENet(SegmentationModel):
    """ENet: initial block, five bottleneck stages (three encoding, two decoding with max unpooling).

    ENet is a whole network: it takes only its own encoder (``encoder_name="enet"``, not a
    registered encoder), at depth 3 (output stride 8). The last layer is seg's standard
    head (3x3 conv to ``classes``, bilinear upsampling x2) instead of the paper's transposed
    convolution, so that ``classes``, ``activation`` and ``aux_params`` behave as everywhere.

    Args:
        encoder_name: Must be ``"enet"`` (the built-in encoder).
        enet_channels: Widths of levels 1, 2, 3 (paper: 16, 64, 128).
        enet_dropout: Spatial dropout of stage 1, then of stages 2 and 3 (paper: 0.01, 0.1).
        **kwargs: The shared head arguments, [`ModelArgs`][seg_core.building.ModelArgs]
            (``in_channels``, ``classes``, ``activation``, ``aux_params``, ``input_padding``...).
            The encoder options other than ``in_channels`` must keep their defaults.

    Raises:
        ConfigError: Another encoder, depth or encoder option, or an invalid argument.

    Example:
        >>> from seg_decoders import ENet
        >>> model = ENet(classes=2, enet_channels=(16, 16, 32))
    """

    def __init__(
        self,
        encoder_name: str = ENET_ENCODER,
        *,
        enet_channels: Sequence[int] = ENET_CHANNELS,
        enet_dropout: Sequence[float] = (0.01, 0.1),
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        widths = tuple(enet_channels) if isinstance(enet_channels, (list, tuple)) else ()
        if len(widths) != 3 or any(isinstance(c, bool) or not isinstance(c, int) or c < 4 for c in widths):
            raise ConfigError(f"enet_channels must be three ints >= 4 (paper: (16, 64, 128)), got {enet_channels!r}")
        drops = tuple(enet_dropout) if isinstance(enet_dropout, (list, tuple)) else ()
        if len(drops) != 2:
            raise ConfigError(f"enet_dropout must be two probabilities (paper: (0.01, 0.1)), got {enet_dropout!r}")
        for p in drops:
            check_probability("enet_dropout", p)
        spec = type(self).spec
        args = resolve_model_args(
            kwargs,
            owner="ENet",
            defaults=spec.encoder_defaults if spec is not None else None,
            own_arguments=[n for n in inspect.signature(ENet.__init__).parameters if n not in ("self", "kwargs")],
        )
        _check_encoder_args(args, encoder_name)
        self._model_args = args
        self.encoder = ENetEncoder(args["in_channels"], widths, drops)
        self.input_padding = args["input_padding"]
        self.decoder = ENetDecoder(self.encoder.out_channels)
        self.build_heads(self.decoder.out_channels, kernel_size=3, output_level=1)
        self.initialize()
