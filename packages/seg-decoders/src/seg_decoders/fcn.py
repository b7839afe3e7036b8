"""Fully convolutional network (Long et al., 2015) with torchvision's FCN head, for 2D and 3D."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER, check_positive, check_probability
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._realtime_blocks import AuxTowerMixin, FCNTower

if TYPE_CHECKING:
    from collections.abc import Sequence

    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["FCN", "FCNDecoder"]


class FCNDecoder(AuxTowerMixin, nn.Module):
    """FCN tower on the deepest map; with ``aux``, a second tower on the level above (the aux classifier).

    Args:
        encoder_channels: The encoder's channels per level.
        channels: Width of the main tower (None: a quarter of the deepest map's channels, as torchvision).
        spatial_dims: 2 or 3.
        dropout: Dropout after each tower.
        aux: Build the aux tower (``deep_supervision=True``).
    """

    def __init__(
        self,
        encoder_channels: Sequence[int],
        *,
        channels: int | None = None,
        spatial_dims: int = 2,
        dropout: float = 0.1,
        aux: bool = False,
    ) -> None:
        super().__init__()
        deepest = int(encoder_channels[-1])
        self.head = FCNTower(deepest, channels or max(deepest // 4, 1), spatial_dims, dropout)
        self.out_channels = self.head.out_channels
        self.init_aux(int(encoder_channels[-2]) if aux else None, spatial_dims, dropout)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self.head(features[-1])


@architecture(
    ArchitectureSpec(
        "fcn",
        "FCN: fully convolutional network with a 3x3 head on the deepest map",
        paper="arXiv:1411.4038",
        requires=Requirements(min_depth=2, nonzero_levels=(-1, -2)),
    )
)
class FCN(SegmentationModel):
    """FCN as torchvision builds it: a 3x3 conv-BN-ReLU-dropout tower on the deepest map, a 1x1 classifier.

    With ``deep_supervision=True`` the aux classifier (the same tower on the level above the
    deepest, torchvision's ``aux_loss=True``) is an extra output: in training mode, or with
    ``model.return_aux = True``, ``forward`` returns ``{"out": masks, "deep_supervision": [aux]}``
    (the aux logits at that level's resolution; seg-train's ``deep_supervision`` loss resizes them).

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; torchvision uses a ResNet-50/101
            dilated to output stride 8: ``"tu-resnet50"`` with ``encoder_output_stride=8``).
        decoder_channels: Width of the head's tower (None: a quarter of the deepest map's channels).
        decoder_dropout: Dropout after the tower (torchvision: 0.1).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import FCN
        >>> model = FCN("basic_cnn", encoder_depth=3, classes=2)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_channels: int | None = None,
        decoder_dropout: float = 0.1,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        if decoder_channels is not None:
            check_positive("decoder_channels", decoder_channels)
        check_probability("decoder_dropout", decoder_dropout)
        encoder = self.build_encoder(encoder_name, kwargs)
        self.decoder = FCNDecoder(
            encoder.out_channels,
            channels=decoder_channels,
            spatial_dims=encoder.spatial_dims,
            dropout=float(decoder_dropout),
            aux=bool(self._model_args["deep_supervision"]),
        )
        self.build_heads(self.decoder.out_channels, kernel_size=1, output_level=encoder.depth)
        self.initialize()
