"""Decoder options: norms, interpolation, activations, attention, head upsampling, deprecated aliases."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import seg_core
from seg_core.errors import ConfigError

from ._common import ARCHS, TINY_3D, WIDE, build


@pytest.mark.parametrize(
    "norm",
    [
        "batchnorm",
        "groupnorm",
        "layernorm",
        "instancenorm",
        "identity",
        True,
        False,
        {"type": "groupnorm", "num_groups": 4},
    ],
)
@pytest.mark.parametrize("arch", ["unet", "unetplusplus", "manet", "linknet", "pspnet"])
def test_every_norm_trains(arch: str, norm: Any) -> None:
    if norm == "groupnorm":
        # default 32 groups: widths must be multiples of 32
        options: dict[str, Any] = {"decoder_channels": [32] * 3} if arch in ("unet", "unetplusplus", "manet") else {}
        if arch == "pspnet":
            options = {"psp_out_channels": 32}
        if arch in ("linknet", "manet", "pspnet", "unetplusplus"):
            with pytest.raises(ConfigError, match="decoder_use_norm"):
                build(arch, 3, WIDE, decoder_use_norm=norm, **options)
            return
        model = build(arch, 3, WIDE, decoder_use_norm=norm, **options)
    else:
        model = build(arch, 3, WIDE, decoder_use_norm=norm)
    model.train()
    out = model(torch.randn(1, 3, 32, 32))
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_norm_choice_changes_layers() -> None:
    gn = build("unet", 3, decoder_use_norm={"type": "groupnorm", "num_groups": 4})
    assert any(isinstance(m, torch.nn.GroupNorm) for m in gn.decoder.modules())
    plain = build("unet", 3, decoder_use_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in plain.decoder.modules())
    assert plain.decoder.blocks[0].conv1[0].bias is not None  # bias only without a norm


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area", "nearest-exact"])
def test_interpolation_modes(mode: str) -> None:
    for arch in ("unet", "fpn", "manet", "pan"):
        model = build(arch, 3, decoder_interpolation=mode).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1, 64, 64)


def test_bicubic_rejected_in_3d() -> None:
    with pytest.raises(ConfigError, match="decoder_interpolation"):
        build("unet", 3, TINY_3D, decoder_interpolation="bicubic")


@pytest.mark.parametrize(
    "activation", ["sigmoid", "softmax", "logsoftmax", "tanh", "identity", torch.nn.ReLU, torch.tanh]
)
def test_activations(activation: Any) -> None:
    model = build("fpn", 3, classes=2, activation=activation).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 32, 32))
    if activation == "sigmoid":
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    if activation == "softmax":
        assert torch.allclose(out.sum(dim=1), torch.ones(1, 32, 32), atol=1e-5)


def test_argmax_activation_returns_labels() -> None:
    model = build("unet", 3, classes=3, activation="argmax").eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 32, 32)


@pytest.mark.parametrize("arch", ["unet", "unetplusplus"])
def test_scse_attention(arch: str) -> None:
    model = build(arch, 3, WIDE, decoder_attention_type="scse", decoder_channels=[32, 16, 16])
    assert any(type(m).__name__ == "_SCSE" for m in model.modules())
    model.train()
    model(torch.randn(1, 3, 32, 32)).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_explicit_head_upsampling_and_alias() -> None:
    model = build("fpn", 5, upsampling=4)
    assert model(torch.randn(1, 3, 64, 64)).shape[2:] == (64, 64)
    low = build("fpn", 5, head_upsampling=1)
    assert low(torch.randn(1, 3, 64, 64)).shape[2:] == (16, 16)
    with pytest.raises(ConfigError, match="either head_upsampling or upsampling"):
        build("fpn", 5, upsampling=4, head_upsampling=4)


def test_deprecated_aliases() -> None:
    with pytest.warns(DeprecationWarning, match="decoder_use_batchnorm"):
        model = build("unet", 3, decoder_use_batchnorm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.decoder.modules())
    with pytest.warns(DeprecationWarning, match="psp_use_batchnorm"):
        build("pspnet", 3, psp_use_batchnorm="identity")
    with pytest.warns(DeprecationWarning, match="upscale_mode"):
        build("pan", 3, upscale_mode="nearest")


def test_encoder_params_flow_and_config_recorded() -> None:
    model = build("linknet", 4, in_channels=1, classes=4)
    assert model.encoder.in_channels == 1
    assert model.config["encoder_depth"] == 4 and model.config["classes"] == 4
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 4, 32, 32)


def test_deprecated_names_are_declared_once_and_renamed_before_init() -> None:
    """The old names live in the declaration only: not in the signature, not in the saved config."""
    import inspect

    for arch in ARCHS:
        cls = seg_core.get_registry("architectures").get(arch)
        assert not set(cls.spec.deprecated_arguments) & set(inspect.signature(cls).parameters), arch
    with pytest.warns(DeprecationWarning, match="psp_use_batchnorm is deprecated, use decoder_use_norm"):
        model = build("pspnet", 3, psp_use_batchnorm="identity")
    assert model.config["decoder_use_norm"] == "identity" and "psp_use_batchnorm" not in model.config
    with pytest.raises(ConfigError, match="either decoder_use_norm or the deprecated decoder_use_batchnorm"):
        build("unet", 3, decoder_use_batchnorm=False, decoder_use_norm="identity")
