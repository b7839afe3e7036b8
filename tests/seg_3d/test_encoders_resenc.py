"""nnU-Net's residual encoder (ResEnc M / L / XL): the contract, nnU-Net's topology, blocks, weights, models."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seg_core
from seg_3d.encoders.resenc import BasicBlockD, ResEncEncoder
from seg_3d.encoders.resenc_presets import RESENC_PRESETS
from seg_core.plugins import get_registry
from seg_core.testing import check_encoder

NAMES = ["resenc_m_3d", "resenc_l_3d", "resenc_xl_3d"]
ANISOTROPIC = ((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))
# nnU-Net's 6-stage 3D ResEnc (nnU-Net Revisited; residual_encoder_unet_planners.py), stage 0 first
NNUNET_BLOCKS = [1, 3, 4, 6, 6, 6]
NNUNET_FEATURES = [32, 64, 128, 256, 320, 320]
# nnU-Net's widths divided by 4 (stage 0 of 8 channels): the same code at a 16th of the compute
NARROW = {"base_features": 8}


def _shallow(depth: int = 4, **kwargs: Any) -> Any:
    """resenc_m_3d at depth 4 (reduction 16): the deepest map of a 16 x 32 x 32 input keeps more than one
    voxel (InstanceNorm needs it), and dilation to output stride 8 can be checked."""
    return seg_core.create_encoder("resenc_m_3d", depth=depth, **kwargs)


def test_m_conforms_with_default_strides() -> None:  # nnU-Net's widths
    report = check_encoder(_shallow, depths=(4,), in_channels=(1,), input_size=(16, 32, 32), batch_size=1)
    assert "torch.export" in report.checks
    assert "dilation to output stride 8" in report.checks


def test_m_conforms_with_anisotropic_strides() -> None:
    report = check_encoder(
        "resenc_m_3d",
        depths=(5,),
        in_channels=(1,),
        input_size=(16, 64, 64),  # the deepest map, reduced (8, 32, 32), keeps 2 voxels per axis
        batch_size=1,
        strides=ANISOTROPIC,
        check_compile=False,
        check_export=False,
        **NARROW,
    )
    assert "dilation to output stride 8" in report.checks
    assert report.checks[0].startswith("depth 5: 6 maps, channels [3, 16, 32, 64, 128, 256]")


@pytest.mark.parametrize("name", NAMES[1:])
def test_other_presets_conform_with_default_and_anisotropic_strides(name: str) -> None:
    # the presets share resenc_m_3d's network (see the topology test), so a lighter run each
    light: dict[str, Any] = {"in_channels": (), "batch_size": 1, "check_dilation": False, **NARROW}
    check_encoder(name, depths=(3,), input_size=16, check_compile=False, check_export=False, **light)
    check_encoder(name, depths=(3,), input_size=(4, 16, 16), strides=ANISOTROPIC[:3], check_export=False, **light)


def test_presets_have_nnunets_topology() -> None:
    for name in NAMES:
        with torch.device("meta"):
            encoder = seg_core.create_encoder(name)  # depth 5: nnU-Net's 6 stages
            shapes = {k: v.shape for k, v in encoder.state_dict().items()}
            reference = {k: v.shape for k, v in ResEncEncoder("m").state_dict().items()}
        assert encoder.preset is RESENC_PRESETS[name.split("_")[1]]
        assert [len(stage.blocks) for stage in encoder.stages] == NNUNET_BLOCKS
        assert encoder.out_channels == [3, *NNUNET_FEATURES[1:]]  # stage 0 runs before level 1
        assert encoder.reductions == [1, 2, 4, 8, 16, 32]  # nnU-Net's strides 2, 2, 2, 2, 2 after stage 0
        assert shapes == reference  # the presets differ only in what the planner does


def _conv(cin: int, cout: int, kernel: int, bias: bool = True) -> int:
    return cin * cout * kernel + (cout if bias else 0)


def _stage_params(cin: int, cout: int, blocks: int, kernel: int) -> int:
    """nnU-Net's BasicBlockD stage, by hand: conv-norm-act, conv-norm, a 1x1 projection when channels change."""
    norm = 2 * cout
    first = _conv(cin, cout, kernel) + norm + _conv(cout, cout, kernel) + norm
    if cin != cout:
        first += _conv(cin, cout, 1, bias=False) + norm
    return first + (blocks - 1) * 2 * (_conv(cout, cout, kernel) + norm)


def test_parameter_counts_match_a_hand_formula() -> None:
    with torch.device("meta"):
        encoder = ResEncEncoder("l", depth=5, in_channels=2, strides=ANISOTROPIC)
    volumes = [math.prod(k) for k in encoder.kernel_sizes]
    assert volumes == [9, 9, 27, 27, 27, 27]  # 1x3x3 until depth is downsampled (stage 0 as level 1)
    stem = sum(p.numel() for p in encoder.stem.parameters())
    assert stem == _conv(2, 32, 9) + 2 * 32
    cin = 32
    for stage, cout, blocks, kernel in zip(encoder.stages, NNUNET_FEATURES, NNUNET_BLOCKS, volumes):
        assert sum(p.numel() for p in stage.parameters()) == _stage_params(cin, cout, blocks, kernel)
        cin = cout


def test_kernels_follow_the_strides_or_the_plan() -> None:
    encoder = ResEncEncoder("m", depth=3, strides=ANISOTROPIC[:3])
    assert encoder.stem.convs[0].conv.kernel_size == (1, 3, 3)
    assert encoder.stages[0].blocks[0].conv1.conv.padding == (0, 1, 1)
    assert encoder.stages[1].blocks[0].conv1.conv.kernel_size == (1, 3, 3)
    assert encoder.stages[2].blocks[0].conv1.conv.kernel_size == (3, 3, 3)
    # nnU-Net's thick-slice plan (5 x 0.8 x 0.8 mm): its strides after stage 0's, and its kernels
    plan_strides = [(1, 1, 1), (1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2)]
    plan_kernels = [(1, 3, 3), (1, 3, 3), 3, 3, 3, 3]
    planned = ResEncEncoder("m", strides=plan_strides[1:], kernel_sizes=plan_kernels)
    got = [stage.blocks[0].conv1.conv.kernel_size for stage in planned.stages]
    assert got == [(1, 3, 3), (1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3)]
    assert planned.stages[2].blocks[0].conv1.conv.stride == (1, 2, 2)
    assert planned.axis_reductions[-1] == (8, 32, 32)
    with pytest.raises(seg_core.ConfigError, match="encoder_depth \\+ 1"):
        ResEncEncoder("m", depth=2, kernel_sizes=[3, 3])
    with pytest.raises(seg_core.ConfigError, match="odd"):
        ResEncEncoder("m", depth=2, kernel_sizes=[3, 3, 2])


def test_blocks_are_resnet_d_with_instance_norm_and_leaky_relu() -> None:
    encoder = ResEncEncoder("m", depth=2)
    first = encoder.stages[0].blocks[0]
    assert len(first.skip) == 0  # stride 1, 32 -> 32: identity
    down = encoder.stages[1].blocks[0]
    assert isinstance(down.skip[0], nn.AvgPool3d) and down.skip[0].kernel_size == (2, 2, 2)
    assert down.skip[1].conv.kernel_size == (1, 1, 1) and down.skip[1].conv.bias is None
    assert isinstance(down.conv1.norm, nn.InstanceNorm3d) and down.conv1.norm.affine
    assert down.conv1.nonlin.negative_slope == 0.01
    blocks = [b for b in encoder.modules() if isinstance(b, BasicBlockD)]
    assert len(blocks) == 1 + 3 + 4 and all(torch.count_nonzero(b.conv2.norm.weight) == 0 for b in blocks)


def _norm(x: torch.Tensor, norm: nn.Module) -> torch.Tensor:
    return F.instance_norm(x, weight=norm.weight, bias=norm.bias, eps=1e-5)


def test_block_matches_a_functional_reference() -> None:
    torch.manual_seed(0)
    block = BasicBlockD(4, 8, (1, 3, 3), (1, 2, 2), 3)
    for p in block.parameters():
        p.data.normal_()
    x = torch.randn(2, 4, 4, 8, 8)
    c1, c2, proj = block.conv1, block.conv2, block.skip[1]
    out = F.conv3d(x, c1.conv.weight, c1.conv.bias, stride=(1, 2, 2), padding=(0, 1, 1))
    out = F.leaky_relu(_norm(out, c1.norm), 0.01)
    out = _norm(F.conv3d(out, c2.conv.weight, c2.conv.bias, padding=(0, 1, 1)), c2.norm)
    skip = _norm(F.conv3d(F.avg_pool3d(x, (1, 2, 2)), proj.conv.weight), proj.norm)
    expected = F.leaky_relu(out + skip, 0.01)
    with torch.no_grad():
        assert torch.allclose(block(x), expected, atol=1e-5)


def test_dilation_keeps_the_skip_aligned_with_anisotropic_strides() -> None:
    encoder = ResEncEncoder("m", depth=4, strides=ANISOTROPIC[:4], output_stride=8).eval()
    assert encoder.axis_reductions[-1] == (4, 8, 8)
    assert encoder.min_input_size == (8, 16, 16)
    down = encoder.stages[4].blocks[0]  # level 4: (4, 16, 16) -> stride kept along depth only
    assert down.conv1.conv.stride == (2, 1, 1) and down.conv1.conv.dilation == (1, 2, 2)
    assert down.skip[0].kernel_size == (2, 1, 1)
    with torch.no_grad():
        assert encoder(torch.randn(1, 3, 8, 32, 32))[-1].shape[2:] == (2, 4, 4)


def _randomize(encoder: nn.Module) -> None:
    for module in encoder.modules():
        if isinstance(module, nn.InstanceNorm3d):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)


def test_checkpointing_gives_the_same_outputs_and_gradients() -> None:
    torch.manual_seed(0)
    plain = ResEncEncoder("m", depth=2, strides=ANISOTROPIC[:2], base_features=8)
    _randomize(plain)
    checkpointed = ResEncEncoder("m", depth=2, strides=ANISOTROPIC[:2], checkpointing=True, base_features=8)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 4, 16, 16)
    results = []
    for encoder in (plain, checkpointed):
        encoder.train()
        features = encoder(x)
        sum(f.square().mean() for f in features[1:]).backward()
        results.append((features, {n: p.grad for n, p in encoder.named_parameters()}))
    (f_plain, g_plain), (f_ckpt, g_ckpt) = results
    for a, b in zip(f_plain, f_ckpt):
        assert torch.allclose(a, b, atol=1e-6)
    for name, grad in g_plain.items():
        assert grad is not None and torch.count_nonzero(grad) > 0, name
        assert torch.allclose(grad, g_ckpt[name], atol=1e-6), name


def test_local_weights_load_and_other_weights_are_refused(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = ResEncEncoder("l", depth=2, in_channels=1)
    _randomize(source)
    source.eval()
    path = tmp_path / "resenc.pth"
    torch.save({f"encoder.{k}": v for k, v in source.state_dict().items()} | {"decoder.w": torch.zeros(1)}, path)
    loaded = ResEncEncoder("l", depth=2, in_channels=1, weights=path).eval()
    x = torch.randn(1, 1, 8, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded(x)[-1], source(x)[-1])
    with pytest.raises(seg_core.CheckpointError, match="does not fit"):
        ResEncEncoder("l", depth=3, in_channels=1, weights=path)
    with pytest.raises(seg_core.ConfigError, match="no pretrained weights"):
        seg_core.create_encoder("resenc_l_3d", weights="imagenet")


def test_invalid_arguments_are_named() -> None:
    with pytest.raises(seg_core.ConfigError, match="preset"):
        ResEncEncoder("s")
    with pytest.raises(seg_core.ConfigError, match="encoder_depth"):
        ResEncEncoder("m", depth=0)
    with pytest.raises(seg_core.ConfigError, match="encoder_depth"):
        ResEncEncoder("m", depth=13)
    with pytest.raises(seg_core.ConfigError, match="encoder_strides"):
        ResEncEncoder("m", depth=2, strides=[(1, 3, 3), 2])
    with pytest.raises(seg_core.ConfigError, match="encoder_output_stride"):
        ResEncEncoder("m", depth=3, output_stride=4)
    with pytest.raises(seg_core.ConfigError, match="base_features"):
        ResEncEncoder("m", depth=2, base_features=0)


def test_two_dimensional_configuration() -> None:
    report = check_encoder(
        _shallow,
        depths=(3,),
        in_channels=(1,),
        input_size=32,
        spatial_dims=2,
        check_compile=False,
        check_export=False,
        **NARROW,
    )
    assert "dilation to output stride 8" in report.checks
    assert report.checks
    with torch.device("meta"):
        encoder = ResEncEncoder("m", depth=7, spatial_dims=2)
    # nnU-Net's 2D plans: 8 stages of 32, 64, 128, 256, 512, 512, 512, 512 channels (capped at 512)
    assert encoder.out_channels[1:] == [64, 128, 256, 512, 512, 512, 512]


def test_registry_info_matches_the_built_encoders() -> None:
    registry = get_registry("encoders")
    for name in NAMES:
        info = registry.info(name)
        with torch.device("meta"):
            encoder = seg_core.create_encoder(name)
        assert tuple(info["out_channels"]) == tuple(encoder.out_channels), name
        assert tuple(info["reductions"]) == tuple(encoder.reductions), name
        assert info["family"] == "resenc"


def test_unet_with_anisotropic_strides_returns_the_input_shape() -> None:
    model = seg_core.create_model(
        "unet",
        encoder_name="resenc_m_3d",
        encoder_depth=4,
        encoder_strides=ANISOTROPIC[:4],
        encoder_params={"base_features": 16},
        in_channels=1,
        classes=2,
        decoder_channels=[32, 16, 16, 8],
    )
    assert model.encoder.axis_reductions[-1] == (4, 16, 16)
    assert model.min_input_size == (8, 32, 32)
    model.train()
    x = torch.randn(2, 1, 8, 32, 32)
    out = model(x)
    assert out.shape == (2, 2, 8, 32, 32)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


DECODERS = {
    "unet": {"decoder_channels": [16, 16, 8]},
    "unetplusplus": {"decoder_channels": [16, 16, 8]},
    "manet": {"decoder_channels": [16, 16, 8], "decoder_pab_channels": 8},
    "linknet": {},
    "fpn": {"decoder_pyramid_channels": 16, "decoder_segmentation_channels": 32},
    "pspnet": {"psp_out_channels": 16},
    "pan": {"decoder_channels": 8},
    "deeplabv3": {"decoder_channels": 16, "decoder_atrous_rates": (1, 2, 3)},
    "deeplabv3plus": {"decoder_channels": 16, "decoder_atrous_rates": (1, 2, 3)},
}


@pytest.mark.parametrize("arch", sorted(DECODERS))
def test_every_architecture_returns_the_input_shape(arch: str) -> None:
    model = seg_core.create_model(
        arch,
        encoder_name="resenc_m_3d",
        encoder_depth=3,
        encoder_strides=ANISOTROPIC[:3],
        in_channels=1,
        classes=2,
        **DECODERS[arch],
    ).eval()
    size = [math.ceil(m / d) * d for m, d in zip(model.min_input_size, model.input_divisor)]
    with torch.no_grad():
        assert model(torch.randn(1, 1, *size)).shape == (1, 2, *size)


def test_docs_presets_table_is_the_presets() -> None:
    page = (Path(__file__).parents[2] / "docs" / "3d" / "resenc.md").read_text(encoding="utf-8")
    for p in RESENC_PRESETS.values():
        row = (
            f"| {p.name.upper()} | `resenc_{p.name}_3d` | {p.gpu_memory_gb} GB | {p.reference_3d:,} | "
            f"{p.reference_2d:,} | {p.reference_batch_3d} / {p.reference_batch_2d} |"
        )
        assert row in page, row
