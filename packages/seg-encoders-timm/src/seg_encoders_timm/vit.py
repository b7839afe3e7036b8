"""The ViT adapter: plain transformers (vit, deit, eva, dinov2, beit...) as a seg encoder pyramid.

Plain transformers give every block's tokens at the patch stride. The adapter taps
some blocks (``forward_intermediates``, else ``get_intermediate_layers``), drops
prefix tokens (class and register tokens), and resizes each tapped map so that the
taps form the classic pyramid ``1, 2, 4, ..., 2**depth``.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seg_core.encoder import EncoderMixin
from seg_core.errors import ConfigError
from seg_core.pyramid import IndicesSpec, parse_indices
from seg_encoders_timm._probe import WEIGHT_ARGUMENTS, Probe, meta_forward_error, option_error
from seg_encoders_timm._weights import check_file_matches

__all__ = ["TimmViTEncoder", "default_scale_factors", "default_taps"]

logger = logging.getLogger(__name__)


def default_taps(blocks: int, count: int, indices: IndicesSpec = None) -> list[int]:
    """Choose which blocks feed the pyramid.

    Args:
        blocks: Number of transformer blocks.
        count: Number of taps wanted (the depth).
        indices: None (spread evenly, the last block included), ``"first"``, ``"last"``
            or explicit block indices (negative counts from the end).

    Returns:
        Sorted, distinct block indices.

    Raises:
        ConfigError: Out-of-range or repeated indices, or more taps than blocks.
    """
    if isinstance(indices, str) and indices not in ("first", "last"):
        raise ConfigError(f"encoder_indices must be 'first', 'last' or a list of block indices, got {indices!r}")
    if indices is None or isinstance(indices, str):
        if count > blocks:
            raise ConfigError(
                f"encoder_depth={count} needs {count} transformer blocks but the model has {blocks}; "
                f"use encoder_depth <= {blocks}"
            )
        if indices == "first":
            return list(range(count))
        if indices == "last":
            return list(range(blocks - count, blocks))
        return [blocks * (k + 1) // count - 1 for k in range(count)]
    return parse_indices(indices, blocks, owner="the model", unit="block")


def default_scale_factors(patch_size: int, levels: Sequence[int]) -> list[float]:
    """Scale factor that brings a patch-stride map to reduction ``2**level`` (16, level 1 -> 8)."""
    return [patch_size / 2**level for level in levels]


def _levels_from_scale_factors(patch_size: int, scale_factors: Sequence[float]) -> list[int]:
    levels = []
    for s in scale_factors:
        if not isinstance(s, (int, float)) or isinstance(s, bool) or s <= 0:
            raise ConfigError(f"scale_factors must be positive numbers, got {list(scale_factors)}")
        levels.append(round(math.log2(patch_size / s)))
    if any(level < 1 for level in levels) or any(b <= a for a, b in itertools.pairwise(levels)):
        raise ConfigError(
            f"scale_factors {list(scale_factors)} with patch size {patch_size} give reductions "
            f"{[patch_size / s for s in scale_factors]}; they must decrease strictly so that each tap lands on its own "
            f"pyramid level with reduction >= 2 (default for this patch size: "
            f"{default_scale_factors(patch_size, range(1, len(levels) + 1))})"
        )
    return levels


def _tap_widths(channels: Sequence[int] | None, taps: Sequence[int], levels: Sequence[int]) -> list[int] | None:
    """Output channels of each tap, read from ``encoder_channels`` as the pyramid adapter reads them.

    ``channels`` gives one value per tapped block, or one per pyramid level with 0 at the
    zero-channel levels (those without a tap); None (returned as is) keeps the model width.

    Raises:
        ConfigError: Wrong length, a value at a zero-channel level, or a value < 1 for a tap.
    """
    if channels is None:
        return None
    try:
        if isinstance(channels, (str, bytes)):
            raise TypeError
        values = [int(c) for c in channels]
    except (TypeError, ValueError):
        raise ConfigError(f"encoder_channels must be a list of ints, got {channels!r}") from None
    depth = levels[-1]
    if len(values) == len(taps):
        widths = values
    elif len(values) == depth:
        stray = [(level, v) for level, v in enumerate(values, start=1) if v != 0 and level not in levels]
        if stray:
            level, value = stray[0]
            raise ConfigError(
                f"encoder_channels[{level - 1}]={value} but pyramid level {level} has no tapped block (it is a "
                "zero-channel level); use 0 there or give one value per tapped block"
            )
        widths = [values[level - 1] for level in levels]
    else:
        raise ConfigError(
            f"encoder_channels needs one value per tapped block ({len(taps)}: blocks {list(taps)}) or per pyramid "
            f"level ({depth}), got {len(values)}: {values}"
        )
    if min(widths) < 1:
        raise ConfigError(f"encoder_channels must be >= 1 for tapped blocks, got {widths}")
    return widths


class TimmViTEncoder(nn.Module, EncoderMixin):
    """A plain timm transformer turned into an encoder pyramid.

    Args:
        model_name: timm name given to ``timm.create_model`` (with its tag).
        info: The model's ViT probe (``blocks``, ``patch_size``, ``num_prefix_tokens``...), or its JSON form.
        in_channels: Input channels (timm adapts the pretrained patch embedding).
        depth: Pyramid depth; by default ``depth`` blocks are tapped.
        indices: Blocks to tap: ``"first"``, ``"last"``, a list, or None (spread evenly).
        scale_factors: Resize factor per tap, relative to the patch-stride token grid
            (patch 16, depth 5: ``(8, 4, 2, 1, 0.5)``, the default). Each factor decides the
            tap's pyramid level (``patch / factor``); levels without a tap carry zero channels.
        channels: Output channels per tap, or per pyramid level with 0 at zero-channel levels
            (``encoder_channels``); taps whose width differs get a 1x1 convolution, as in the
            pyramid adapter. Prefix tokens keep the model width.
        norm: Apply the model's final norm to every tapped block.
        output_stride: None/32, or 16 or 8: levels deeper than the output stride keep its
            resolution (a ViT is not dilated: its maps are resized from the patch stride, as
            for every level, and the report says so). DeepLab needs 8 or 16.
        create_kwargs: Other ``timm.create_model`` arguments (weights, ``img_size``,
            ``dynamic_img_size``...).

    Raises:
        ConfigError: Bad depth, indices, scale factors, channels or output stride.

    Example:
        >>> import seg_core
        >>> enc = seg_core.create_encoder("vit_tiny_patch16_224", img_size=64)  # doctest: +SKIP
        >>> enc.reductions  # doctest: +SKIP
        [1, 2, 4, 8, 16, 32]
    """

    def __init__(
        self,
        model_name: str,
        *,
        info: Probe | Mapping[str, Any],
        in_channels: int = 3,
        depth: int = 5,
        indices: IndicesSpec = None,
        scale_factors: Sequence[float] | None = None,
        channels: Sequence[int] | None = None,
        norm: bool = True,
        output_stride: int | None = None,
        create_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        import timm

        if output_stride not in (None, 8, 16, 32):
            raise ConfigError(
                f"encoder_output_stride for {model_name!r} must be None, 8, 16 or 32, got {output_stride!r}"
            )
        info = Probe.of(info)
        patch = max(info.patch_size)
        blocks = info.blocks
        explicit = indices is not None and not isinstance(indices, str)
        count = len(scale_factors) if scale_factors is not None and not explicit else depth
        taps = default_taps(blocks, count, indices)
        if scale_factors is not None:
            if len(scale_factors) != len(taps):
                raise ConfigError(
                    f"scale_factors needs one value per tapped block ({len(taps)}: blocks {taps}), got "
                    f"{len(scale_factors)}: {list(scale_factors)}"
                )
            levels = _levels_from_scale_factors(patch, scale_factors)
            factors = [float(s) for s in scale_factors]
        else:
            if len(taps) > depth:
                raise ConfigError(
                    f"encoder_indices selects {len(taps)} blocks but encoder_depth is {depth}; "
                    f"use encoder_depth >= {len(taps)} or fewer indices"
                )
            levels = list(range(depth - len(taps) + 1, depth + 1))
            factors = default_scale_factors(patch, levels)
        requested = _tap_widths(channels, taps, levels)
        if levels[-1] != depth:
            logger.info("encoder depth adjusted from %d to %d by scale_factors %s", depth, levels[-1], factors)
        kwargs = dict(create_kwargs or {})
        try:
            model: Any = timm.create_model(model_name, in_chans=in_channels, num_classes=0, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"timm.create_model({model_name!r}) rejected an argument: {exc}") from exc
        check_file_matches(kwargs, model, model_name)
        self._method = info.intermediates
        if not callable(getattr(model, self._method, None)):
            self._method = "get_intermediate_layers"
        self._call_kwargs: dict[str, Any] = {}
        if self._method == "forward_intermediates":
            params = inspect.signature(model.forward_intermediates).parameters
            self._call_kwargs = {"intermediates_only": True}
            if "norm" in params:
                self._call_kwargs["norm"] = norm
            if "output_fmt" in params:
                self._call_kwargs["output_fmt"] = "NCHW"
            prune = getattr(model, "prune_intermediate_layers", None)
            if callable(prune):
                prune(taps, prune_norm=not norm, prune_head=True)
        self.model: Any = model
        self.timm_name = model_name
        self.pretrained_cfg: dict[str, Any] = dict(getattr(model, "pretrained_cfg", {}) or {})
        self._taps = taps
        self._levels = levels
        self._patch = patch
        self._norm = norm
        width = int(getattr(model, "num_features", info.width))
        widths = requested or [width] * len(taps)
        self._width = width
        self.projections = nn.ModuleDict(
            {str(pos): nn.Conv2d(width, out, kernel_size=1) for pos, out in enumerate(widths) if out != width}
        )
        self._depth = levels[-1]
        self._in_channels = in_channels
        self._out_channels = [in_channels] + [0] * self._depth
        self._level_source = [-1] * (self._depth + 1)
        for pos, level in enumerate(levels):
            self._out_channels[level] = widths[pos]
            self._level_source[level] = pos
        self._supports_dilation = False
        self._input_divisor = patch  # the token grid needs whole patches
        if output_stride is not None:
            self._output_stride = int(output_stride)
        self._has_prefix_tokens = int(getattr(model, "num_prefix_tokens", 0) or 0) > 0
        embed = getattr(model, "patch_embed", None)
        dynamic = bool(getattr(model, "dynamic_img_size", False))
        strict = bool(getattr(embed, "strict_img_size", True))
        img = getattr(embed, "img_size", None)
        self._fixed_input_size = tuple(int(v) for v in img) if img is not None and strict and not dynamic else None
        if self._fixed_input_size is not None:
            self._fixed_input_size_hint = (
                f'Build the model with encoder_params={{"img_size": (H, W)}} for another fixed size, or with '
                f'encoder_params={{"dynamic_img_size": True}} to take any size (a multiple of the patch size {patch}).'
            )
        if embed is not None and isinstance(getattr(embed, "proj", None), nn.Conv2d):
            self._first_conv = "model.patch_embed.proj"
        self._is_exportable = True
        options = {k: v for k, v in kwargs.items() if k not in WEIGHT_ARGUMENTS}
        if options:  # timm options may build a network that cannot run: try it on the meta device (cheap)
            size = self._fixed_input_size or tuple(
                -(-int(s) // d) * d
                for s, d in zip(self.pretrained_cfg.get("input_size", (3, 224, 224))[1:], info.patch_size)
            )
            error = meta_forward_error(self, size, in_channels)
            if error is not None:
                raise ConfigError(option_error(model_name, options, error)) from error

    def _intermediates(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self._method == "forward_intermediates":
            return list(self.model.forward_intermediates(x, indices=self._taps, **self._call_kwargs))
        out = self.model.get_intermediate_layers(x, n=self._taps, reshape=True, norm=self._norm)
        return list(out)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The pyramid: the input, then one map per level (zero-channel where no block is tapped).

        Raises:
            InputShapeError: The model has a fixed input size and ``x`` another one.
        """
        if self._fixed_input_size is not None:
            self.check_fixed_input_size(x)
        feats = self._intermediates(x)
        out: list[torch.Tensor] = [x]
        for level in range(1, self._depth + 1):
            size = [-(-s // min(2**level, self._output_stride)) for s in x.shape[2:]]
            pos = self._level_source[level]
            if pos < 0:
                out.append(x.new_zeros((x.shape[0], 0, *size)))
                continue
            feat = feats[pos]
            key = str(pos)
            if key in self.projections:  # at the token grid: the same as after the resize, on fewer pixels
                feat = self.projections[key](feat)
            if list(feat.shape[2:]) != size:
                feat = F.interpolate(feat, size=size, mode="bilinear", align_corners=False)
            out.append(feat)
        return out

    def forward_with_prefix_tokens(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """Return the pyramid and, per tapped block, the prefix tokens ``(N, num_prefix, C)`` (None if absent).

        Only for models with ``forward_intermediates``; the prefix tokens are computed in a second pass.
        """
        maps = self.forward(x)
        if not self._has_prefix_tokens or self._method != "forward_intermediates":
            return maps, None
        pairs = self.model.forward_intermediates(x, indices=self._taps, return_prefix_tokens=True, **self._call_kwargs)
        return maps, [p[1] for p in pairs]

    @property
    def features_info_str(self) -> str:
        """Which block feeds which level, and how it is resized."""
        head = ("block", "backbone feature", "adapted")
        rows: list[tuple[str, str, str]] = []
        for level in range(1, self._depth + 1):
            pos = self._level_source[level]
            if pos < 0:
                rows.append(("-", "-", f"level {level}: 0 ch, hw/{2**level} (zero-channel)"))
                continue
            stride = min(2**level, self._output_stride)
            factor = self._patch / stride
            out = self._out_channels[level]
            notes = [f"bilinear x{factor:g} (stride {self._patch} -> {stride})"] if factor != 1 else []
            if str(pos) in self.projections:
                notes.append(f"1x1 conv {self._width}->{out}")
            how = f" [{'; '.join(notes)}]" if notes else ""
            rows.append(
                (
                    f"blocks.{self._taps[pos]}",
                    f"{self._width} ch, hw/{self._patch}",
                    f"level {level}: {out} ch, hw/{stride}{how}",
                )
            )
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        fmt = " | ".join(f"{{:<{w}}}" for w in widths)
        return "\n".join([fmt.format(*head), "-+-".join("-" * w for w in widths), *(fmt.format(*r) for r in rows)])
