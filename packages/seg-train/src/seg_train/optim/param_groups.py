"""Parameter groups: encoder and decoder learning rates, no weight decay on norms and biases, frozen encoders."""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor, nn

from seg_core.errors import ConfigError

__all__ = ["NORM_LAYERS", "freeze_encoder", "is_no_decay", "param_groups"]

#: Normalization layers whose parameters ``no_decay_norm_bias`` exempts from weight decay
#: (BatchNorm*, SyncBatchNorm and InstanceNorm* derive from ``_NormBase``).
NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._NormBase,
    nn.GroupNorm,
    nn.LayerNorm,
    nn.LocalResponseNorm,
    *((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ()),
)

_NORM_SUFFIXES = ("Norm", "Norm1d", "Norm2d", "Norm3d", "NormNd")


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, NORM_LAYERS) or type(module).__name__.endswith(_NORM_SUFFIXES)


def is_no_decay(module: nn.Module, name: str, param: Tensor) -> bool:
    """Whether ``no_decay_norm_bias`` exempts a parameter from weight decay.

    A parameter is exempt when it belongs directly to a normalization layer (one of
    `NORM_LAYERS`, or a class whose name ends with ``Norm``/``Norm2d``/``Norm3d``/``NormNd``,
    such as seg-core's ``LayerNormNd``), when it is named ``bias``, or when it has at most one
    dimension (timm's rule: biases, norm scales, layer-scale vectors, scalars).

    Args:
        module: The module that owns the parameter directly.
        name: The parameter's name in that module (``"weight"``, ``"bias"``...).
        param: The parameter.

    Returns:
        True to put the parameter in a ``weight_decay=0`` group.

    Example:
        >>> from torch import Tensor, nn
        >>> from seg_train.optim.param_groups import is_no_decay
        >>> conv = nn.Conv2d(3, 8, 3)
        >>> is_no_decay(conv, "weight", conv.weight), is_no_decay(conv, "bias", conv.bias)
        (False, True)
    """
    return _is_norm(module) or name == "bias" or param.ndim <= 1


def _listed_no_decay(model: nn.Module) -> set[str]:
    """Full names returned by timm-style ``no_weight_decay()`` methods (position embeddings...)."""
    names: set[str] = set()
    for prefix, module in model.named_modules():
        method = getattr(module, "no_weight_decay", None)
        if not callable(method):
            continue
        try:
            listed = method()
        except TypeError:
            continue
        if isinstance(listed, str):
            listed = {listed}
        for name in listed or ():
            names.add(f"{prefix}.{name}" if prefix else str(name))
    return names


def _encoder_of(model: nn.Module) -> nn.Module | None:
    encoder = getattr(model, "encoder", None)
    return encoder if isinstance(encoder, nn.Module) else None


def freeze_encoder(model: nn.Module) -> None:
    """Freeze ``model.encoder``: no gradients, and its norm statistics frozen.

    Calls ``model.freeze_encoder()`` when the model has it (seg's `SegmentationModel`, whose
    encoder norm layers then stay in eval mode across ``model.train()``). Otherwise sets
    ``requires_grad=False`` on the encoder's parameters and puts its BatchNorm/InstanceNorm
    layers in eval mode now; a later ``model.train()`` undoes that part for such a model.

    Args:
        model: A model with an ``encoder`` submodule.

    Raises:
        ConfigError: The model has no ``encoder`` submodule.

    Example:
        >>> from torch import Tensor, nn
        >>> from seg_train.optim.param_groups import freeze_encoder
        >>> model = nn.Module()
        >>> model.encoder, model.head = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)), nn.Conv2d(4, 2, 1)
        >>> freeze_encoder(model)
        >>> any(p.requires_grad for p in model.encoder.parameters())
        False
    """
    encoder = _encoder_of(model)
    if encoder is None:
        raise ConfigError(
            f"encoder_freeze=True needs a model with an `encoder` submodule, and {type(model).__name__} "
            "has none; set encoder_freeze=False, or set requires_grad=False on the parameters to freeze"
        )
    method = getattr(model, "freeze_encoder", None)
    if callable(method):
        method()
        return
    for param in encoder.parameters():
        param.requires_grad_(False)
    for module in encoder.modules():
        if isinstance(module, nn.modules.batchnorm._NormBase):
            module.eval()


def _check_rate(name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        allowed = "a finite number >= 0" + (" or None" if optional else "")
        raise ConfigError(f"param_groups {name} must be {allowed}, got {value!r}")


def param_groups(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float = 0.0,
    encoder_lr: float | None = None,
    encoder_weight_decay: float | None = None,
    no_decay_norm_bias: bool = False,
    encoder_freeze: bool = False,
) -> list[dict[str, Any]]:
    """Split a model's trainable parameters into optimizer parameter groups.

    The encoder is ``model.encoder`` when the model has one (every seg `SegmentationModel`);
    its parameters use ``encoder_lr``/``encoder_weight_decay`` (``lr``/``weight_decay`` when
    None). Every other parameter (decoder, heads; the whole model when it has no encoder)
    uses ``lr``/``weight_decay``. The groups, in this order and only when not empty, are
    named for logging:

    - ``"encoder"``, ``"encoder_no_decay"``: the encoder's parameters;
    - ``"decoder"``, ``"decoder_no_decay"``: all the others.

    The ``*_no_decay`` groups (weight decay 0) exist with ``no_decay_norm_bias=True``: they
    hold normalization-layer parameters, biases and parameters with at most one dimension
    (see `is_no_decay`), plus the names a module's timm-style ``no_weight_decay()`` returns.

    Parameters with ``requires_grad=False`` are left out. Every trainable parameter appears
    in exactly one group, once, even when shared between modules.

    Args:
        model: The model.
        lr: Learning rate of the non-encoder parameters (and of the encoder by default), >= 0.
        weight_decay: Weight decay of the non-encoder parameters (and of the encoder by default), >= 0.
        encoder_lr: Learning rate of the encoder's parameters (None: ``lr``), >= 0.
        encoder_weight_decay: Weight decay of the encoder's parameters (None: ``weight_decay``), >= 0.
        no_decay_norm_bias: Put norm-layer parameters and biases in ``weight_decay=0`` groups.
        encoder_freeze: Freeze the encoder first (see `freeze_encoder`: no gradients, norm
            statistics frozen) so its parameters are in no group; smp's ``encoder_freeze``.

    Returns:
        A list of ``{"name", "params", "lr", "weight_decay"}`` dicts for any torch optimizer.

    Raises:
        ConfigError: (a ``ValueError``) a negative or non-numeric rate; ``encoder_lr``,
            ``encoder_weight_decay`` or ``encoder_freeze`` on a model without an ``encoder``;
            or no trainable parameter left.

    Example:
        >>> import torch
        >>> from torch import Tensor, nn
        >>> from seg_train.optim.param_groups import param_groups
        >>> model = nn.Module()
        >>> model.encoder = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
        >>> model.decoder = nn.Conv2d(8, 2, 1)
        >>> groups = param_groups(model, lr=0.01, encoder_lr=0.001, weight_decay=1e-4, no_decay_norm_bias=True)
        >>> for group in groups:
        ...     print(group["name"], group["lr"], group["weight_decay"])
        encoder 0.001 0.0001
        encoder_no_decay 0.001 0.0
        decoder 0.01 0.0001
        decoder_no_decay 0.01 0.0
        >>> optimizer = torch.optim.SGD(groups, lr=0.01, momentum=0.9)
    """
    _check_rate("lr", lr)
    _check_rate("weight_decay", weight_decay)
    _check_rate("encoder_lr", encoder_lr, optional=True)
    _check_rate("encoder_weight_decay", encoder_weight_decay, optional=True)
    encoder = _encoder_of(model)
    if encoder is None:
        for option, value in (("encoder_lr", encoder_lr), ("encoder_weight_decay", encoder_weight_decay)):
            if value is not None:
                raise ConfigError(
                    f"param_groups {option} applies to `model.encoder`, and {type(model).__name__} has no "
                    f"`encoder` submodule; drop {option}"
                )
    if encoder_freeze:
        freeze_encoder(model)

    encoder_ids = {id(param) for param in encoder.parameters()} if encoder is not None else set()
    listed = _listed_no_decay(model) if no_decay_norm_bias else set()
    buckets: dict[str, list[nn.Parameter]] = {
        "encoder": [],
        "encoder_no_decay": [],
        "decoder": [],
        "decoder_no_decay": [],
    }
    seen: set[int] = set()
    for prefix, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if id(param) in seen:
                continue
            seen.add(id(param))
            if not param.requires_grad:
                continue
            part = "encoder" if id(param) in encoder_ids else "decoder"
            full_name = f"{prefix}.{name}" if prefix else name
            if no_decay_norm_bias and (is_no_decay(module, name, param) or full_name in listed):
                part += "_no_decay"
            buckets[part].append(param)

    rates = {
        "encoder": (
            lr if encoder_lr is None else encoder_lr,
            weight_decay if encoder_weight_decay is None else encoder_weight_decay,
        ),
        "decoder": (lr, weight_decay),
    }
    groups: list[dict[str, Any]] = []
    for group_name, params in buckets.items():
        if not params:
            continue
        group_lr, group_decay = rates[group_name.removesuffix("_no_decay")]
        if group_name.endswith("_no_decay"):
            group_decay = 0.0
        groups.append({"name": group_name, "params": params, "lr": group_lr, "weight_decay": group_decay})
    if not groups:
        raise ConfigError(
            f"param_groups found no trainable parameter in {type(model).__name__} (every requires_grad is False"
            + (", the encoder frozen by encoder_freeze=True" if encoder_freeze else "")
            + "); unfreeze some parameters, or set encoder_freeze=False"
        )
    return groups
