"""Channel bookkeeping shared by the U-shaped decoders (Unet, Unet++, MAnet)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from seg_core.checkpointing import run_checkpointed
from seg_core.errors import ConfigError

DEFAULT_DECODER_CHANNELS = (256, 128, 64, 32, 16)


def resolve_decoder_channels(decoder_channels: Sequence[int] | None, depth: int) -> list[int]:
    """``decoder_channels`` or, when None, smp's ``(256, 128, 64, 32, 16)`` cut to ``depth`` blocks.

    Raises:
        ConfigError: Wrong length or non-positive widths.
    """
    if decoder_channels is None:
        if depth > len(DEFAULT_DECODER_CHANNELS):
            raise ConfigError(f"encoder_depth={depth} needs decoder_channels with {depth} entries")
        return list(DEFAULT_DECODER_CHANNELS[:depth])
    if isinstance(decoder_channels, (str, bytes)) or not isinstance(decoder_channels, Sequence):
        raise ConfigError(f"decoder_channels must be a sequence of ints, got {decoder_channels!r}")
    values = list(decoder_channels)
    if len(values) != depth:
        raise ConfigError(
            f"encoder_depth is {depth}, but decoder_channels has {len(values)} entries ({values}): "
            f"give one width per decoder block, e.g. {list(DEFAULT_DECODER_CHANNELS[:depth])}"
        )
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 1]
    if bad:
        raise ConfigError(f"decoder_channels must be ints >= 1, got {values}")
    return values


def block_channels(encoder_channels: Sequence[int], decoder_channels: Sequence[int]) -> tuple[list[int], list[int]]:
    """Input and skip widths of each block, deepest first (smp's layout).

    Block ``i`` takes the previous output (or the deepest encoder map) and the
    encoder map of level ``depth - 1 - i`` as skip (none for the last block).
    """
    reversed_channels = list(encoder_channels[1:])[::-1]
    in_channels = [reversed_channels[0], *decoder_channels[:-1]]
    skip_channels = [*reversed_channels[1:], 0]
    return in_channels, skip_channels


def skip_plan(features: Sequence[Any]) -> tuple[Any, list[Any], list[Any]]:
    """Split encoder maps into ``(head, skips, target sizes)`` deepest first.

    ``target sizes[i]`` is the spatial size block ``i`` must produce: that of the
    next shallower level (the input size for the last block).
    """
    head = features[-1]
    skips = list(features[1:-1])[::-1]
    sizes = [tuple(f.shape[2:]) for f in features[:-1]][::-1]
    return head, skips, sizes


def decode_u_shaped(center: Any, blocks: Iterable[Any], features: Sequence[Any], *, checkpointing: bool = False) -> Any:
    """Run a U-shaped decoder: ``center`` on the deepest map, then each block with its skip and size.

    Block ``i`` gets the previous output, the target size of its level and the skip of
    that level (None for the last block), as laid out by `skip_plan`.
    """
    return decode_u_shaped_stages(center, blocks, features, checkpointing=checkpointing)[-1]


def decode_u_shaped_stages(
    center: Any, blocks: Iterable[Any], features: Sequence[Any], *, checkpointing: bool = False
) -> list[Any]:
    """`decode_u_shaped`, returning every block's output (deepest first; the last is the decoder output).

    With ``checkpointing``, each block's activations are recomputed in the backward pass
    (`seg_core.checkpointing.run_checkpointed`).
    """
    head, skips, sizes = skip_plan(features)
    x = center(head)
    outputs = []
    for i, block in enumerate(blocks):
        x = run_checkpointed(block, x, sizes[i], skips[i] if i < len(skips) else None, enabled=checkpointing)
        outputs.append(x)
    return outputs
