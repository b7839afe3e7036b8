"""2D ImageNet weights inflated to 3D: every 2D kernel repeated along the new axis and divided by its size.

A volume that is constant along an axis then gives, through a 3D convolution with the inflated
kernel, the same response as the 2D network on one slice (on the positions the kernel does not
see past the border of). The first axis of a 3D kernel is the inflated one (depth), so ``k x k``
becomes ``d x k x k`` with ``d`` the 3D layer's own kernel depth (1 for a ``1 x 3 x 3`` kernel).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seg_core.errors import CheckpointError, ConfigError

__all__ = ["inflate_state_dict", "load_2d_weights"]


def inflate_state_dict(state_2d: Mapping[str, torch.Tensor], model_3d: nn.Module) -> dict[str, torch.Tensor]:
    """Map a 2D state dict onto ``model_3d``'s parameter shapes.

    Every tensor whose 3D counterpart has one more axis (a conv kernel ``(O, I, kh, kw)`` against
    ``(O, I, kd, kh, kw)``) is repeated ``kd`` times along the new axis and divided by ``kd``; other
    tensors (norms, biases, linear layers) are copied. Keys the 3D model does not have are dropped
    (a classifier head). Build the 3D encoder with the 2D network's 3 input channels, load, then
    adapt ``in_channels`` as in 2D (`seg_core.encoder.patch_first_conv`).

    Args:
        state_2d: The 2D weights, with the 3D model's key names.
        model_3d: The 3D module the weights are for.

    Returns:
        A state dict to load with ``strict=False`` (the report lists what was not covered).

    Raises:
        CheckpointError: A tensor whose shape does not match its 3D counterpart after inflation
            (the key and both shapes are named).

    Example:
        >>> conv2d, conv3d = nn.Conv2d(1, 2, 3), nn.Conv3d(1, 2, 3)
        >>> inflate_state_dict(conv2d.state_dict(), conv3d)["weight"].shape
        torch.Size([2, 1, 3, 3, 3])
    """
    target = model_3d.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, value in state_2d.items():
        if key not in target:
            continue
        want = target[key].shape
        if value.ndim + 1 == len(want) and value.ndim >= 3 and tuple(value.shape[2:]) == tuple(want[3:]):
            depth = want[2]
            value = value.unsqueeze(2).repeat_interleave(depth, dim=2) / depth
        if tuple(value.shape) != tuple(want):
            raise CheckpointError(
                f"2D weight {key!r} of shape {tuple(value.shape)} does not inflate to the 3D shape {tuple(want)}"
            )
        out[key] = value.to(target[key].dtype)
    return out


def load_2d_weights(
    model_3d: nn.Module, weights: str | Path, *, timm_name: str | None = None
) -> dict[str, torch.Tensor]:
    """The inflated weights for ``model_3d`` from a local 2D weights file or a timm pretrained tag.

    Args:
        model_3d: The 3D encoder (its module names follow timm's, so timm's keys match).
        weights: A local ``.safetensors`` / ``.pth`` file of the 2D network, or a timm pretrained
            tag (``"imagenet"`` or a timm tag such as ``"a1_in1k"``), which needs timm and its
            cache (no download happens when ``HF_HUB_OFFLINE=1``).
        timm_name: The timm model whose weights these are (for tags).

    Returns:
        The inflated state dict (see `inflate_state_dict`).

    Raises:
        ConfigError: A tag without timm, or an encoder without a timm counterpart.
        CheckpointError: A corrupt file (named) or weights that do not fit.
    """
    from seg_core.io import load_state_file

    path = Path(str(weights))
    if path.suffix in (".safetensors", ".pth", ".pt", ".bin"):
        return inflate_state_dict(load_state_file(path), model_3d)
    if timm_name is None:
        raise ConfigError(
            f"encoder_weights={weights!r}: this encoder has no 2D counterpart in timm; pass a local 2D weights file"
        )
    try:
        import timm
    except ImportError:
        raise ConfigError(
            f"encoder_weights={weights!r} needs timm to fetch {timm_name}'s 2D weights: "
            "pip install ./packages/seg-encoders-timm (from a seg checkout), or pass a local weights file"
        ) from None
    name = timm_name if weights in ("imagenet", "timm", True) else f"{timm_name}.{weights}"
    try:
        model_2d: Any = timm.create_model(name, pretrained=True)
    except Exception as error:  # no cache and no network, an unknown tag
        raise CheckpointError(f"cannot load timm's pretrained {name!r}: {type(error).__name__}: {error}") from error
    return inflate_state_dict(model_2d.state_dict(), model_3d)
