"""PixSeg's real-time models (FCN, LRASPP, BiSeNet, ENet, SFNet, SFNet-Lite): conformance, shapes, aux outputs."""

from __future__ import annotations

import inspect

import pytest
import torch

import seg_core
import seg_decoders
from seg_core.errors import ConfigError, IncompatibleEncoderError
from seg_core.plugins import get_registry
from seg_core.suggest import install_hint
from seg_core.testing import check_architecture
from seg_decoders._flow_blocks import flow_warp

from ._realtime import REALTIME, build, n_params


@pytest.mark.parametrize("arch", REALTIME)
def test_registered_and_exported(arch: str) -> None:
    model = build(arch)
    assert model.architecture_name == arch
    assert getattr(seg_decoders, type(model).__name__) is type(model)
    assert get_registry("architectures").get(arch) is type(model)
    assert get_registry("architectures").source(arch).distribution == "seg-decoders"
    assert arch in seg_core.list_architectures()


def test_enet_conformance() -> None:
    """The others run the shared basic_cnn loops (test_conformance.py); ENet takes only its own backbone."""
    check_architecture(
        "enet",
        encoder_name="enet",
        depths=(3,),
        input_size=64,
        batch_sizes=(1, 2),
        check_save_load=True,
        enet_channels=(8, 16, 16),
    )


@pytest.mark.parametrize("size", [(32, 32), (64, 96)])
@pytest.mark.parametrize("arch", REALTIME)
def test_output_has_the_input_shape(arch: str, size: tuple[int, int]) -> None:
    model = build(arch, classes=3).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(2, 3, *size)).shape) == (2, 3, *size)


@pytest.mark.parametrize("depth", [3, 4])
@pytest.mark.parametrize("arch", ["fcn", "lraspp", "bisenet", "sfnet", "sfnet_lite"])
def test_shallower_encoders(arch: str, depth: int) -> None:
    model = build(arch, depth, classes=2).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 3, 32, 32)).shape) == (1, 2, 32, 32)


@pytest.mark.parametrize("arch", REALTIME)
def test_batch_one_training_step(arch: str) -> None:
    model = build(arch, classes=3).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(1, 3, 64, 64), torch.randint(0, 3, (1, 64, 64))  # basic_cnn's BatchNorm needs > 1x1
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    optimizer.step()
    assert torch.isfinite(loss)


def test_paper_default_encoders() -> None:
    assert inspect.signature(seg_decoders.LRASPP).parameters["encoder_name"].default == "tu-mobilenetv3_large_100"
    assert inspect.signature(seg_decoders.BiSeNet).parameters["encoder_name"].default == "tu-resnet18"
    assert inspect.signature(seg_decoders.SFNet).parameters["encoder_name"].default == "tu-resnet18"
    assert inspect.signature(seg_decoders.FCN).parameters["encoder_name"].default == "basic_cnn"
    # without seg-encoders-timm, the unknown-name error names the package to install
    hint = install_hint("encoders", "tu-mobilenetv3_large_100", {})
    assert hint is not None and "seg-encoders-timm" in hint


def test_enet_takes_only_its_own_encoder() -> None:
    with pytest.raises(ConfigError, match="ENet has its own encoder: encoder_name must be 'enet'"):
        seg_core.create_model("enet", encoder_name="basic_cnn")
    with pytest.raises(ConfigError, match="encoder_depth must be 3"):
        seg_core.create_model("enet", encoder_depth=5)
    with pytest.raises(ConfigError, match="takes no encoder_weights"):
        seg_core.create_model("enet", encoder_weights="imagenet")
    with pytest.raises(ConfigError, match="enet_channels must be three ints"):
        seg_core.create_model("enet", enet_channels=(16, 64))


def test_enet_has_the_papers_size() -> None:
    model = seg_core.create_model("enet", classes=19)
    assert 0.34e6 < n_params(model) < 0.38e6  # the paper: 0.37M parameters
    assert model.encoder.out_channels == [3, 16, 64, 128] and model.encoder.reductions == [1, 2, 4, 8]


def test_enet_is_2d_only() -> None:
    with pytest.raises(ConfigError, match="takes no encoder_params"):
        seg_core.create_model("enet", encoder_params={"spatial_dims": 3})
    assert seg_decoders.ENet.spec is not None and seg_decoders.ENet.spec.requires.spatial_dims == (2,)


@pytest.mark.parametrize("shape", [(5, 7), (4, 5, 6)])
def test_flow_warp_identity_and_one_pixel_shift(shape: tuple[int, ...]) -> None:
    dims = len(shape)
    x = torch.randn(1, 2, *shape)
    zero = torch.zeros(1, dims, *shape)
    assert torch.allclose(flow_warp(x, zero), x, atol=1e-5)
    # flow channel 0 is the last axis (grid_sample's x); one pixel = 2 * size / (size - 1) units
    width = shape[-1]
    flow = zero.clone()
    flow[:, 0] = 2 * width / (width - 1)
    assert torch.allclose(flow_warp(x, flow)[..., :-1], x[..., 1:], atol=1e-4)


def test_invalid_arguments_name_themselves() -> None:
    with pytest.raises(ConfigError, match="decoder_channels"):
        build("lraspp", decoder_channels=0)
    with pytest.raises(ConfigError, match="decoder_context_channels"):
        build("bisenet", decoder_context_channels=-1)
    with pytest.raises(ConfigError, match="decoder_dropout"):
        build("fcn", decoder_dropout=1.5)


def test_lraspp_names_the_empty_level() -> None:
    with pytest.raises(IncompatibleEncoderError, match="level 1"):
        build("lraspp", 3, encoder_name="basic_cnn_s4")
