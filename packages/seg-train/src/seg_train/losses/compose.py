"""Composed losses: weighted sums (``ce + 0.5 * dice``) and deep-supervision / aux terms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seg_core.errors import ConfigError
from seg_train.losses._checks import check_choice
from seg_train.losses.base import SegLoss, WeightedSum, check_factor

__all__ = ["DeepSupervisionLoss", "combined", "deep_supervision"]


class DeepSupervisionLoss(SegLoss):
    """Apply a loss, with weights, to a model's main output and its extra outputs.

    Extra outputs are auxiliary heads (DeepLab, PSPNet, BiSeNet aux), deep-supervision outputs
    (Unet++, nnU-Net) and the like. ``outputs`` may be:

    - a tensor: just the main output (the loss as is);
    - a tuple or list: the main output first, then the extras;
    - a dict: ``main_key`` (default ``"out"``) is the main output; every other key is an extra
      (a list value, e.g. ``{"deep_supervision": [x1, x2]}``, counts as ``"deep_supervision.0"``...).

    An extra output of another size than the target is resized: the prediction is interpolated
    (bilinear / trilinear) to the target (``resize="pred"``, the default, as torchvision and
    PixSeg do), or the target is resized by nearest neighbour to the prediction
    (``resize="target"``, as nnU-Net does; multiclass and binary targets only keep their labels).

    After each call, ``last`` holds each output's (detached, unweighted) loss by name.

    Args:
        loss: The loss applied to every output.
        weights: Per extra output: a number for all extras, a sequence in output order (the main
            output's weight first), or a dict by name (``{"out": 1.0, "aux": 0.4}``). Default: 1 for
            the main output and 0.5 for each extra (torchvision's reference recipe).
        main_key: The dict key of the main output.
        resize: ``"pred"``, ``"target"`` or ``"none"`` (a size mismatch is then an error).

    Raises:
        ConfigError: A bad argument, or outputs the weights do not cover.

    Example:
        >>> import torch
        >>> from seg_train.losses import CrossEntropyLoss
        >>> loss = DeepSupervisionLoss(CrossEntropyLoss(), weights={"out": 1.0, "aux": 0.4})
        >>> outputs = {"out": torch.randn(2, 3, 8, 8), "aux": torch.randn(2, 3, 4, 4)}
        >>> value = loss(outputs, torch.randint(0, 3, (2, 8, 8)))
    """

    def __init__(
        self,
        loss: nn.Module,
        weights: float | Sequence[float] | Mapping[str, float] | None = None,
        main_key: str = "out",
        resize: str = "pred",
    ) -> None:
        super().__init__()
        if not isinstance(loss, nn.Module):
            raise ConfigError(f"DeepSupervisionLoss needs a loss module; got {type(loss).__name__}")
        self.loss = loss
        self.mode = getattr(loss, "mode", "multiclass")
        self.ignore_index = getattr(loss, "ignore_index", None)
        self.main_key = main_key
        self.resize = check_choice("DeepSupervisionLoss", "resize", resize, ("pred", "target", "none"))
        if isinstance(weights, Mapping):
            self.weights: float | list[float] | dict[str, float] = {k: check_factor(v) for k, v in weights.items()}
        elif weights is None:
            self.weights = 0.5
        elif isinstance(weights, (int, float)):
            self.weights = check_factor(weights)
        else:
            self.weights = [check_factor(w) for w in weights]
        self.last: dict[str, torch.Tensor] = {}

    def named_outputs(self, outputs: Any) -> list[tuple[str, torch.Tensor]]:
        """The outputs by name, main output first (``"out"``, then ``"aux"``, ``"1"``, ``"2"``...)."""
        if isinstance(outputs, torch.Tensor):
            return [(self.main_key, outputs)]
        if isinstance(outputs, Mapping):
            if self.main_key not in outputs:
                raise ConfigError(
                    f"DeepSupervisionLoss: the model's outputs have no {self.main_key!r} (the main output); keys: "
                    f"{sorted(outputs)}. Pass main_key= to name it"
                )
            named = [(self.main_key, outputs[self.main_key])]
            for key, value in outputs.items():
                if key == self.main_key:
                    continue
                if isinstance(value, (list, tuple)):
                    named.extend((f"{key}.{i}", v) for i, v in enumerate(value))
                else:
                    named.append((str(key), value))
            return named
        if isinstance(outputs, (list, tuple)) and outputs:
            return [(self.main_key, outputs[0])] + [(str(i), v) for i, v in enumerate(outputs[1:], 1)]
        raise ConfigError(
            f"DeepSupervisionLoss takes a tensor, a tuple/list or a dict of outputs; got {type(outputs).__name__}"
        )

    def weight_of(self, index: int, name: str) -> float:
        """The weight of output ``name``, the ``index``-th (0 is the main output)."""
        if isinstance(self.weights, dict):
            if name in self.weights:
                return self.weights[name]
            group = name.split(".")[0]
            if group in self.weights:
                return self.weights[group]
            if index == 0:
                return 1.0
            raise ConfigError(
                f"DeepSupervisionLoss: no weight for output {name!r}; weights name {sorted(self.weights)}"
            )
        if isinstance(self.weights, list):
            if index >= len(self.weights):
                raise ConfigError(
                    f"DeepSupervisionLoss: {len(self.weights)} weights for at least {index + 1} outputs; give one "
                    "weight per output, the main output's first"
                )
            return self.weights[index]
        return 1.0 if index == 0 else self.weights

    def forward(self, outputs: Any, target: torch.Tensor) -> torch.Tensor:
        """Return the weighted sum of the loss over the outputs."""
        total: torch.Tensor | None = None
        last: dict[str, torch.Tensor] = {}
        for index, (name, pred) in enumerate(self.named_outputs(outputs)):
            weight = self.weight_of(index, name)
            if weight == 0:
                continue
            pred, tgt = self._match(name, pred, target)
            value = self.loss(pred, tgt)
            last[name] = value.detach()
            total = value * weight if total is None else total + value * weight
        self.last = last
        if total is None:
            raise ConfigError("DeepSupervisionLoss: every output has weight 0")
        return total

    def _match(self, name: str, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pred_size = tuple(pred.shape[2:])
        has_channel = target.ndim == pred.ndim
        target_size = tuple(target.shape[2:] if has_channel else target.shape[1:])
        if pred_size == target_size:
            return pred, target
        if self.resize == "none":
            raise ConfigError(
                f"DeepSupervisionLoss: output {name!r} has size {pred_size} and the target {target_size}; pass "
                "resize='pred' or 'target'"
            )
        if self.resize == "pred":
            mode = {1: "linear", 2: "bilinear", 3: "trilinear"}.get(len(target_size), "nearest")
            return F.interpolate(pred, size=target_size, mode=mode, align_corners=False), target
        source = target if has_channel else target.unsqueeze(1)
        resized = F.interpolate(source.float(), size=pred_size, mode="nearest-exact").to(target.dtype)
        return pred, resized if has_channel else resized[:, 0]


def _build(spec: Any, what: str) -> nn.Module:
    """A loss from a module, a registered name, or a dict ``{"name": ..., **arguments}``."""
    if isinstance(spec, nn.Module):
        return spec
    from seg_core import get_registry

    if isinstance(spec, str):
        name, kwargs = spec, {}
    elif isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        kwargs = {k: v for k, v in spec.items() if k not in ("name", "weight")}
        name = spec["name"]
    else:
        raise ConfigError(f"{what}: give a loss as a name or a table with a 'name' key; got {spec!r}")
    from seg_train.factory import create_loss

    get_registry("losses")  # discovery first, so unknown names get suggestions
    return create_loss(name, **kwargs)


def combined(terms: Sequence[Mapping[str, Any]]) -> WeightedSum:
    """A weighted sum of losses named in a config.

    Args:
        terms: Tables ``{"name": ..., "weight": 1.0, **arguments}``.

    Returns:
        The `WeightedSum`.

    Raises:
        ConfigError: A term without a name, or a bad weight.

    Example:
        >>> loss = combined([{"name": "cross_entropy"}, {"name": "dice", "mode": "multiclass", "weight": 0.5}])
    """
    if not isinstance(terms, Sequence) or isinstance(terms, (str, bytes)) or not terms:
        raise ConfigError("the 'combined' loss takes terms=[{name=..., weight=...}, ...], a non-empty list")
    pairs = []
    for i, term in enumerate(terms):
        weight = term.get("weight", 1.0) if isinstance(term, Mapping) else 1.0
        pairs.append((check_factor(weight), _build(term, f"combined loss, term {i}")))
    return WeightedSum(pairs)


def deep_supervision(
    loss: Any,
    weights: float | Sequence[float] | Mapping[str, float] | None = None,
    main_key: str = "out",
    resize: str = "pred",
) -> DeepSupervisionLoss:
    """`DeepSupervisionLoss` from a config: ``loss`` may be a name or a table ``{"name": ..., **arguments}``.

    Example:
        >>> loss = deep_supervision({"name": "cross_entropy", "ignore_index": 255}, weights={"aux": 0.4})
    """
    return DeepSupervisionLoss(_build(loss, "deep_supervision loss"), weights, main_key, resize)
