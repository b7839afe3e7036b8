"""Dense Prediction Transformer decoder (Ranftl et al., 2021) for 2D and 3D, with any encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER, check_positive
from seg_core.errors import ConfigError
from seg_core.layers import conv, get_norm
from seg_core.model import SegmentationModel, is_tracing
from seg_core.spec import ArchitectureSpec, Requirements, architecture
from seg_decoders._blocks import resize, resolve_mode

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["DPT", "DPTDecoder"]

#: smp's ``decoder_intermediate_channels`` for the levels at strides 4, 8, 16, 32.
DEFAULT_INTERMEDIATE = (256, 512, 1024, 1024)
#: ``"project"`` is the paper's name for smp's ``"cat"``.
READOUTS = ("ignore", "add", "cat", "project")
MAX_LEVELS = 4


class ReadoutProject(nn.Module):
    """Concatenate the first prefix (class) token to every position, then Linear + GELU back to ``C``.

    Without prefix tokens (CNN encoders) it is a per-position Linear + GELU (smp's layout).
    """

    def __init__(self, channels: int, with_tokens: bool) -> None:
        super().__init__()
        self.with_tokens = with_tokens
        self.project = nn.Sequential(nn.Linear(channels * (2 if with_tokens else 1), channels), nn.GELU())

    def forward(self, x: torch.Tensor, tokens: torch.Tensor | None) -> torch.Tensor:
        y = x.movedim(1, -1)
        if self.with_tokens:
            if tokens is None:
                raise RuntimeError("DPT readout 'cat' was built for prefix tokens but the encoder returned none")
            cls = tokens[:, 0].reshape(tokens.shape[0], *([1] * (y.dim() - 2)), tokens.shape[-1])
            y = torch.cat([y, cls.expand_as(y)], dim=-1)
        return self.project(y).movedim(-1, 1)


class ReadoutAdd(nn.Module):
    """Add the mean of the prefix tokens to every position (no parameters)."""

    def forward(self, x: torch.Tensor, tokens: torch.Tensor | None) -> torch.Tensor:
        if tokens is None:
            return x
        return x + tokens.mean(dim=1).reshape(x.shape[0], x.shape[1], *([1] * (x.dim() - 2)))


class ReadoutIgnore(nn.Module):
    """Drop the prefix tokens."""

    def forward(self, x: torch.Tensor, tokens: torch.Tensor | None) -> torch.Tensor:
        return x


class ReassembleBlock(nn.Sequential):
    """1x1 conv to the intermediate width, then 3x3 conv (no bias) to the fusion width.

    smp's block has a learned resampling between the two (transposed conv x4, x2, identity,
    stride-2 conv) because its ViT maps are all at the patch stride; seg's encoders deliver
    every level at its own stride already (the ViT adapter resizes the token maps), so the
    resampling is the identity here.
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, spatial_dims: int) -> None:
        conv_cls = conv(spatial_dims)
        super().__init__(
            conv_cls(in_channels, mid_channels, 1),
            conv_cls(mid_channels, out_channels, 3, padding=1, bias=False),
        )


class ResidualConvBlock(nn.Module):
    """ReLU, 3x3 conv, BN, ReLU, 3x3 conv, BN, plus the input."""

    def __init__(self, channels: int, spatial_dims: int) -> None:
        super().__init__()
        conv_cls = conv(spatial_dims)
        self.conv_1 = conv_cls(channels, channels, 3, padding=1, bias=False)
        self.batch_norm_1 = get_norm("batchnorm", channels, spatial_dims)
        self.conv_2 = conv_cls(channels, channels, 3, padding=1, bias=False)
        self.batch_norm_2 = get_norm("batchnorm", channels, spatial_dims)
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.batch_norm_1(self.conv_1(self.activation(x)))
        y = self.batch_norm_2(self.conv_2(self.activation(y)))
        return y + x


class FusionBlock(nn.Module):
    """Residual unit, add the coarser fused map, residual unit, upsample to the next level, 1x1 conv."""

    def __init__(self, channels: int, spatial_dims: int) -> None:
        super().__init__()
        self.mode = resolve_mode("bilinear", spatial_dims)
        self.residual_conv_block1 = ResidualConvBlock(channels, spatial_dims)
        self.residual_conv_block2 = ResidualConvBlock(channels, spatial_dims)
        self.project = conv(spatial_dims)(channels, channels, 1)

    def forward(self, x: torch.Tensor, previous: torch.Tensor | None, size: Sequence[int]) -> torch.Tensor:
        x = self.residual_conv_block1(x)
        if previous is not None:
            x = x + previous
        x = self.residual_conv_block2(x)
        return self.project(resize(x, size, self.mode))


class DPTDecoder(nn.Module):
    """DPT decoder on the deepest (up to four) non-empty pyramid levels.

    Readout (prefix tokens), reassemble to ``fusion_channels``, then fusion from the deepest level
    up, each fusion block upsampling to the next finer level; the last one upsamples to the level
    below the finest used level (``output_level``). A 3x3 conv-BN-ReLU and dropout 0.1 follow
    (smp's head block, here in the decoder); the model's head is the final 1x1 convolution.
    """

    def __init__(
        self,
        encoder_channels: Sequence[int],
        *,
        spatial_dims: int = 2,
        readout: str = "cat",
        with_tokens: bool = False,
        intermediate_channels: Sequence[int] | None = None,
        fusion_channels: int = 256,
    ) -> None:
        super().__init__()
        self.levels = [lv for lv in range(1, len(encoder_channels)) if int(encoder_channels[lv]) > 0][-MAX_LEVELS:]
        self.output_level = self.levels[0] - 1
        widths = [int(encoder_channels[lv]) for lv in self.levels]
        mids = list(DEFAULT_INTERMEDIATE[: len(widths)] if intermediate_channels is None else intermediate_channels)
        if len(mids) != len(widths):
            raise ConfigError(
                f"decoder_intermediate_channels needs one width per used level ({len(widths)}: levels "
                f"{self.levels}), got {len(mids)}: {mids}"
            )
        for m in mids:
            check_positive("decoder_intermediate_channels", m)
        if readout in ("cat", "project"):
            self.projection_blocks = nn.ModuleList(ReadoutProject(c, with_tokens) for c in widths)
        elif readout == "add":
            self.projection_blocks = nn.ModuleList(ReadoutAdd() for _ in widths)
        else:
            self.projection_blocks = nn.ModuleList(ReadoutIgnore() for _ in widths)
        self.reassemble_blocks = nn.ModuleList(
            ReassembleBlock(c, m, fusion_channels, spatial_dims) for c, m in zip(widths, mids)
        )
        self.fusion_blocks = nn.ModuleList(FusionBlock(fusion_channels, spatial_dims) for _ in widths)
        self.head_block = nn.Sequential(
            conv(spatial_dims)(fusion_channels, fusion_channels, 3, padding=1, bias=False),
            get_norm("batchnorm", fusion_channels, spatial_dims),
            nn.ReLU(inplace=True),
            nn.Dropout(p=0.1),
        )
        self.out_channels = fusion_channels

    def forward(
        self, features: list[torch.Tensor], prefix_tokens: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        tokens: Sequence[torch.Tensor | None] = [None] * len(self.levels)
        if prefix_tokens is not None:
            tokens = list(prefix_tokens)[-len(self.levels) :]
        maps = [
            block(readout(features[lv], tok))
            for lv, readout, block, tok in zip(self.levels, self.projection_blocks, self.reassemble_blocks, tokens)
        ]
        targets = [features[lv - 1].shape[2:] for lv in self.levels]
        fused: torch.Tensor | None = None
        for block, x, size in zip(self.fusion_blocks, maps[::-1], targets[::-1]):
            fused = block(x, fused, size)
        assert fused is not None
        return self.head_block(fused)


@architecture(
    ArchitectureSpec(
        "dpt",
        "Dense Prediction Transformer: reassemble and fusion, with prefix-token readout",
        paper="arXiv:2103.13413",
        requires=Requirements(min_depth=1),
        smp_class="DPT",
        smp_weights=False,  # no learned resize layers: the ViT adapter gives every level its stride
    )
)
class DPT(SegmentationModel):
    """DPT: readout, reassemble and residual fusion of the deepest four pyramid levels.

    Works with plain ViTs (the readout uses their class/register tokens), hierarchical
    transformers and CNNs (smp: timm ViTs only). With the default ``encoder_depth=5`` the
    used levels are 2 .. 5 (strides 4 .. 32), as in smp's 4-tap DPT. The blocks are
    dimension-generic: 2D and 3D (the prefix-token readout needs a ViT, so 2D).

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp:
            ``"tu-vit_base_patch16_224.augreg_in21k"``).
        decoder_readout: What to do with the prefix tokens: ``"ignore"``, ``"add"`` (add their
            mean) or ``"cat"`` (alias ``"project"``: concatenate the class token, Linear + GELU).
            Encoders without prefix tokens: ``"cat"`` is a per-position Linear + GELU, ``"add"``
            does nothing.
        decoder_intermediate_channels: Width after the 1x1 reassemble conv, one per used level
            (None: smp's ``(256, 512, 1024, 1024)``, truncated to the number of levels).
        decoder_fusion_channels: Width of the fusion blocks (smp: 256).
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import DPT
        >>> model = DPT("basic_cnn", encoder_depth=4, decoder_intermediate_channels=(8, 8, 16, 16),
        ...             decoder_fusion_channels=16)
    """

    def __init__(
        self,
        encoder_name: str = DEFAULT_ENCODER,
        *,
        decoder_readout: str = "cat",
        decoder_intermediate_channels: Sequence[int] | None = None,
        decoder_fusion_channels: int = 256,
        **kwargs: Unpack[ModelArgs],
    ) -> None:
        super().__init__()
        if decoder_readout not in READOUTS:
            raise ConfigError(f"decoder_readout must be one of {list(READOUTS)}, got {decoder_readout!r}")
        check_positive("decoder_fusion_channels", decoder_fusion_channels)
        encoder: Any = self.build_encoder(encoder_name, kwargs)
        self._with_tokens = (
            decoder_readout != "ignore"
            and bool(encoder.capabilities.has_prefix_tokens)
            and callable(getattr(encoder, "forward_with_prefix_tokens", None))
        )
        if self._with_tokens and self._model_args["encoder_channels"] is not None:
            raise ConfigError(
                f"decoder_readout={decoder_readout!r} combines the prefix tokens with the maps, which needs the "
                "encoder's own widths: drop encoder_channels or use decoder_readout='ignore'"
            )
        self.decoder = DPTDecoder(
            encoder.out_channels,
            spatial_dims=encoder.spatial_dims,
            readout=decoder_readout,
            with_tokens=self._with_tokens and decoder_readout != "add",
            intermediate_channels=decoder_intermediate_channels,
            fusion_channels=decoder_fusion_channels,
        )
        self.build_heads(decoder_fusion_channels, kernel_size=1, output_level=self.decoder.output_level)
        self.initialize()

    def forward(self, x: torch.Tensor) -> Any:
        """Run the model; with a ViT and a token readout the encoder also returns its prefix tokens.

        Returns:
            Masks ``(N, classes, *spatial)``, or ``(masks, labels)`` with an aux head.
        """
        if not self._with_tokens:
            return super().forward(x)
        crop: tuple[int, ...] | None = None
        if not is_tracing():
            self.check_input_shape(x)
        if self.input_padding:
            x, crop = self._pad(x)
        encoder: Any = self.encoder
        features, tokens = encoder.forward_with_prefix_tokens(x)
        masks = self.segmentation_head(self.decoder(features, tokens))
        if crop is not None and tuple(masks.shape[2:]) != crop:
            index = (Ellipsis, *[slice(0, s) for s in crop])
            masks = masks[index]
        if self.classification_head is not None:
            return masks, self.classification_head(features[-1])
        return masks
