"""Every seg-decoders architecture with seg-3d's resnet18_3d and two stride patterns gives the input shape back."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

import seg_core
from seg_core.plugins import get_registry

#: seg-decoders' architectures whose declaration allows 3D (all but ENet, whose own backbone is 2D)
ARCHS = sorted(
    name
    for name in get_registry("architectures").names()
    if get_registry("architectures").source(name).distribution == "seg-decoders"
    and 3 in get_registry("architectures").info(name)["spatial_dims"]
)
PATTERNS: dict[str, tuple[tuple[int, int, int], ...] | None] = {
    "default": None,
    "anisotropic": ((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2)),
}
#: Output strides the architectures ask for by default (seg-decoders' encoder_defaults).
OUTPUT_STRIDE = {"deeplabv3": 8, "deeplabv3plus": 16, "pan": 16}


def _small(arch: str, depth: int) -> dict[str, Any]:
    """Narrow decoders (the encoder's widths are ResNet-18's)."""
    return {
        "unet": {"decoder_channels": [8] * depth},
        "unetplusplus": {"decoder_channels": [8] * depth},
        "manet": {"decoder_channels": [8] * depth, "decoder_pab_channels": 8},
        "linknet": {},
        "fpn": {"decoder_pyramid_channels": 8, "decoder_segmentation_channels": 64},  # GroupNorm(32): >1 value a group
        "pspnet": {"psp_out_channels": 8},
        "pan": {"decoder_channels": 8},
        "deeplabv3": {"decoder_channels": 8, "decoder_atrous_rates": (1, 2, 3)},
        "deeplabv3plus": {"decoder_channels": 8, "decoder_atrous_rates": (1, 2, 3)},
        "upernet": {"decoder_channels": 8},
        "segformer": {"decoder_segmentation_channels": 8},
        "dpt": {"decoder_intermediate_channels": None, "decoder_fusion_channels": 8},
        "fcn": {},
        "lraspp": {"decoder_channels": 8},
        "bisenet": {"decoder_spatial_channels": 8, "decoder_context_channels": 8, "decoder_channels": 8},
        "sfnet": {"decoder_channels": 8},
        "sfnet_lite": {"decoder_channels": 8},
    }[arch]


def _build(arch: str, depth: int, strides: Any, **kwargs: Any) -> Any:
    return seg_core.create_model(
        arch,
        encoder_name="resnet18_3d",
        encoder_depth=depth,
        encoder_strides=None if strides is None else strides[:depth],
        in_channels=1,
        classes=3,
        **{**_small(arch, depth), **kwargs},
    )


def _expected_reduction(arch: str, depth: int, strides: Any) -> tuple[int, ...]:
    """Per axis: the product of the strides, capped by the architecture's output stride (dilation)."""
    per_level = [(2, 2, 2)] * depth if strides is None else strides[:depth]
    total = [math.prod(level[axis] for level in per_level) for axis in range(3)]
    return tuple(min(t, OUTPUT_STRIDE.get(arch, 32)) for t in total)


def _size(model: Any, base: tuple[int, ...]) -> list[int]:
    return [
        max(math.ceil(b / d) * d, math.ceil(m / d) * d)
        for b, d, m in zip(base, model.input_divisor, model.min_input_size)
    ]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("arch", ARCHS)
def test_architecture_trains_and_gives_the_input_shape_back(arch: str, pattern: str) -> None:
    assert len(ARCHS) == 17
    depth = 3 if arch == "pan" else 4  # PAN's pyramid needs >= 8 voxels per axis at the deepest level
    strides = PATTERNS[pattern]
    torch.manual_seed(0)
    model = _build(arch, depth, strides)
    assert tuple(model.encoder.axis_reductions[-1]) == _expected_reduction(arch, depth, strides)
    size = _size(model, (8, 32, 32))
    model.train()
    out = model(torch.randn(1, 1, *size))
    assert tuple(out.shape) == (1, 3, *size)
    out.mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


@pytest.mark.parametrize("arch", ["unet", "fpn", "deeplabv3", "deeplabv3plus"])
def test_full_depth_anisotropic(arch: str) -> None:
    strides = PATTERNS["anisotropic"]
    model = _build(arch, 5, strides).eval()
    assert tuple(model.encoder.axis_reductions[-1]) == _expected_reduction(arch, 5, strides)
    size = _size(model, (8, 32, 32))
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 1, *size)).shape) == (1, 3, *size)


def test_shape_check_per_axis_and_padded_predict() -> None:
    model = _build("fpn", 4, PATTERNS["anisotropic"]).eval()
    assert tuple(model.input_divisor) == (4, 16, 16)
    x = torch.randn(1, 1, 6, 30, 33)
    with pytest.raises(seg_core.InputShapeError, match=r"divisible by \(4, 16, 16\).*Pad the input to \(8, 32, 48\)"):
        model(x)
    assert tuple(model.predict(x, pad=True).shape) == (1, 3, 6, 30, 33)


def test_checkpointing_through_the_model() -> None:
    torch.manual_seed(0)
    plain = _build("unet", 3, PATTERNS["anisotropic"])
    saved = _build("unet", 3, PATTERNS["anisotropic"], encoder_params={"checkpointing": True})
    saved.load_state_dict(plain.state_dict())
    assert saved.encoder.checkpointing and not plain.encoder.checkpointing
    x = torch.randn(2, 1, 4, 32, 32)
    grads = []
    for model in (plain, saved):
        model.train()
        out = model(x)
        out.square().mean().backward()
        grads.append((out.detach(), {n: p.grad for n, p in model.named_parameters()}))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    for key, grad in grads[0][1].items():
        torch.testing.assert_close(grad, grads[1][1][key], msg=key)
