"""Conformance in 2D and 3D, anisotropic strides and output sizes for every seg-decoders architecture."""

from __future__ import annotations

import pytest
import torch

import seg_core
from seg_core.spec import is_compatible
from seg_core.testing import check_architecture

from ._common import ARCHS_3D, ENCODER_ARCHS, TINY, TINY_3D, build, small


@pytest.mark.parametrize("depth", [3, 4, 5])
@pytest.mark.parametrize("encoder", ["basic_cnn", "basic_cnn_s4"])
@pytest.mark.parametrize("arch", ENCODER_ARCHS)
def test_conformance_2d(arch: str, encoder: str, depth: int) -> None:
    if not is_compatible(arch, seg_core.create_encoder(encoder, depth=depth).capabilities):
        # the declared requirements refuse it (e.g. LRASPP needs level depth-2, basic_cnn_s4's level 1 is empty)
        with pytest.raises(seg_core.IncompatibleEncoderError):
            build(arch, depth, encoder_name=encoder)
        return
    check_architecture(
        arch,
        encoder_name=encoder,
        depths=(depth,),
        input_size=32 if depth < 5 else 64,  # the encoder's own BatchNorm needs > 1x1 at batch 1
        batch_sizes=(1, 2),
        check_save_load=depth == 3,
        encoder_params=TINY,
        **small(arch, depth),
    )


@pytest.mark.parametrize("arch", ARCHS_3D)
def test_conformance_3d(arch: str) -> None:
    check_architecture(
        arch,
        depths=(3,),
        input_size=16,
        batch_sizes=(1,),
        check_save_load=False,
        encoder_params=TINY_3D,
        **small(arch, 3),
    )


@pytest.mark.parametrize("arch", ARCHS_3D)
def test_anisotropic_3d(arch: str) -> None:
    params = {**TINY_3D, "strides": [(1, 2, 2), (2, 2, 2), (2, 2, 2)]}
    model = build(arch, 3, params, classes=2)
    assert model.encoder.axis_reductions[-1] == (4, 8, 8)
    size = [max(s, m) for s, m in zip((8, 16, 16), model.min_input_size)]
    model.train()
    out = model(torch.randn(1, 3, *size))
    assert tuple(out.shape) == (1, 2, *size)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("arch", ["unet", "unetplusplus", "manet"])
def test_any_size_for_resizing_decoders(arch: str) -> None:
    model = build(arch, 3).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 37, 45)).shape[2:] == (37, 45)


@pytest.mark.parametrize("arch", ["fpn", "pspnet", "deeplabv3plus", "linknet"])
def test_odd_size_rejected_then_padded(arch: str) -> None:
    model = build(arch, 3)
    x = torch.randn(1, 3, 37, 45)
    with pytest.raises(seg_core.InputShapeError, match="divisible by 8"):
        model(x)
    assert model.predict(x, pad=True).shape[2:] == (37, 45)
    padded = build(arch, 3, input_padding=True).eval()
    with torch.no_grad():
        assert padded(x).shape[2:] == (37, 45)


def test_pan_min_input_size() -> None:
    model = build("pan", 5, encoder_output_stride=16)
    assert model.min_input_size == (128, 128)
    with pytest.raises(seg_core.InputShapeError, match="height >= 128"):
        model(torch.randn(1, 3, 64, 64))
    assert model.predict(torch.randn(1, 3, 64, 64), pad=True).shape[2:] == (64, 64)


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_fpn_and_pspnet_match_input_size_at_every_depth(depth: int) -> None:
    for arch in ("fpn", "pspnet"):
        model = build(arch, depth).eval()
        with torch.no_grad():
            assert model(torch.randn(1, 3, 64, 64)).shape[2:] == (64, 64)


def test_unet_plus_plus_depth_1_works() -> None:
    model = seg_core.create_model("unetplusplus", encoder_depth=1, encoder_params=TINY, decoder_channels=[8])
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 1, 16, 16)


def test_deeplab_initializes_and_trains_at_batch_1() -> None:
    model = build("deeplabv3", 5, encoder_output_stride=8)
    assert model.encoder.output_stride == 8
    assert torch.count_nonzero(model.segmentation_head[0].bias) == 0  # initialize() ran (smp skips it)
    model.train()
    model(torch.randn(1, 3, 64, 64)).mean().backward()
