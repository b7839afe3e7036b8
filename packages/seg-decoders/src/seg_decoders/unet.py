"""U-Net (Ronneberger et al., 2015) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, architecture
from seg_decoders._blocks import Attention, ConvNormAct, check_attention, resize, resolve_mode
from seg_decoders._unet_blocks import block_channels, decode_u_shaped, decode_u_shaped_stages, resolve_decoder_channels

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["Unet", "UnetDecoder", "UnetDecoderBlock"]


class UnetDecoderBlock(nn.Module):
    """Resize to the skip's size, concatenate, attention, two conv-norm-ReLU, attention.

    ``attention1`` exists only in blocks that receive a skip (smp builds an unused one in the last block).
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        *,
        spatial_dims: int,
        use_norm: Any = "batchnorm",
        attention_type: str | None = None,
        interpolation: str = "nearest",
        has_skip: bool = True,
    ) -> None:
        super().__init__()
        self.mode = interpolation
        self.has_skip = has_skip
        cat = in_channels + skip_channels
        self.conv1 = ConvNormAct(cat, out_channels, 3, spatial_dims, use_norm, padding=1)
        self.attention1 = Attention(attention_type if has_skip else None, cat, spatial_dims)
        self.conv2 = ConvNormAct(out_channels, out_channels, 3, spatial_dims, use_norm, padding=1)
        self.attention2 = Attention(attention_type, out_channels, spatial_dims)

    def forward(self, x: torch.Tensor, size: Sequence[int], skip: torch.Tensor | None = None) -> torch.Tensor:
        x = resize(x, size, self.mode)
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
            x = self.attention1(x)
        x = self.conv1(x)
        x = self.conv2(x)
        return self.attention2(x)


class UnetCenterBlock(nn.Sequential):
    """Two conv-norm-ReLU on the deepest map (smp adds it for VGG encoders)."""

    def __init__(self, channels: int, spatial_dims: int, use_norm: Any) -> None:
        super().__init__(
            ConvNormAct(channels, channels, 3, spatial_dims, use_norm, padding=1),
            ConvNormAct(channels, channels, 3, spatial_dims, use_norm, padding=1),
        )


class UnetDecoder(nn.Module):
    """U-Net decoder: one block per encoder level, each resizing to the next skip's exact size.

    Args:
        encoder_channels: ``encoder.out_channels`` (index 0 is the input).
        decoder_channels: Output width of each block, deepest first.
        spatial_dims: 2 or 3.
        use_norm: Norm spec (see :func:`seg_core.get_norm`).
        attention_type: None or ``"scse"``.
        interpolation: Upsampling mode.
        center: Add the VGG centre block.
    """

    def __init__(
        self,
        encoder_channels: Sequence[int],
        decoder_channels: Sequence[int],
        *,
        spatial_dims: int = 2,
        use_norm: Any = "batchnorm",
        attention_type: str | None = None,
        interpolation: str = "nearest",
        center: bool = False,
    ) -> None:
        super().__init__()
        in_channels, skip_channels = block_channels(encoder_channels, decoder_channels)
        head = in_channels[0]
        self.center: nn.Module = UnetCenterBlock(head, spatial_dims, use_norm) if center else nn.Identity()
        last = len(decoder_channels) - 1
        self.blocks = nn.ModuleList(
            UnetDecoderBlock(
                cin,
                skip,
                cout,
                spatial_dims=spatial_dims,
                use_norm=use_norm,
                attention_type=attention_type,
                interpolation=interpolation,
                has_skip=i < last,
            )
            for i, (cin, skip, cout) in enumerate(zip(in_channels, skip_channels, decoder_channels))
        )

        #: Recompute each block's activations in the backward pass (``checkpointing=True`` on the model).
        self.checkpointing = False
        #: The widths of the stage outputs that deep supervision puts a head on (all blocks but the last).
        self.deep_supervision_channels = list(decoder_channels[:-1])

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return decode_u_shaped(self.center, self.blocks, features, checkpointing=self.checkpointing)

    def forward_stages(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Every block's output, deepest first (the last is what `forward` returns)."""
        return decode_u_shaped_stages(self.center, self.blocks, features, checkpointing=self.checkpointing)


@architecture(
    ArchitectureSpec(
        "unet",
        "U-Net: upsampling blocks with skip connections",
        paper="arXiv:1505.04597",
        smp_class="Unet",
        deprecated_arguments={"decoder_use_batchnorm": "decoder_use_norm"},
        smp_defaults={"decoder_channels": (256, 128, 64, 32, 16)},
    )
)
class Unet(SegmentationModel):
    """U-Net: an encoder, a decoder of upsampling blocks with skip connections, a 3x3 head.

    Works for 2D and 3D encoders and any input size (each block resizes to its
    skip's size, so ``requires_divisible_input_shape`` is False, as in smp).

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_use_norm: Norm of the decoder blocks: ``"batchnorm"``, ``"groupnorm"``,
            ``"layernorm"``, ``"instancenorm"``, ``"identity"``, True/False or a dict.
        decoder_channels: Width of each block, deepest first; None = ``(256, 128, 64, 32, 16)``
            cut to ``encoder_depth`` entries.
        decoder_attention_type: None or ``"scse"``.
        decoder_interpolation: ``"nearest"``, ``"bilinear"`` (trilinear in 3D), ``"bicubic"`` (2D), ...
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> import torch
        >>> from seg_decoders import Unet
        >>> model = Unet("basic_cnn", encoder_depth=4, decoder_channels=(64, 32, 16, 8), classes=3)
        >>> model(torch.randn(1, 3, 64, 64)).shape
        torch.Size([1, 3, 64, 64])
    """

    requires_divisible_input_shape = False

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_use_norm: Any = "batchnorm",
        decoder_channels: Sequence[int] | None = None,
        decoder_attention_type: str | None = None,
        decoder_interpolation: str = "nearest",
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        encoder = self.build_encoder(encoder_name, kwargs)
        dims = encoder.spatial_dims
        channels = resolve_decoder_channels(decoder_channels, encoder.depth)
        enc_ch = encoder.out_channels
        cins, skips = block_channels(enc_ch, channels)
        check_attention(decoder_attention_type, [c + s for c, s in zip(cins[:-1], skips[:-1])] + channels)
        self.decoder = UnetDecoder(
            enc_ch,
            channels,
            spatial_dims=dims,
            use_norm=decoder_use_norm,
            attention_type=decoder_attention_type,
            interpolation=resolve_mode(decoder_interpolation, dims),
            center=encoder_name.startswith("vgg"),
        )
        self.build_heads(channels[-1], kernel_size=3, output_level=0)
        self.initialize()
