"""The universal adapter: any timm model with ``features_only=True`` as a seg encoder."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seg_core.errors import ConfigError
from seg_core.pyramid import FeaturePyramidAdapter, IndicesSpec, plan_pyramid
from seg_encoders_timm._probe import WEIGHT_ARGUMENTS, Probe, meta_forward_error, option_error
from seg_encoders_timm._weights import check_file_matches

__all__ = ["TimmUniversalEncoder"]


class _SelectedFeatures(nn.Module):
    """Runs a timm features model built for the selected maps only; places them back at their positions."""

    def __init__(
        self, model: nn.Module, positions: Sequence[int], count: int, strides: Sequence[int], channels_last: bool
    ) -> None:
        super().__init__()
        self.model = model
        self._positions = [int(p) for p in positions]
        self._strides = [int(s) for s in strides]
        self._count = int(count)
        self._channels_last = channels_last

    def forward(self, x: torch.Tensor) -> list[torch.Tensor | None]:
        feats = self.model(x)
        if isinstance(feats, dict):
            feats = list(feats.values())
        out: list[torch.Tensor | None] = [None] * self._count
        for pos, stride, feat in zip(self._positions, self._strides, feats):
            # Some timm models declare a reduction their maps do not have exactly (unpadded
            # convolutions: legacy_xception; PiT: stride 7 declared 8). Resize to the declared size.
            size = [-(-int(s) // stride) for s in x.shape[2:]]
            spatial = list(feat.shape[1:-1] if self._channels_last else feat.shape[2:])
            if spatial != size:
                if self._channels_last:
                    feat = feat.permute(0, 3, 1, 2)
                feat = F.interpolate(feat, size=size, mode="bilinear", align_corners=False)
                if self._channels_last:
                    feat = feat.permute(0, 2, 3, 1)
            out[pos] = feat
        return out


def _trim_unused_blocks(model: nn.Module) -> None:
    """Drop trailing blocks whose output no selected feature needs (timm's EfficientNet/MobileNet features)."""
    stages = getattr(model, "_stage_out_idx", None)
    blocks = getattr(model, "blocks", None)
    if not isinstance(stages, dict) or not stages or not isinstance(blocks, nn.Sequential):
        return
    if getattr(model, "feature_hooks", None) is not None:
        return
    keep = max(int(k) for k in stages)
    if keep < len(blocks):
        model.blocks = blocks[:keep]


def _fixed_size(cfg: dict[str, Any], kwargs: dict[str, Any]) -> tuple[int, ...] | None:
    """The input size a fixed-size model requires (``img_size`` if given, else its pretrained input size)."""
    if not cfg.get("fixed_input_size") or kwargs.get("dynamic_img_size") or kwargs.get("strict_img_size") is False:
        return None
    size = kwargs.get("img_size")
    if size is None:
        size = tuple(cfg.get("input_size", (3, 224, 224))[1:])
    return (int(size), int(size)) if isinstance(size, int) else tuple(int(v) for v in size)


class TimmUniversalEncoder(FeaturePyramidAdapter):
    """A timm ``features_only`` model wrapped into the classic encoder pyramid.

    Build it through :func:`seg_encoders_timm.create_timm_encoder` (or by name with
    ``seg_core.create_encoder``); this class is public for ``isinstance`` checks
    and for its :attr:`features_info_str` report.

    Args:
        model_name: timm name given to ``timm.create_model`` (with its tag).
        probe: The model's ``features_only`` probe (channels, reductions, modules, out_indices),
            or its JSON form.
        in_channels: Input channels (timm adapts pretrained stems).
        depth: Requested depth (adjusted to the deepest selected reduction).
        indices: ``"first"``, ``"last"`` or positions in the model's feature list.
        channels: Optional output channels (1x1 projections).
        output_stride: 8 or 16 to dilate (passed to timm), None/32 otherwise.
        create_kwargs: Other ``timm.create_model`` arguments (weights, timm options).

    Raises:
        ConfigError: Bad indices/channels, or an output stride timm cannot build.
    """

    def __init__(
        self,
        model_name: str,
        *,
        probe: Probe | Mapping[str, Any],
        in_channels: int = 3,
        depth: int = 5,
        indices: IndicesSpec = None,
        channels: Sequence[int] | None = None,
        output_stride: int | None = None,
        create_kwargs: dict[str, Any] | None = None,
    ) -> None:
        import timm

        probe = Probe.of(probe)
        reductions = list(probe.reductions)
        planned, selected, _ = plan_pyramid(reductions, depth, indices)
        shallowest = min((r for r in reductions if r > 1), default=1)
        if shallowest > 2**depth and (indices is None or isinstance(indices, str)):
            raise ConfigError(
                f"timm model {model_name!r} has no map below reduction {shallowest}, so encoder_depth={depth} "
                f"cannot be honoured: use encoder_depth >= {planned}"
            )
        out_indices = [probe.out_indices[p] for p in selected]
        kwargs = dict(create_kwargs or {})
        dilate = output_stride is not None and output_stride < 32
        if dilate:
            kwargs["output_stride"] = output_stride
        try:
            model: Any = timm.create_model(
                model_name, features_only=True, out_indices=out_indices, in_chans=in_channels, **kwargs
            )
        except TypeError as exc:
            if dilate and "output_stride" in str(exc):
                raise ConfigError(
                    f"timm model {model_name!r} does not support encoder_output_stride={output_stride} ({exc}); "
                    "use encoder_output_stride=None or an encoder that supports dilation (resnet*, efficientnet*, ...)"
                ) from exc
            raise ConfigError(f"timm.create_model({model_name!r}) rejected an argument: {exc}") from exc
        except AssertionError as exc:
            if dilate:
                raise ConfigError(
                    f"timm model {model_name!r} cannot be built with encoder_output_stride={output_stride} ({exc}); "
                    "use encoder_output_stride=None"
                ) from exc
            raise
        check_file_matches(kwargs, model, model_name)
        _trim_unused_blocks(model)
        built = [int(r) for r in model.feature_info.reduction()]
        cap = output_stride if output_stride is not None and dilate else max(reductions)
        expected = [min(reductions[p], cap) for p in selected]
        if dilate and built != expected:
            raise ConfigError(
                f"timm model {model_name!r} ignores encoder_output_stride={output_stride}: its maps have "
                f"reductions {built}; use encoder_output_stride=None"
            )
        fmt = probe.feature_format
        super().__init__(
            _SelectedFeatures(model, selected, len(reductions), built, fmt == "NHWC"),
            channels=list(probe.channels),
            reductions=reductions,
            module_names=list(probe.modules),
            in_channels=in_channels,
            depth=depth,
            indices=selected,
            encoder_channels=channels,
            feature_format=fmt,
        )
        self.timm_name = model_name
        self._supports_dilation = bool(probe.dilation)
        if dilate:
            assert output_stride is not None
            self._output_stride = output_stride
            self._supports_dilation = True
        self.pretrained_cfg: dict[str, Any] = dict(getattr(model, "pretrained_cfg", {}) or {})
        self._fixed_input_size = _fixed_size(self.pretrained_cfg, kwargs)
        if self._fixed_input_size is not None:
            self._fixed_input_size_hint = (
                'For another input size, build the model with encoder_params={"img_size": (H, W)} (timm '
                "builds the network for that size), or pad smaller inputs with model.predict(x, pad=True)."
            )
        self._size_note = probe.size_mismatch
        options = {k: v for k, v in kwargs.items() if k not in WEIGHT_ARGUMENTS and k != "output_stride"}
        if options:  # timm options may build a network that cannot run: try it on the meta device (cheap)
            error = meta_forward_error(self, self._dry_run_size(), in_channels)
            if error is not None:
                raise ConfigError(option_error(model_name, options, error)) from error

    def _dry_run_size(self) -> tuple[int, ...]:
        if self._fixed_input_size is not None:
            return self._fixed_input_size
        size = self.pretrained_cfg.get("input_size", (3, 224, 224))[1:]
        return tuple(-(-int(s) // d) * d for s, d in zip(size, self.input_divisor))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The pyramid (see :class:`~seg_core.pyramid.FeaturePyramidAdapter`), after the fixed-size check."""
        if self._fixed_input_size is not None:
            self.check_fixed_input_size(x)
        return super().forward(x)

    @property
    def features_info_str(self) -> str:
        """The adapter's report, plus a note when timm's maps are not exactly at their declared reduction."""
        table = super().features_info_str
        if self._size_note:
            table += (
                f"\nnote: timm's maps are not exactly at their declared reductions ({self._size_note}); "
                "they are resized (bilinear) to ceil(size / reduction)"
            )
        return table

    def make_dilated(self, output_stride: int) -> None:
        """timm encoders are dilated at construction: pass ``output_stride`` (``encoder_output_stride``) instead.

        Raises:
            ConfigError: Always, unless ``output_stride`` is already the encoder's.
        """
        nominal = 2**self.depth
        if output_stride == self.output_stride or (output_stride >= nominal and self.output_stride >= nominal):
            return
        raise ConfigError(
            f"timm encoder {self.timm_name!r} is dilated when built: pass encoder_output_stride={output_stride} "
            "to the model (or output_stride= to the encoder) instead of calling make_dilated()"
        )
