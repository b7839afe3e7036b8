"""UPerNet, SegFormer and DPT with the built-in CNN encoders, in 2D and 3D (smp and ViTs: tests/integration)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import seg_core
from seg_core.errors import ConfigError, IncompatibleEncoderError
from seg_core.testing import check_architecture

from ._common import TINY, TINY_3D, n_params

SMALL: dict[str, dict[str, Any]] = {
    "upernet": {"decoder_channels": 16},
    "segformer": {"decoder_segmentation_channels": 16},
    "dpt": {"decoder_fusion_channels": 16},
}


@pytest.mark.parametrize("arch", sorted(SMALL))
@pytest.mark.parametrize(("dims", "size"), [(2, 64), (3, 16)])
def test_output_has_input_shape_and_trains_at_batch_1(arch: str, dims: int, size: int) -> None:
    params = TINY if dims == 2 else TINY_3D
    depth = 5 if dims == 2 else 3
    model = seg_core.create_model(arch, encoder_depth=depth, encoder_params=params, classes=2, **SMALL[arch])
    x = torch.randn(1, 3, *([size] * dims))
    model.train()
    out = model(x)
    assert tuple(out.shape) == (1, 2, *x.shape[2:])
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("arch", sorted(SMALL))
def test_conformance_2d_and_3d(arch: str) -> None:
    check_architecture(arch, depths=(3, 4), input_size=32, check_save_load=True, encoder_params=TINY, **SMALL[arch])
    check_architecture(
        arch,
        depths=(3,),
        input_size=16,
        batch_sizes=(1,),
        check_save_load=False,
        encoder_params=TINY_3D,
        **SMALL[arch],
    )


def test_upernet_and_segformer_need_depth_3() -> None:
    for arch in ("upernet", "segformer"):
        with pytest.raises(IncompatibleEncoderError, match="encoder_depth >= 3"):
            seg_core.create_model(arch, encoder_depth=2, encoder_params=TINY, **SMALL[arch])


def test_upernet_layout_follows_smp() -> None:
    model = seg_core.create_model("upernet", encoder_depth=5, encoder_params=TINY, decoder_channels=16)
    decoder: Any = model.decoder
    assert len(decoder.feature_norms) == 4  # levels 2 .. 5
    assert len(decoder.fpn_lateral_blocks) == len(decoder.fpn_conv_blocks) == 3
    keys = set(model.state_dict())
    for key in (
        "decoder.psp.blocks.0.1.0.weight",
        "decoder.psp.out_conv.1.running_var",
        "decoder.fusion_block.0.weight",
        "decoder.fpn_lateral_blocks.0.conv_norm_relu.0.weight",
        "decoder.feature_norms.3.bias",
    ):
        assert key in keys
    # the PSP output conv sees the deepest map plus four 16-wide pooled branches
    assert decoder.psp.out_conv[0].in_channels == 32 + 4 * 16


def test_segformer_skips_a_zero_channel_stem_level() -> None:
    cnn = seg_core.create_model("segformer", encoder_depth=4, encoder_params=TINY, decoder_segmentation_channels=16)
    s4 = seg_core.create_model(
        "segformer", encoder_name="basic_cnn_s4", encoder_depth=4, encoder_params=TINY, decoder_segmentation_channels=16
    )
    assert len(cnn.decoder.mlp_stage) == 4 and len(s4.decoder.mlp_stage) == 3
    assert tuple(s4.eval()(torch.randn(1, 3, 32, 32)).shape) == (1, 1, 32, 32)


def test_dpt_uses_the_deepest_four_levels_and_smp_default_widths() -> None:
    model = seg_core.create_model("dpt", encoder_depth=5, encoder_params=TINY, decoder_fusion_channels=16)
    decoder: Any = model.decoder
    assert decoder.levels == [2, 3, 4, 5] and decoder.output_level == 1
    assert [b[0].out_channels for b in decoder.reassemble_blocks] == [256, 512, 1024, 1024]
    shallow = seg_core.create_model(
        "dpt", encoder_depth=3, encoder_params=TINY, decoder_intermediate_channels=(8, 8, 8), decoder_fusion_channels=8
    )
    assert shallow.decoder.levels == [1, 2, 3] and shallow.decoder.output_level == 0


def test_dpt_readouts_without_prefix_tokens() -> None:
    common: dict[str, Any] = {"encoder_depth": 3, "encoder_params": TINY, "decoder_fusion_channels": 8}
    common["decoder_intermediate_channels"] = (8, 8, 8)
    sizes = {r: n_params(seg_core.create_model("dpt", decoder_readout=r, **common).decoder) for r in ("ignore", "add")}
    cat = seg_core.create_model("dpt", decoder_readout="cat", **common)
    project = seg_core.create_model("dpt", decoder_readout="project", **common)
    assert sizes["ignore"] == sizes["add"]  # no tokens: nothing to add
    linear = sum(c * c + c for c in (8, 8, 16))  # a per-position Linear(C, C) on each of the levels 1 .. 3
    assert n_params(cat.decoder) == n_params(project.decoder) == sizes["ignore"] + linear
    assert tuple(cat.eval()(torch.randn(2, 3, 32, 32)).shape) == (2, 1, 32, 32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"decoder_readout": "concat"}, "decoder_readout must be one of"),
        ({"decoder_intermediate_channels": (8, 8)}, "decoder_intermediate_channels needs one width per used level"),
        ({"decoder_intermediate_channels": (8, 0, 8)}, "decoder_intermediate_channels must be an int >= 1"),
        ({"decoder_fusion_channels": 0}, "decoder_fusion_channels must be an int >= 1"),
    ],
)
def test_dpt_errors_name_the_argument(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        seg_core.create_model("dpt", encoder_depth=3, encoder_params=TINY, **kwargs)


def test_upernet_and_segformer_errors_name_the_argument() -> None:
    with pytest.raises(ConfigError, match="decoder_channels must be an int >= 1"):
        seg_core.create_model("upernet", encoder_depth=3, encoder_params=TINY, decoder_channels=0)
    with pytest.raises(ConfigError, match="decoder_segmentation_channels must be an int >= 1"):
        seg_core.create_model("segformer", encoder_depth=3, encoder_params=TINY, decoder_segmentation_channels=0)
