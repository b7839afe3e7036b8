"""UNet++ (Zhou et al., 2018) for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from seg_core.building import DEFAULT_ENCODER
from seg_core.model import SegmentationModel
from seg_core.spec import ArchitectureSpec, architecture
from seg_decoders._blocks import check_attention, resolve_mode
from seg_decoders._unet_blocks import block_channels, resolve_decoder_channels
from seg_decoders.unet import UnetCenterBlock, UnetDecoderBlock

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_core.building import ModelArgs

__all__ = ["UnetPlusPlus", "UnetPlusPlusDecoder"]


class _NestedBlock(UnetDecoderBlock):
    """A U-Net block (`UnetDecoderBlock`) that may be empty.

    A block with ``out_channels == 0`` (it would sit on a zero-channel level) is
    empty: it has no parameters and returns a zero-channel map of the right size.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, **options: Any) -> None:
        if out_channels == 0:
            nn.Module.__init__(self)
        else:
            super().__init__(in_channels, skip_channels, out_channels, **options)
        self.is_empty = out_channels == 0
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor, size: Sequence[int], skip: torch.Tensor | None = None) -> torch.Tensor:
        if self.is_empty:
            return x.new_zeros((x.shape[0], 0, *size))
        return super().forward(x, size, skip)


class UnetPlusPlusDecoder(nn.Module):
    """UNet++ decoder: nested blocks ``x_{i}_{j}`` (smp's keys) with dense skip connections.

    Node ``x_{i}_{j}`` produces the map at pyramid level ``depth - 1 - j``, resized
    to that level's exact size. Depth 1 is supported (smp fails with ``KeyError``).
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
        in_ch, skip_ch = block_channels(encoder_channels, decoder_channels)
        out_ch = list(decoder_channels)
        self.center: nn.Module = UnetCenterBlock(in_ch[0], spatial_dims, use_norm) if center else nn.Identity()
        kw: dict[str, Any] = {
            "spatial_dims": spatial_dims,
            "use_norm": use_norm,
            "attention_type": attention_type,
            "interpolation": interpolation,
        }
        blocks: dict[str, nn.Module] = {}
        n = len(in_ch)
        for layer in range(n - 1):
            for d in range(layer + 1):
                if d == 0:
                    cin, skip, cout = in_ch[layer], skip_ch[layer] * (layer + 1), out_ch[layer]
                else:
                    cin, skip, cout = skip_ch[layer - 1], skip_ch[layer] * (layer + 1 - d), skip_ch[layer]
                blocks[f"x_{d}_{layer}"] = _NestedBlock(cin, skip, cout, has_skip=True, **kw)
        blocks[f"x_0_{n - 1}"] = _NestedBlock(in_ch[-1], 0, out_ch[-1], has_skip=False, **kw)
        self.blocks = nn.ModuleDict(blocks)
        self.depth = n - 1

        # deep supervision: the finest-level nodes of the shallower nested U-Nets (the paper's X^{0,1..}),
        # shallowest first; they exist where that level has channels (not with a stride-4 stem)
        last = self.depth - 1
        self.supervised_nodes = [f"x_{d}_{last}" for d in range(last, 0, -1)]
        if self.supervised_nodes and skip_ch[last] > 0:  # encoder_depth >= 3, level 1 has channels
            self.deep_supervision_channels = [skip_ch[last]] * len(self.supervised_nodes)

    def _nodes(self, features: list[torch.Tensor]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Every nested node's output, and the final map."""
        feats = features[1:][::-1]
        sizes = [tuple(f.shape[2:]) for f in features[:-1]][::-1]
        feats = [self.center(feats[0]), *feats[1:]]
        dense: dict[str, torch.Tensor] = {}
        for layer in range(self.depth):
            for d in range(self.depth - layer):
                if layer == 0:
                    dense[f"x_{d}_{d}"] = self.blocks[f"x_{d}_{d}"](feats[d], sizes[d], feats[d + 1])
                else:
                    j = d + layer
                    cat = torch.cat([*(dense[f"x_{i}_{j}"] for i in range(d + 1, j + 1)), feats[j + 1]], dim=1)
                    dense[f"x_{d}_{j}"] = self.blocks[f"x_{d}_{j}"](dense[f"x_{d}_{j - 1}"], sizes[j], cat)
        last = dense[f"x_0_{self.depth - 1}"] if self.depth > 0 else feats[0]
        return dense, self.blocks[f"x_0_{self.depth}"](last, sizes[self.depth])

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        return self._nodes(features)[1]

    def forward_stages(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """The deep-supervision nodes (deepest nesting first; the model reverses them), then the output."""
        dense, out = self._nodes(features)
        return [*(dense[name] for name in reversed(self.supervised_nodes)), out]


@architecture(
    ArchitectureSpec(
        "unetplusplus",
        "UNet++: nested dense skip pathways",
        paper="arXiv:1807.10165",
        aliases=("unet++",),
        smp_class="UnetPlusPlus",
        deprecated_arguments={"decoder_use_batchnorm": "decoder_use_norm"},
        smp_defaults={"decoder_channels": (256, 128, 64, 32, 16)},
    )
)
class UnetPlusPlus(SegmentationModel):
    """UNet++: U-Net with nested, densely connected skip pathways and a 3x3 head.

    Any input size works (every node resizes to its level's size). Levels with
    zero channels (stride-4 stems) get empty nodes, as in smp.

    With ``deep_supervision=True`` (the paper's deep supervision, smp #707 / #850), the
    finest-level nodes of the shallower nested U-Nets (X^{0,1}, X^{0,2}, ...) each get a 1x1
    head: in training mode, or with ``model.return_aux = True``, ``forward`` returns ``{"out":
    masks, "deep_supervision": [X^{0,1} logits, X^{0,2} logits, ...]}`` at level 1's resolution
    (half the input; seg-train's ``deep_supervision`` loss resizes the target). It needs
    ``encoder_depth >= 3`` and channels at level 1.

    Args:
        encoder_name: Registered encoder (default ``"basic_cnn"``; smp: ``"resnet34"``).
        decoder_use_norm: Norm of the blocks (``"batchnorm"``, ``"groupnorm"``, ...).
        decoder_channels: Width of each column-0 node, deepest first; None = smp's
            ``(256, 128, 64, 32, 16)`` cut to ``encoder_depth``.
        decoder_attention_type: None or ``"scse"``.
        decoder_interpolation: Upsampling mode.
        **kwargs: The shared encoder and head arguments, [`ModelArgs`][seg_core.building.ModelArgs].

    Raises:
        ConfigError: An invalid argument (the message names it).
        IncompatibleEncoderError: The encoder's pyramid cannot feed this decoder.

    Example:
        >>> from seg_decoders import UnetPlusPlus
        >>> model = UnetPlusPlus("basic_cnn", encoder_depth=3, decoder_channels=(32, 16, 8))
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
        _, skips = block_channels(encoder.out_channels, channels)
        widths = [c for c in [*channels, *skips[:-1]] if c > 0]
        check_attention(decoder_attention_type, widths)
        self.decoder = UnetPlusPlusDecoder(
            encoder.out_channels,
            channels,
            spatial_dims=dims,
            use_norm=decoder_use_norm,
            attention_type=decoder_attention_type,
            interpolation=resolve_mode(decoder_interpolation, dims),
            center=encoder_name.startswith("vgg"),
        )
        self.build_heads(channels[-1], kernel_size=3, output_level=0)
        self.initialize()
