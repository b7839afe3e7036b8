"""Feature-pyramid adapter: any multi-scale backbone as a classic encoder pyramid.

A decoder expects ``depth + 1`` maps at reductions ``1, 2, 4, ..., 2**depth``.
Backbones give K maps with their own channels and reductions: ConvNeXt starts
at stride 4, a ViT gives several maps at stride 16, PiT gives 7/14/28.
`FeaturePyramidAdapter` selects maps, places each at the pyramid level
of its reduction, pads missing shallow levels with zero-channel maps, resamples
only maps whose reduction is not a free power of two, and optionally projects
channels with 1x1 convolutions. Everything it does is reported in
`FeaturePyramidAdapter.features_info` and ``features_info_str``: no
resampling is silent, and ``out_channels`` always equals what is emitted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from seg_core.encoder import EncoderMixin
from seg_core.errors import ConfigError, IncompatibleEncoderError
from seg_core.layers import conv, interpolation_mode

__all__ = ["FeatureLevel", "FeaturePyramidAdapter", "IndicesSpec", "check_pyramid", "parse_indices", "plan_pyramid"]

logger = logging.getLogger(__name__)

IndicesSpec = Union[str, Sequence[int], None]


@dataclass(frozen=True)
class FeatureLevel:
    """One row of the adapter's report.

    Attributes:
        index: Position in the backbone's feature list (None for a padded level).
        module: Backbone module that produced the map (None if unknown/padded).
        backbone_channels: Channels as produced by the backbone.
        backbone_reduction: Reduction as produced by the backbone.
        selected: Whether the map is used.
        level: Pyramid level it feeds (1..depth), or None when not selected.
        channels: Channels emitted at that level.
        reduction: Reduction emitted at that level (``2**level``).
        resample: How the map is resized (``"bilinear x4 up"``), None if untouched.
        projection: ``"1x1 conv 768->256"`` when channels are reduced, else None.
    """

    index: int | None
    module: str | None
    backbone_channels: int | None
    backbone_reduction: int | None
    selected: bool
    level: int | None
    channels: int | None
    reduction: int | None
    resample: str | None = None
    projection: str | None = None

    @property
    def padded(self) -> bool:
        """True for a zero-channel map standing in for a missing level."""
        return self.index is None


@dataclass(frozen=True)
class _Plan:
    depth: int
    selected: tuple[int, ...]
    targets: tuple[int, ...]  # target reduction per selected feature


def _nearest_pow2(value: float) -> int:
    return 2 ** max(0, round(math.log2(value)))


def parse_indices(
    indices: Sequence[int], count: int, *, owner: str = "the backbone", unit: str = "feature map"
) -> list[int]:
    """Validate an explicit ``encoder_indices`` list against ``count`` items.

    Args:
        indices: Positions; negative ones count from the end.
        count: How many items exist.
        owner: Who has them, for messages (``"the backbone"``, ``"the model"``).
        unit: What they are, for messages (``"feature map"``, ``"block"``).

    Returns:
        The sorted, distinct, non-negative positions.

    Raises:
        ConfigError: Not a list of ints, empty, out of range or repeated.
    """
    try:
        raw = [int(i) for i in indices]
    except (TypeError, ValueError):
        raise ConfigError(f"encoder_indices must be 'first', 'last' or a list of ints, got {indices!r}") from None
    if not raw:
        raise ConfigError("encoder_indices must not be empty")
    bad = [i for i in raw if not -count <= i < count]
    if bad:
        raise ConfigError(
            f"encoder_indices {bad} out of range: {owner} has {count} {unit}s "
            f"(valid positions 0..{count - 1} or -{count}..-1)"
        )
    positions = sorted({i % count for i in raw})
    if len(positions) != len(raw):
        raise ConfigError(f"encoder_indices must not repeat a {unit}, got {list(indices)}")
    return positions


def plan_pyramid(
    reductions: Sequence[int], depth: int, indices: IndicesSpec = "first"
) -> tuple[int, list[int], list[int]]:
    """Decide which backbone maps feed which pyramid level.

    Args:
        reductions: Reduction of each backbone map, shallow to deep.
        depth: Requested depth (number of levels after the input).
        indices: ``"first"`` (the maps up to reduction ``2**depth``), ``"last"``
            (the same number of maps, deepest ones), or explicit positions.

    Returns:
        ``(depth, selected positions, target reduction of each selected map)``. The
        returned depth is ``log2`` of the deepest target reduction.

    Raises:
        ConfigError: Invalid indices, or more maps than levels below the deepest one.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ConfigError(f"encoder_depth must be an int >= 1, got {depth!r}")
    count = len(reductions)
    if count == 0:
        raise ConfigError("the backbone reports no feature maps")
    usable = [i for i, r in enumerate(reductions) if r > 1]  # a stride-1 map duplicates the input slot
    if indices is None or indices in ("first", "last"):
        within = [i for i in usable if _nearest_pow2(reductions[i]) <= 2**depth]
        n = len(within) if within else min(depth, len(usable))
        # all maps coarser than 2**depth (plain ViTs at depth 3): honour the requested depth
        cap = 2**depth if not within else None
        if n == 0:
            raise ConfigError(f"the backbone has no map below the input resolution (reductions {list(reductions)})")
        selected = usable[:n] if indices in (None, "first") else usable[-n:]
    elif isinstance(indices, str):
        raise ConfigError(f"encoder_indices must be 'first', 'last' or a list of ints, got {indices!r}")
    else:
        cap = None
        selected = parse_indices(indices, count)
        ones = [i for i in selected if reductions[i] <= 1]
        if ones:
            raise ConfigError(
                f"encoder_indices {ones} select stride-1 maps; level 0 of the pyramid is the input itself, "
                "so only maps with reduction >= 2 can be selected"
            )
    targets = [0] * len(selected)
    for pos in range(len(selected) - 1, -1, -1):
        natural = _nearest_pow2(reductions[selected[pos]])
        if pos == len(selected) - 1:
            targets[pos] = natural if cap is None else min(natural, cap)
        else:
            targets[pos] = min(natural, targets[pos + 1] // 2)
        if targets[pos] < 2:
            raise ConfigError(
                f"cannot place {len(selected)} maps with reductions "
                f"{[reductions[i] for i in selected]} on distinct pyramid levels below reduction "
                f"{targets[-1]}: select fewer maps with encoder_indices"
            )
    return int(math.log2(targets[-1])), selected, targets


class FeaturePyramidAdapter(nn.Module, EncoderMixin):
    """Wrap a backbone that returns K maps into the classic encoder pyramid.

    Args:
        backbone: Module returning a list/tuple of K tensors for an input ``x``.
        channels: Channels of each backbone map.
        reductions: Reduction (stride) of each backbone map.
        module_names: Name of the module producing each map (for the report).
        in_channels: Input channels.
        depth: Requested depth; adjusted to ``log2`` of the deepest selected reduction.
        indices: ``"first"``, ``"last"`` or a list of backbone positions.
        encoder_channels: Optional output channels, one per selected map (or one per
            level, 0 at padded levels); differing widths get a 1x1 convolution.
        spatial_dims: 2 or 3.
        interpolation: Mode used to resample maps whose reduction must change.
        feature_format: ``"NCHW"`` (channels first) or ``"NHWC"`` for backbones that
            return channels-last maps (Swin-like); those are converted to channels first.
        output_stride: For a backbone dilated to output stride 8/16: give ``reductions``
            as the undilated strides (for placement) and the actual output stride here;
            maps deeper than it keep its resolution and ``reductions`` report it.

    Raises:
        ConfigError: Inconsistent channels/reductions, bad indices or encoder_channels.

    Example:
        >>> adapter = FeaturePyramidAdapter(backbone, channels=[96, 192, 384, 768],
        ...                                 reductions=[4, 8, 16, 32])  # doctest: +SKIP
        >>> adapter.out_channels  # doctest: +SKIP
        [3, 0, 96, 192, 384, 768]
    """

    def __init__(
        self,
        backbone: nn.Module,
        channels: Sequence[int],
        reductions: Sequence[int],
        *,
        module_names: Sequence[str | None] | None = None,
        in_channels: int = 3,
        depth: int = 5,
        indices: IndicesSpec = "first",
        encoder_channels: Sequence[int] | None = None,
        spatial_dims: int = 2,
        interpolation: str = "bilinear",
        feature_format: str = "NCHW",
        output_stride: int | None = None,
    ) -> None:
        super().__init__()
        if output_stride is not None and output_stride not in (8, 16, 32):
            raise ConfigError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if feature_format not in ("NCHW", "NHWC"):
            raise ConfigError(f"feature_format must be 'NCHW' or 'NHWC', got {feature_format!r}")
        self._channels_last = feature_format == "NHWC"
        if len(channels) != len(reductions):
            raise ConfigError(
                f"channels ({len(channels)} entries) and reductions ({len(reductions)}) must describe the same maps"
            )
        if module_names is not None and len(module_names) != len(channels):
            raise ConfigError(f"module_names needs {len(channels)} entries, got {len(module_names)}")
        self.backbone = backbone
        self._backbone_channels = [int(c) for c in channels]
        self._backbone_reductions = [int(r) for r in reductions]
        self._module_names = list(module_names) if module_names is not None else [None] * len(channels)
        self._spatial_dims = spatial_dims
        self._mode = interpolation_mode(interpolation, spatial_dims)
        self._in_channels = in_channels
        self._requested_depth = depth
        self._supports_dilation = False
        if output_stride is not None:
            self._output_stride = output_stride

        new_depth, selected, targets = plan_pyramid(self._backbone_reductions, depth, indices)
        if new_depth != depth:
            logger.info(
                "encoder depth adjusted from %d to %d (log2 of the deepest selected reduction %d)",
                depth,
                new_depth,
                targets[-1],
            )
        self._depth = new_depth
        self._selected = selected
        self._level_of = {idx: int(math.log2(t)) for idx, t in zip(selected, targets)}
        widths = self._resolve_widths(encoder_channels, selected)

        projections: dict[str, nn.Module] = {}
        level_channels = [0] * (new_depth + 1)
        level_channels[0] = in_channels
        for idx in selected:
            level = self._level_of[idx]
            level_channels[level] = widths[idx]
            if widths[idx] != self._backbone_channels[idx]:
                projections[str(idx)] = conv(spatial_dims)(self._backbone_channels[idx], widths[idx], kernel_size=1)
        self.projections = nn.ModuleDict(projections)
        self._out_channels = level_channels
        self._widths = widths
        # level -> backbone index (or -1 for padding); a plain list keeps forward export-friendly
        self._level_source = [-1] * (new_depth + 1)
        for idx in selected:
            self._level_source[self._level_of[idx]] = idx

    def _resolve_widths(self, encoder_channels: Sequence[int] | None, selected: list[int]) -> dict[int, int]:
        if encoder_channels is None:
            return {i: self._backbone_channels[i] for i in selected}
        values = [int(c) for c in encoder_channels]
        if len(values) == len(selected):
            pairs = dict(zip(selected, values))
        elif len(values) == self._depth:
            pairs = {}
            for level, value in enumerate(values, start=1):
                source = next((i for i in selected if self._level_of[i] == level), None)
                if source is None and value != 0:
                    raise ConfigError(
                        f"encoder_channels[{level - 1}]={value} but pyramid level {level} has no backbone map "
                        "(it is a zero-channel padding level); use 0 there or give one value per selected map"
                    )
                if source is not None:
                    pairs[source] = value
        else:
            raise ConfigError(
                f"encoder_channels needs one value per selected map ({len(selected)}) or per pyramid level "
                f"({self._depth}), got {len(values)}: {values}"
            )
        bad = {i: v for i, v in pairs.items() if v < 1}
        if bad:
            raise ConfigError(f"encoder_channels must be >= 1 for selected maps, got {list(bad.values())}")
        return pairs

    @property
    def features_info(self) -> list[FeatureLevel]:
        """One record per backbone map and per padded level, ordered by level."""
        rows: list[FeatureLevel] = []
        for idx, (ch, red) in enumerate(zip(self._backbone_channels, self._backbone_reductions)):
            level = self._level_of.get(idx)
            if level is None:
                rows.append(FeatureLevel(idx, self._module_names[idx], ch, red, False, None, None, None))
                continue
            target = 2**level
            resample = None
            if target != red:
                factor = red / target
                direction = "up" if factor > 1 else "down"
                ratio = factor if factor > 1 else 1 / factor
                text = f"{ratio:g}"
                resample = f"{self._mode} x{text} {direction} (stride {red} -> {target})"
            projection = f"1x1 conv {ch}->{self._widths[idx]}" if str(idx) in self.projections else None
            rows.append(
                FeatureLevel(
                    idx, self._module_names[idx], ch, red, True, level, self._widths[idx], target, resample, projection
                )
            )
        for level in range(1, self._depth + 1):
            if self._level_source[level] == -1:
                rows.append(FeatureLevel(None, None, None, None, True, level, 0, 2**level))

        def order(row: FeatureLevel) -> tuple[int, int]:
            reduction = row.reduction if row.padded else row.backbone_reduction
            return (int(reduction or 0), -1 if row.index is None else row.index)

        return sorted(rows, key=order)

    @property
    def features_info_str(self) -> str:
        """The report as a table: index/module -> backbone feature -> selected -> adapted."""
        head = ("index / module", "backbone feature", "selected", "adapted")
        lines: list[tuple[str, str, str, str]] = []
        for row in self.features_info:
            if row.padded:
                lines.append(("-", "-", "padding", f"level {row.level}: 0 ch, hw/{row.reduction} (zero-channel)"))
                continue
            left = f"{row.index} / {row.module or '?'}"
            feat = f"{row.backbone_channels} ch, hw/{row.backbone_reduction}"
            if not row.selected:
                lines.append((left, feat, "no", "-"))
                continue
            adapted = f"level {row.level}: {row.channels} ch, hw/{row.reduction}"
            notes = [n for n in (row.resample, row.projection) if n]
            if notes:
                adapted += " [" + "; ".join(notes) + "]"
            lines.append((left, feat, "yes", adapted))
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
        fmt = " | ".join(f"{{:<{w}}}" for w in widths)
        out = [fmt.format(*head), "-+-".join("-" * w for w in widths)]
        out += [fmt.format(*line) for line in lines]
        return "\n".join(out)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.backbone(x)
        if len(feats) != len(self._backbone_channels):
            raise RuntimeError(
                f"backbone returned {len(feats)} maps but was declared with {len(self._backbone_channels)}"
            )
        spatial = x.shape[2:]
        out: list[torch.Tensor] = [x]
        for level in range(1, self._depth + 1):
            size = [-(-int(s) // min(2**level, self._output_stride)) for s in spatial]
            idx = self._level_source[level]
            if idx < 0:
                out.append(x.new_zeros((x.shape[0], 0, *size)))
                continue
            feat = feats[idx]
            if self._channels_last:
                feat = rearrange(feat, "b ... c -> b c ...")
            if self._backbone_reductions[idx] != 2**level:
                align = None if self._mode in ("nearest", "nearest-exact", "area") else False
                feat = F.interpolate(feat, size=size, mode=self._mode, align_corners=align)
            key = str(idx)
            if key in self.projections:
                feat = self.projections[key](feat)
            out.append(feat)
        return out


def check_pyramid(
    out_channels: Sequence[int],
    reductions: Sequence[int],
    *,
    consumer: str,
    min_depth: int = 1,
    max_depth: int | None = None,
    nonzero_levels: Sequence[int] = (),
) -> None:
    """Raise a clear error if a decoder cannot use an encoder's pyramid.

    Args:
        out_channels: The encoder's ``out_channels``.
        reductions: The encoder's ``reductions``.
        consumer: Name of the decoder, for the message.
        min_depth: Fewest levels the decoder needs.
        max_depth: Most levels it can use.
        nonzero_levels: Levels (negative = from the deepest) that must carry channels.

    Raises:
        IncompatibleEncoderError: With the reason and what to do instead.
    """
    depth = len(reductions) - 1
    if len(out_channels) != len(reductions):
        raise IncompatibleEncoderError(
            f"{consumer}: encoder reports {len(out_channels)} channel entries but {len(reductions)} reductions"
        )
    if reductions[0] != 1:
        raise IncompatibleEncoderError(
            f"{consumer}: the first map must be the input (reduction 1), got {list(reductions)}"
        )
    if depth < min_depth:
        raise IncompatibleEncoderError(f"{consumer} needs encoder_depth >= {min_depth}, the encoder has depth {depth}")
    if max_depth is not None and depth > max_depth:
        raise IncompatibleEncoderError(
            f"{consumer} supports encoder_depth <= {max_depth}, the encoder has depth {depth}"
        )
    for i in range(1, len(reductions)):
        prev, cur = reductions[i - 1], reductions[i]
        if cur < prev or cur % prev:
            raise IncompatibleEncoderError(
                f"{consumer}: reductions {list(reductions)} are not a pyramid (level {i} is not a multiple of "
                f"level {i - 1}); wrap the backbone with FeaturePyramidAdapter"
            )
        if cur != prev:
            continue
        start = min(j for j in range(1, i + 1) if reductions[j] == reductions[j - 1])  # first repeat
        dilated_tail = cur == reductions[-1] and all(reductions[j] == 2**j for j in range(start))
        if not dilated_tail:
            raise IncompatibleEncoderError(
                f"{consumer}: reductions {list(reductions)} repeat stride {cur} before the deepest level; "
                "equal-stride maps (plain ViTs) need the ViT adapter or FeaturePyramidAdapter to form a pyramid"
            )
    for level in nonzero_levels:
        if out_channels[level] == 0:
            raise IncompatibleEncoderError(
                f"{consumer} needs features at level {level % len(out_channels)} (reduction "
                f"{reductions[level]}), but the encoder has none there (0 channels)"
            )
