"""The module behind ``t3d-<model>`` encoders: timm_3d's ``features_only`` model as an `EncoderMixin`."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from seg_core.encoder import EncoderMixin
from seg_core.errors import CheckpointError, ConfigError

__all__ = ["Timm3dEncoder"]


class Timm3dEncoder(nn.Module, EncoderMixin):
    """A timm_3d model's feature pyramid (reductions 2, 4, ... or 4, 8, ... with an empty level 1).

    Args:
        model_name: The timm_3d model.
        in_channels: Input channels.
        depth: Levels (1..5).
        weights: None, a local weights file, or ``"imagenet"`` (timm_3d's pretrained weights).

    Raises:
        ConfigError: A depth the model does not have, or a pyramid that is not 2, 4, 8...
        CheckpointError: Weights that do not fit (the file is named).
    """

    _supports_dilation = False

    def __init__(self, model_name: str, *, in_channels: int = 3, depth: int = 5, weights: str | Path | None = None):
        super().__init__()
        import timm_3d

        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 5:
            raise ConfigError(f"t3d-{model_name}: depth must be in 1..5, got {depth!r}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ConfigError(f"t3d-{model_name}: in_channels must be an int >= 1, got {in_channels!r}")
        pretrained = weights is not None and not Path(str(weights)).suffix
        self.model = timm_3d.create_model(model_name, features_only=True, pretrained=pretrained, in_chans=in_channels)
        reductions = list(self.model.feature_info.reduction())
        channels = list(self.model.feature_info.channels())
        if reductions and reductions[0] == 4:  # a stride-4 stem: an empty level 1, as seg's timm encoders do
            reductions, channels, self._empty_first = [2, *reductions], [0, *channels], True
        else:
            self._empty_first = False
        expected = [2 ** (i + 1) for i in range(depth)]
        if reductions[:depth] != expected:
            raise ConfigError(
                f"t3d-{model_name}: its feature reductions are {reductions}; seg needs 2, 4, 8... up to depth={depth}"
            )
        self._depth = depth
        self._spatial_dims = 3
        self._in_channels = in_channels
        self._out_channels = [in_channels, *channels[:depth]]
        self._axis_reductions = [(r, r, r) for r in [1, *expected]]
        self._keep = depth - (1 if self._empty_first else 0)
        stem = next((n for n, m in self.model.named_modules() if isinstance(m, nn.Conv3d)), None)
        self._first_conv = None if stem is None else f"model.{stem}"
        if weights is not None and not pretrained:
            from seg_core.io import load_state_file

            try:
                self.model.load_state_dict(load_state_file(weights))
            except RuntimeError as error:
                raise CheckpointError(f"{weights}: does not fit t3d-{model_name}: {error}") from None

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = self.model(x)[: self._keep]
        features = [x]
        if self._empty_first:
            size = [(s + 1) // 2 for s in x.shape[2:]]
            features.append(x.new_zeros((x.shape[0], 0, *size)))
        return features + list(maps)
