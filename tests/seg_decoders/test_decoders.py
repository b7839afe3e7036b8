"""Conformance, 3D, options, validation and smp parity tests for seg-decoders (CPU, tiny models)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import seg_core
import seg_decoders
from seg_core.errors import ConfigError, IncompatibleEncoderError
from seg_core.plugins import get_registry as registry
from seg_core.testing import check_architecture
from seg_decoders._plugin import ARCHITECTURES
from seg_decoders.compatibility import check_compatible, is_compatible

# every architecture this package registers (the registry may hold other packages' too)
ARCHS = sorted(ARCHITECTURES)
TINY = {"widths": [8, 8, 16, 16, 32]}
WIDE = {"widths": [16, 16, 32, 32, 32]}
TINY_3D = {"spatial_dims": 3, "widths": [4, 8, 8, 16, 16]}


def small(arch: str, depth: int) -> dict[str, Any]:
    """Narrow decoder options valid at ``depth``."""
    return {
        "unet": {"decoder_channels": [16] * depth},
        "unetplusplus": {"decoder_channels": [16] * depth},
        "manet": {"decoder_channels": [16] * depth, "decoder_pab_channels": 8},
        "linknet": {},
        "fpn": {"decoder_pyramid_channels": 16, "decoder_segmentation_channels": 32},
        "pspnet": {"psp_out_channels": 16},
        "pan": {"decoder_channels": 8},
        "deeplabv3": {"decoder_channels": 16, "decoder_atrous_rates": (1, 2, 3)},
        "deeplabv3plus": {"decoder_channels": 16, "decoder_atrous_rates": (1, 2, 3)},
    }[arch]


def build(arch: str, depth: int = 3, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    options = {**small(arch, depth), **kwargs}
    return seg_core.create_model(arch, encoder_depth=depth, encoder_params=params or TINY, **options)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_registry_lists_all_nine() -> None:
    assert len(ARCHS) == 9
    assert set(ARCHS) <= set(seg_core.list_architectures())
    for name in ARCHS:
        assert registry("architectures").source(name).distribution == "seg-decoders"
        cls = registry("architectures").get(name)
        assert cls.architecture_name == name
        assert getattr(seg_decoders, cls.__name__) is cls


@pytest.mark.parametrize("depth", [3, 4, 5])
@pytest.mark.parametrize("encoder", ["basic_cnn", "basic_cnn_s4"])
@pytest.mark.parametrize("arch", ARCHS)
def test_conformance_2d(arch: str, encoder: str, depth: int) -> None:
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


@pytest.mark.parametrize("arch", ARCHS)
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


@pytest.mark.parametrize("arch", ARCHS)
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


def test_unet_plus_plus_depth_1_works() -> None:
    model = seg_core.create_model("unetplusplus", encoder_depth=1, encoder_params=TINY, decoder_channels=[8])
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 1, 16, 16)


def test_deeplab_initializes_and_trains_at_batch_1() -> None:
    model = build("deeplabv3", 5, encoder_output_stride=8)
    assert model.encoder.output_stride == 8
    assert torch.count_nonzero(model.segmentation_head[0].bias) == 0  # initialize() ran (smp skips it)
    model.train()
    model(torch.randn(1, 3, 64, 64)).mean().backward()


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


@pytest.mark.parametrize(
    ("arch", "kwargs", "message"),
    [
        ("unet", {"classes": 0}, "classes must be an int >= 1, got 0"),
        ("unet", {"decoder_channels": [16, 8]}, "decoder_channels has 2 entries"),
        ("unet", {"decoder_use_norm": "batchnrm"}, "decoder_use_norm='batchnrm'"),
        ("unet", {"decoder_attention_type": "cbam"}, "decoder_attention_type must be None or 'scse'"),
        ("unet", {"decoder_attention_type": "scse", "decoder_channels": [16, 8, 8]}, "needs >= 16 channels"),
        ("unet", {"activation": "softmax3"}, "unknown activation 'softmax3'"),
        ("unet", {"decoder_interpolation": "cubic"}, "decoder_interpolation='cubic'"),
        ("unet", {"aux_params": {"classes": 2, "pooling": "gem"}}, "pooling must be 'avg' or 'max'"),
        ("fpn", {"decoder_segmentation_channels": 48}, "decoder_segmentation_channels must be a multiple of 32"),
        ("fpn", {"decoder_merge_policy": "mul"}, "decoder_merge_policy must be 'add' or 'cat'"),
        ("fpn", {"decoder_dropout": 1.5}, "decoder_dropout must be a float in"),
        ("deeplabv3", {"decoder_atrous_rates": (6, 12)}, "decoder_atrous_rates must be three ints"),
        ("deeplabv3", {"encoder_output_stride": 32}, "encoder_output_stride \\[8, 16\\], got 32"),
        ("pan", {"encoder_output_stride": 8}, "encoder_output_stride \\[16, 32\\], got 8"),
        ("pspnet", {"psp_out_channels": 0}, "psp_out_channels must be an int >= 1"),
        ("linknet", {"head_upsampling": (2, 2, 2)}, "head_upsampling must be None"),
    ],
)
def test_construction_errors(arch: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(arch, 3, **kwargs)


@pytest.mark.parametrize("arch", ["fpn", "pan", "deeplabv3plus"])
def test_depth_below_three_is_incompatible(arch: str) -> None:
    with pytest.raises(IncompatibleEncoderError, match="encoder_depth >= 3"):
        build(arch, 2)


def test_groupnorm_width_error_names_argument() -> None:
    with pytest.raises(ConfigError, match="decoder_use_norm='groupnorm'.*divisible"):
        build("unet", 3, decoder_use_norm="groupnorm")


def test_check_compatible() -> None:
    caps = seg_core.create_encoder("basic_cnn", depth=2).capabilities
    assert is_compatible("unet", caps)
    assert not is_compatible("fpn", caps)
    with pytest.raises(IncompatibleEncoderError, match="DeepLabV3Plus needs encoder_depth >= 3"):
        check_compatible("deeplabv3plus", caps)
    s4 = seg_core.create_encoder("basic_cnn_s4", depth=4).capabilities
    assert all(is_compatible(a, s4) for a in ARCHS)
    with pytest.raises(ConfigError, match="unknown seg-decoders architecture"):
        check_compatible("segformer", caps)


# decoder + segmentation-head parameter counts of smp 0.6 with resnet34's channels
# [3, 64, 64, 128, 256, 512], default arguments, classes=1 (read off smp once; PSPNet at its default depth 3).
SMP_DECODER_HEAD_PARAMS = {
    "unet": 3_151_697,
    "unetplusplus": 4_793_937,
    "manet": 10_498_961,
    "linknet": 487_265,
    "fpn": 1_870_721,
    "pspnet": 153_313,
    "pan": 191_144,
    "deeplabv3": 4_722_433,
    "deeplabv3plus": 1_152_785,
}


@pytest.mark.parametrize("arch", ARCHS)
def test_parameter_counts_match_smp(arch: str) -> None:
    depth = 3 if arch == "pspnet" else 5
    with torch.device("meta"):
        model = seg_core.create_model(arch, encoder_depth=depth, encoder_params={"widths": [64, 64, 128, 256, 512]})
    assert model.encoder.out_channels == [3, 64, 64, 128, 256, 512][: depth + 1]
    assert n_params(model.decoder) + n_params(model.segmentation_head) == SMP_DECODER_HEAD_PARAMS[arch]


def test_unet_hand_count() -> None:
    # Unet block = conv3x3(cin+skip -> out, no bias) + BN(out) + conv3x3(out -> out) + BN(out)
    def block(cin: int, skip: int, out: int) -> int:
        return 9 * (cin + skip) * out + 2 * out + 9 * out * out + 2 * out

    expected = (
        block(512, 256, 256) + block(256, 128, 128) + block(128, 64, 64) + block(64, 64, 32) + block(32, 0, 16)
    ) + (9 * 16 + 1)  # 3x3 head to one class
    assert expected == SMP_DECODER_HEAD_PARAMS["unet"]


def test_state_dict_keys_follow_smp_layout() -> None:
    model = build("deeplabv3plus", 5)
    keys = set(model.state_dict())
    for key in (
        "decoder.aspp.0.convs.0.0.weight",
        "decoder.aspp.0.convs.4.2.running_mean",
        "decoder.aspp.1.0.weight",
        "decoder.block1.0.weight",
        "decoder.block2.0.1.weight",
        "segmentation_head.0.weight",
    ):
        assert key in keys
    unet = set(build("unet", 3, decoder_attention_type="scse", decoder_channels=[32, 16, 16]).state_dict())
    assert "decoder.blocks.0.attention1.attention.cSE.1.weight" in unet
    assert "decoder.blocks.2.attention1.attention.cSE.1.weight" not in unet  # no skip there: not built


def test_encoder_params_flow_and_config_recorded() -> None:
    model = build("linknet", 4, in_channels=1, classes=4)
    assert model.encoder.in_channels == 1
    assert model.config["encoder_depth"] == 4 and model.config["classes"] == 4
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 4, 32, 32)
