"""MA-Net (Fan et al., 2020): multi-scale attention U-shaped network, 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER, check_positive
from seg_core.layers import adaptive_avg_pool, conv
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, architecture
from seg_decoders._blocks import ConvNormAct, resize, resolve_mode
from seg_decoders._unet_blocks import block_channels, decode_u_shaped, resolve_decoder_channels
from seg_decoders.unet import UnetDecoderBlock

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["MAnet", "MAnetDecoder"]


class PABBlock(nn.Module):
    """Position-wise attention block on the deepest map (memory grows with pixels squared)."""

    def __init__(self, in_channels: int, pab_channels: int, spatial_dims: int) -> None:
        super().__init__()
        conv_cls = conv(spatial_dims)
        self.in_channels = in_channels
        self.top_conv = conv_cls(in_channels, pab_channels, kernel_size=1)
        self.center_conv = conv_cls(in_channels, pab_channels, kernel_size=1)
        self.bottom_conv = conv_cls(in_channels, in_channels, kernel_size=3, padding=1)
        self.map_softmax = nn.Softmax(dim=1)
        self.out_conv = conv_cls(in_channels, in_channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        pixels = x[0, 0].numel()
        top = self.top_conv(x).flatten(2)
        center = self.center_conv(x).flatten(2).transpose(1, 2)
        bottom = self.bottom_conv(x).flatten(2).transpose(1, 2)
        attn = self.map_softmax(torch.matmul(center, top).reshape(batch, -1)).reshape(batch, pixels, pixels)
        out = torch.matmul(attn, bottom).transpose(1, 2).reshape(x.shape)
        return self.out_conv(x + out)


def _squeeze_excite(channels: int, reduced: int, spatial_dims: int) -> nn.Sequential:
    conv_cls = conv(spatial_dims)
    return nn.Sequential(
        adaptive_avg_pool(spatial_dims)(1),
        conv_cls(channels, reduced, 1),
        nn.ReLU(inplace=True),
        conv_cls(reduced, channels, 1),
        nn.Sigmoid(),
    )


class MFABBlock(nn.Module):
    """Multi-scale fusion attention block: high-level conv, SE gates on both inputs, two convs."""

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        *,
        spatial_dims: int,
        use_norm: Any,
        interpolation: str,
        reduction: int = 16,
    ) -> None:
        super().__init__()
        self.mode = interpolation
        self.hl_conv = nn.Sequential(
            ConvNormAct(in_channels, in_channels, 3, spatial_dims, use_norm, padding=1),
            ConvNormAct(in_channels, skip_channels, 1, spatial_dims, use_norm),
        )
        reduced = max(1, skip_channels // reduction)
        self.SE_ll = _squeeze_excite(skip_channels, reduced, spatial_dims)
        self.SE_hl = _squeeze_excite(skip_channels, reduced, spatial_dims)
        self.conv1 = ConvNormAct(2 * skip_channels, out_channels, 3, spatial_dims, use_norm, padding=1)
        self.conv2 = ConvNormAct(out_channels, out_channels, 3, spatial_dims, use_norm, padding=1)

    def forward(self, x: torch.Tensor, size: Sequence[int], skip: torch.Tensor | None = None) -> torch.Tensor:
        x = resize(self.hl_conv(x), size, self.mode)
        assert skip is not None
        gate = self.SE_hl(x) + self.SE_ll(skip)
        x = torch.cat([x * gate, skip], dim=1)
        return self.conv2(self.conv1(x))


class MAnetDecoder(nn.Module):
    """MA-Net decoder: PAB centre, MFAB blocks where a skip has channels, plain U-Net blocks elsewhere."""

    def __init__(
        self,
        encoder_channels: Sequence[int],
        decoder_channels: Sequence[int],
        *,
        spatial_dims: int = 2,
        use_norm: Any = "batchnorm",
        pab_channels: int = 64,
        interpolation: str = "nearest",
        reduction: int = 16,
    ) -> None:
        super().__init__()
        in_ch, skip_ch = block_channels(encoder_channels, decoder_channels)
        self.center = PABBlock(in_ch[0], pab_channels, spatial_dims)
        kw: dict[str, Any] = {"spatial_dims": spatial_dims, "use_norm": use_norm, "interpolation": interpolation}
        self.blocks = nn.ModuleList(
            MFABBlock(cin, skip, cout, reduction=reduction, **kw)
            if skip > 0
            else UnetDecoderBlock(cin, skip, cout, **kw)
            for cin, skip, cout in zip(in_ch, skip_ch, decoder_channels)
        )
        #: Recompute each block's activations in the backward pass (``checkpointing=True`` on the model).
        self.checkpointing = False

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return decode_u_shaped(self.center, self.blocks, features, checkpointing=self.checkpointing)


@architecture(
    ArchitectureSpec(
        "manet",
        "MA-Net: position and multi-scale attention blocks",
        paper="doi:10.1109/ACCESS.2020.3025372",
        smp_class="MAnet",
        deprecated_arguments={"decoder_use_batchnorm": "decoder_use_norm"},
        smp_defaults={"decoder_channels": (256, 128, 64, 32, 16)},
    )
)
class MAnet(SegmentationModel):
    """MA-Net: U-shaped decoder with a position-wise attention centre and multi-scale fusion attention.

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_use_norm: Norm of the blocks.
        decoder_channels: Width of each block, deepest first; None = smp's defaults cut to the depth.
        decoder_pab_channels: Width of the PAB query/key projections.
        decoder_interpolation: Upsampling mode.
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import MAnet
        >>> model = MAnet("basic_cnn", encoder_depth=3, decoder_channels=(32, 16, 8))
    """

    requires_divisible_input_shape = False

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_use_norm: Any = "batchnorm",
        decoder_channels: Sequence[int] | None = None,
        decoder_pab_channels: int = 64,
        decoder_interpolation: str = "nearest",
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        check_positive("decoder_pab_channels", decoder_pab_channels)
        encoder = self.build_encoder(encoder_name, kwargs)
        dims = encoder.spatial_dims
        channels = resolve_decoder_channels(decoder_channels, encoder.depth)
        self.decoder = MAnetDecoder(
            encoder.out_channels,
            channels,
            spatial_dims=dims,
            use_norm=decoder_use_norm,
            pab_channels=decoder_pab_channels,
            interpolation=resolve_mode(decoder_interpolation, dims),
        )
        self.build_heads(channels[-1], kernel_size=3, output_level=0)
        self.initialize()
