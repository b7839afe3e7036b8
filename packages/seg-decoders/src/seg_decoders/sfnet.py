"""SFNet (Li et al., 2020, semantic flow): FPN whose top-down path aligns maps with flow alignment modules (2D, 3D)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from seg_core.building import check_positive
from seg_core.layers import dropout
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._blocks import resize, resolve_mode
from seg_decoders._flow_blocks import FlowAlignment, SFPyramidPooling, pyramid_levels
from seg_decoders._realtime_blocks import ConvBNReLU

if TYPE_CHECKING:
    from collections.abc import Sequence

    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["SFNet", "SFNetDecoder"]

#: The paper's backbone (ResNet-18, from seg-encoders-timm).
SFNET_DEFAULT_ENCODER = "tu-resnet18"


class SFNetDecoder(nn.Module):
    """PPM on the deepest map; top-down, each lateral (1x1 conv-BN-ReLU) plus the FAM-warped coarser map,
    then 3x3 conv-BN-ReLU; all levels upsampled to the finest, concatenated, 3x3 conv-BN-ReLU.

    With ``aux``, each top-down sum gets a 3x3 conv-BN-ReLU-dropout tower (the paper's deep
    supervision heads, ``dsn``; the model adds their 1x1 classifiers).
    """

    def __init__(
        self, encoder_channels: Sequence[int], *, channels: int = 128, spatial_dims: int = 2, aux: bool = False
    ) -> None:
        super().__init__()
        self.levels = pyramid_levels(encoder_channels)
        lateral = self.levels[:-1]
        self.ppm = SFPyramidPooling(int(encoder_channels[self.levels[-1]]), channels, spatial_dims)
        self.lateral = nn.ModuleList(ConvBNReLU(int(encoder_channels[lv]), channels, 1, spatial_dims) for lv in lateral)
        self.align = nn.ModuleList(FlowAlignment(channels, max(channels // 2, 1), spatial_dims) for _ in lateral)
        self.smooth = nn.ModuleList(ConvBNReLU(channels, channels, 3, spatial_dims) for _ in lateral)
        self.fuse = ConvBNReLU(len(self.levels) * channels, channels, 3, spatial_dims)
        self.out_channels = channels
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.aux: nn.ModuleList | None = None
        if aux:
            self.aux = nn.ModuleList(
                nn.Sequential(ConvBNReLU(channels, channels, 3, spatial_dims), dropout(spatial_dims)(0.1))
                for _ in lateral
            )
            #: Read by SegmentationModel to build the 1x1 deep-supervision heads.
            self.deep_supervision_channels = [channels] * len(lateral)

    def _top_down(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        f = self.ppm(features[self.levels[-1]])
        outputs, sums = [f], []
        for i in reversed(range(len(self.levels) - 1)):
            lateral = self.lateral[i](features[self.levels[i]])
            f = lateral + self.align[i](lateral, f)
            sums.append(f)
            outputs.append(self.smooth[i](f))
        finest = outputs[-1].shape[2:]
        fused = self.fuse(torch.cat([resize(o, finest, self.mode) for o in reversed(outputs)], dim=1))
        return fused, sums  # sums: coarse to fine

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self._top_down(features)[0]

    def forward_stages(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """The deep-supervision towers (coarse to fine), then the main output."""
        fused, sums = self._top_down(features)
        if self.aux is None:
            return [fused]
        towers = [self.aux[len(self.levels) - 2 - j](s) for j, s in enumerate(sums)]
        return [*towers, fused]


@architecture(
    ArchitectureSpec(
        "sfnet",
        "SFNet: feature pyramid with flow alignment modules",
        paper="arXiv:2002.10120",
        requires=Requirements(min_depth=2, nonzero_levels=(-1, -2)),
    )
)
class SFNet(SegmentationModel):
    """SFNet: PPM + FPN whose top-down upsampling is a learned semantic flow (FAM), fused at the finest level.

    Uses the four deepest levels (level 0, the input, and zero-channel levels excluded). With
    ``deep_supervision=True`` the paper's deep-supervision heads are extra outputs: in training
    mode, or with ``model.return_aux = True``, ``forward`` returns ``{"out": masks,
    "deep_supervision": [finest, ..., coarsest]}`` (each at its level's resolution).

    Args:
        encoder_name: Registered encoder. Default: the paper's ResNet-18, ``"tu-resnet18"``
            (install seg-encoders-timm; without it the error says so). Any registered encoder
            works, e.g. ``"basic_cnn"``.
        decoder_channels: Width of the pyramid (paper: 128 for ResNet-18).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        UnknownNameError: The default encoder without seg-encoders-timm installed.
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import SFNet
        >>> model = SFNet("basic_cnn", encoder_depth=3, decoder_channels=16, classes=2)
    """

    def __init__(
        self,
        encoder_name: str = SFNET_DEFAULT_ENCODER,
        *,
        decoder_channels: int = 128,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        check_positive("decoder_channels", decoder_channels)
        encoder = self.build_encoder(encoder_name, kwargs)
        self.decoder = SFNetDecoder(
            encoder.out_channels,
            channels=decoder_channels,
            spatial_dims=encoder.spatial_dims,
            aux=bool(self._model_args["deep_supervision"]),
        )
        self.build_heads(self.decoder.out_channels, kernel_size=1, output_level=self.decoder.levels[0])
        self.initialize()
