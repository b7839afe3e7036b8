"""UPerNet, SegFormer and DPT against smp 0.6 (installed here), and with ViT encoders (seg-encoders-timm)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import seg_core
from seg_core.testing import check_architecture

VIT = {"encoder_name": "test_vit", "encoder_params": {"img_size": 64}}
RESNET34_WIDTHS = {"widths": [64, 64, 128, 256, 512]}


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    ("arch", "cls", "options"),
    [
        ("upernet", "UPerNet", {}),
        ("upernet", "UPerNet", {"decoder_channels": 64, "decoder_use_norm": "identity"}),
        ("segformer", "Segformer", {}),
        ("segformer", "Segformer", {"decoder_segmentation_channels": 48}),
    ],
)
@pytest.mark.parametrize("depth", [3, 4, 5])
def test_same_decoder_as_smp_with_resnet34_widths(arch: str, cls: str, options: dict[str, Any], depth: int) -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    torch.manual_seed(0)
    theirs = getattr(smp, cls)("resnet34", encoder_weights=None, encoder_depth=depth, classes=3, **options).eval()
    ours = seg_core.create_model(arch, encoder_depth=depth, encoder_params=RESNET34_WIDTHS, classes=3, **options).eval()
    assert _shapes(ours.decoder) == _shapes(theirs.decoder)
    assert _shapes(ours.segmentation_head) == _shapes(theirs.segmentation_head)
    # same weights, same pyramid -> same decoder output (smp's resnet34 pyramid shapes)
    ours.decoder.load_state_dict(theirs.decoder.state_dict())
    ours.double(), theirs.double()  # float64: the comparison is exact up to rounding
    with torch.no_grad():
        features = theirs.encoder(torch.randn(1, 3, 64, 64, dtype=torch.float64))
        expected = theirs.decoder([f.clone() for f in features])
        got = ours.decoder([f.clone() for f in features])
    torch.testing.assert_close(got, expected)


def test_dpt_parameters_match_smp_but_the_resampling() -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    theirs = smp.DPT("tu-test_vit", encoder_weights=None, encoder_depth=4, img_size=64)
    ours = seg_core.create_model("dpt", **VIT)  # depth 5: levels 2 .. 5 = smp's 4 taps at strides 4 .. 32
    assert theirs.encoder.has_prefix_tokens and ours.encoder.capabilities.has_prefix_tokens
    # smp learns the resampling of its patch-stride maps; seg's ViT adapter delivers every level at its stride
    resampling = sum(_count(block.upsample) for block in theirs.decoder.reassemble_blocks)
    assert resampling > 0
    smp_total = _count(theirs.decoder) + _count(theirs.segmentation_head)
    assert _count(ours.decoder) + _count(ours.segmentation_head) == smp_total - resampling
    for ours_block, their_block in zip(ours.decoder.fusion_blocks, theirs.decoder.fusion_blocks):
        assert _shapes(ours_block) == _shapes(their_block)
    for ours_block, their_block in zip(ours.decoder.projection_blocks, theirs.decoder.projection_blocks):
        assert _shapes(ours_block) == _shapes(their_block)  # readout 'cat': Linear(2C, C) with a class token


@pytest.mark.parametrize("readout", ["ignore", "add", "cat"])
def test_dpt_readout_uses_the_prefix_tokens(readout: str) -> None:
    torch.manual_seed(0)
    model = seg_core.create_model(
        "dpt",
        decoder_readout=readout,
        decoder_intermediate_channels=(8, 8, 8, 8),
        decoder_fusion_channels=8,
        classes=2,
        **VIT,
    ).eval()
    x = torch.randn(1, 3, 64, 64)
    seen: list[Any] = []
    handle = model.decoder.register_forward_pre_hook(lambda _m, args: seen.append(args[1] if len(args) > 1 else None))
    with torch.no_grad():
        out = model(x)
    handle.remove()
    assert tuple(out.shape) == (1, 2, 64, 64)
    if readout == "ignore":
        assert seen == [None]
    else:
        assert len(seen[0]) == 5 and tuple(seen[0][0].shape) == (1, 1, 64)  # test_vit: a class token, width 64
    report = check_architecture(
        "dpt",
        depths=(5,),
        input_size=64,
        check_save_load=False,
        decoder_readout=readout,
        decoder_intermediate_channels=(8, 8, 8, 8),
        decoder_fusion_channels=8,
        **VIT,
    )
    assert any("all params used" in line for line in report.checks)


def test_dpt_with_register_tokens() -> None:
    model = seg_core.create_model(
        "dpt",
        encoder_name="vit_tiny_patch16_224",
        encoder_params={"img_size": 64, "reg_tokens": 4, "embed_dim": 64, "num_heads": 2},
        decoder_readout="add",
        decoder_intermediate_channels=(8, 8, 8, 8),
        decoder_fusion_channels=8,
    ).eval()
    tokens: list[Any] = []
    model.decoder.register_forward_pre_hook(lambda _m, args: tokens.append(args[1]))
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 3, 64, 64)).shape) == (1, 1, 64, 64)
    assert tuple(tokens[0][-1].shape) == (1, 5, 64)  # class token + 4 registers


@pytest.mark.parametrize("arch", ["segformer", "upernet"])
def test_with_a_plain_vit(arch: str) -> None:
    options = {"segformer": {"decoder_segmentation_channels": 16}, "upernet": {"decoder_channels": 16}}[arch]
    report = check_architecture(arch, depths=(4, 5), input_size=64, check_save_load=False, **VIT, **options)
    assert any("all params used" in line for line in report.checks)


@pytest.mark.parametrize(
    ("cls", "options"), [("UPerNet", {"decoder_channels": 32}), ("Segformer", {"decoder_segmentation_channels": 32})]
)
def test_from_smp_reproduces_smps_output(cls: str, options: dict[str, Any]) -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    import seg_decoders

    torch.manual_seed(0)
    theirs = getattr(smp, cls)("tu-resnet18", encoder_weights=None, classes=2, **options).eval()
    ours = seg_decoders.from_smp(theirs.state_dict(), cls, encoder_name="tu-resnet18", classes=2, **options)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


def test_from_smp_rejects_dpt_checkpoints_clearly() -> None:
    smp = pytest.importorskip("segmentation_models_pytorch")
    import seg_decoders
    from seg_core.errors import ConfigError

    theirs = smp.DPT("tu-test_vit", encoder_weights=None, img_size=64)
    # smp's learned resampling has no twin: refused before anything is built (ArchitectureSpec.smp_weights)
    with pytest.raises(ConfigError, match="DPT checkpoints cannot be imported.*different network"):
        seg_decoders.from_smp(theirs.state_dict(), "DPT", encoder_name="tu-test_vit", img_size=64)
