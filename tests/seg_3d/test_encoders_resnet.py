"""seg-3d's ResNet / ResNeXt / DenseNet encoders: contract, strides, kernels, dilation, checkpointing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import seg_core
from seg_3d._plugin import RESNET_ENCODERS
from seg_3d.encoders.densenet import DENSENET_VARIANTS, DenseNet3dEncoder
from seg_3d.encoders.resnet import RESNET_VARIANTS, ResNet3dEncoder
from seg_core.errors import ConfigError
from seg_core.plugins import get_registry
from seg_core.testing import check_encoder

NAMES = [name for name, _, _ in RESNET_ENCODERS]
LIGHT = ("resnet18_3d", "densenet121_3d")
ANISOTROPIC = ((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))
PATTERNS = {"default": None, "anisotropic": ANISOTROPIC}
VARIANTS = {**RESNET_VARIANTS, **DENSENET_VARIANTS}


def test_every_name_is_registered_by_seg_3d() -> None:
    assert len(NAMES) == 11
    registry = get_registry("encoders")
    for name, target, info in RESNET_ENCODERS:
        assert registry.source(name).distribution == "seg-3d"
        assert target.endswith(f":{name}")
        assert info["spatial_dims"] == (3,)
        assert info["family"] in ("resnet_3d", "densenet_3d")


def _factory(name: str, strides: tuple[tuple[int, int, int], ...] | None) -> Callable[..., Any]:
    """``name`` with the first ``depth`` of ``strides`` at every depth check_encoder builds."""

    def build(depth: int = 5, **kwargs: Any) -> Any:
        if strides is not None:
            kwargs["strides"] = strides[:depth]
        return seg_core.create_encoder(name, depth=depth, **kwargs)

    build.__name__ = name
    return build


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("name", NAMES)
def test_check_encoder(name: str, pattern: str) -> None:
    """The conformance kit at 32^3 (8x32x32 when anisotropic).

    The two light encoders (one per family, whose code the others share) get every check: several
    depths and channel counts, dilation, and torch.compile / torch.export; the heavy ones one build
    at depth 5, which checks their channels, strides and spatial sizes.
    """
    light = name in LIGHT
    default = pattern == "default"
    report = check_encoder(
        _factory(name, PATTERNS[pattern]),
        depths=((1, 3, 5) if default else (3, 5)) if light else (5,),
        in_channels=((1, 4) if default else (1,)) if light else (),
        input_size=32 if default else (8, 32, 32),
        batch_size=1,
        check_dilation=light,
        check_compile=light and default,
        check_export=light and default,
    )
    assert "in_channels=0 rejected" in report.checks
    channels = list(get_registry("encoders").info(name)["out_channels"])
    assert any(f"channels {channels}, reductions [1, 2, 4, 8, 16, 32]" in check for check in report.checks)


def test_out_channels_follow_timm() -> None:
    """The registry's channels and reductions (which the encoders are checked against) are timm's 2D ones."""
    timm = pytest.importorskip("timm")
    for name, _, info in RESNET_ENCODERS:
        with torch.device("meta"):  # no weights are initialised: only the structure is read
            model = timm.create_model(name.removesuffix("_3d"), pretrained=False, features_only=True)
        assert (3, *model.feature_info.channels()) == info["out_channels"], name
        assert (1, *model.feature_info.reduction()) == info["reductions"], name
        assert (3, *VARIANTS[name.removesuffix("_3d")].out_channels) == info["out_channels"], name


@pytest.mark.parametrize("name", LIGHT)
def test_anisotropic_reductions_per_axis(name: str) -> None:
    encoder = seg_core.create_encoder(name, strides=ANISOTROPIC).eval()
    expected = [(1, 1, 1), (1, 2, 2), (2, 4, 4), (2, 8, 8), (4, 16, 16), (8, 32, 32)]
    assert encoder.axis_reductions == expected
    assert encoder.reductions == [1, 2, 4, 8, 16, 32]
    with torch.no_grad():
        feats = encoder(torch.randn(1, 3, 8, 32, 32))
    assert [tuple(f.shape[2:]) for f in feats] == [(8 // d, 32 // h, 32 // w) for d, h, w in expected]


THICK = ((1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2))


def test_resnet_kernels_follow_the_strides() -> None:
    encoder = ResNet3dEncoder("resnet18", strides=THICK)
    assert encoder.conv1.kernel_size == (1, 7, 7) and encoder.conv1.padding == (0, 3, 3)
    assert encoder.maxpool.kernel_size == (1, 3, 3) and encoder.maxpool.stride == (1, 2, 2)
    for block in encoder.layer1:
        assert block.conv1.kernel_size == block.conv2.kernel_size == (1, 3, 3)
    assert encoder.layer2[0].conv1.kernel_size == (3, 3, 3) and encoder.layer2[0].conv1.stride == (2, 2, 2)
    once = ResNet3dEncoder("resnet50", depth=3, strides=ANISOTROPIC[:3])
    assert once.conv1.kernel_size == (1, 7, 7)
    assert once.maxpool.kernel_size == (3, 3, 3)  # depth was downsampled at level 2: full kernels from there on
    assert once.layer2[0].conv2.kernel_size == (3, 3, 3) and once.layer2[0].conv2.stride == (1, 2, 2)
    assert once.layer2[0].downsample[0].stride == (1, 2, 2)


def test_densenet_kernels_follow_the_strides() -> None:
    encoder = DenseNet3dEncoder("densenet121", depth=3, strides=THICK[:3])
    features = encoder.features
    assert features.conv0.kernel_size == (1, 7, 7)
    assert features.pool0.kernel_size == (1, 3, 3)
    assert features.denseblock1.denselayer1.conv2.kernel_size == (1, 3, 3)
    assert features.transition1.pool.kernel_size == (2, 2, 2)
    assert features.denseblock2.denselayer1.conv2.kernel_size == (3, 3, 3)


@pytest.mark.parametrize("name", LIGHT)
def test_lagging_levels_never_mix_slices(name: str) -> None:
    """A 1xkxk level is a 2D network per slice: changing one slice changes only that slice's features."""
    encoder = seg_core.create_encoder(name, depth=2, strides=THICK[:2]).eval()
    x = torch.randn(1, 3, 6, 16, 16)
    y = x.clone()
    y[:, :, 2] += 1.0
    with torch.no_grad():
        a, b = encoder(x)[2], encoder(y)[2]
    changed = (a - b).abs().amax(dim=(0, 1, 3, 4))
    assert changed[2] > 0
    assert torch.count_nonzero(changed) == 1


def test_per_axis_dilation() -> None:
    encoder = ResNet3dEncoder("resnet18", strides=ANISOTROPIC, output_stride=16).eval()
    assert encoder.axis_reductions[-1] == (8, 16, 16)
    conv = encoder.layer4[0].conv1
    assert conv.stride == (2, 1, 1) and conv.dilation == (1, 2, 2) and conv.padding == (1, 2, 2)
    assert encoder.layer4[0].downsample[0].stride == (2, 1, 1)
    assert encoder.layer3[0].conv1.stride == (2, 2, 2)  # level 4 reaches exactly 16: kept
    with torch.no_grad():
        out = encoder(torch.randn(1, 3, 16, 32, 32))[-1]
    assert tuple(out.shape[2:]) == (2, 2, 2)
    eight = ResNet3dEncoder("resnet18", strides=ANISOTROPIC, output_stride=8)
    assert eight.axis_reductions[-2:] == [(4, 8, 8), (8, 8, 8)]
    assert eight.layer4[0].conv1.dilation == (1, 4, 4) and eight.layer4[0].conv1.stride == (2, 1, 1)
    with pytest.raises(ConfigError, match="already dilated"):
        eight.make_dilated(16)


def test_densenet_cannot_be_dilated() -> None:
    with pytest.raises(ConfigError, match=r"encoder_output_stride=16.*average pooling|average pooling.*16"):
        DenseNet3dEncoder("densenet121", output_stride=16)
    assert DenseNet3dEncoder("densenet121", depth=3, output_stride=8).output_stride == 8  # nothing to dilate


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 0}, "encoder_depth"),
        ({"depth": 6}, "encoder_depth"),
        ({"in_channels": 0}, "in_channels"),
        ({"strides": [2, 2]}, "encoder_strides has 2 entries"),
        ({"strides": [(1, 2), 2, 2, 2, 2]}, r"encoder_strides\[0\]"),
        ({"output_stride": 4}, "encoder_output_stride"),
        ({"checkpointing": "yes"}, "checkpointing"),
        ({"weights": 3}, "encoder_weights"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ResNet3dEncoder("resnet18", **kwargs)  # type: ignore[arg-type]


def test_unknown_variant() -> None:
    with pytest.raises(ConfigError, match="resnet18"):
        ResNet3dEncoder("resnet19")
    with pytest.raises(ConfigError, match="densenet121"):
        DenseNet3dEncoder("densenet122")


@pytest.mark.parametrize("name", LIGHT)
def test_checkpointing_gives_the_same_outputs_and_gradients(name: str) -> None:
    torch.manual_seed(0)
    plain = seg_core.create_encoder(name, depth=3, in_channels=1, strides=ANISOTROPIC[:3])
    saved = seg_core.create_encoder(name, depth=3, in_channels=1, strides=ANISOTROPIC[:3], checkpointing=True)
    saved.load_state_dict(plain.state_dict())
    x = torch.randn(2, 1, 4, 16, 16)
    outs = []
    for encoder in (plain, saved):
        encoder.train()
        feats = encoder(x)
        sum(f.square().mean() for f in feats[1:]).backward()
        outs.append((feats, {n: p.grad.clone() for n, p in encoder.named_parameters()}))
    for a, b in zip(outs[0][0], outs[1][0]):
        torch.testing.assert_close(a, b)
    assert outs[0][1].keys() == outs[1][1].keys()
    for key, grad in outs[0][1].items():
        torch.testing.assert_close(grad, outs[1][1][key], msg=key)
    # the running statistics were updated once per forward, not again by the recomputation
    torch.testing.assert_close(dict(plain.named_buffers()), dict(saved.named_buffers()))


def test_checkpointing_keeps_frozen_norms_frozen() -> None:
    encoder = ResNet3dEncoder("resnet18", depth=2, checkpointing=True).train()
    encoder.bn1.eval()
    encoder.layer1[0].bn1.eval()
    before = encoder.bn1.running_mean.clone()
    encoder(torch.randn(1, 3, 8, 16, 16)).pop().mean().backward()
    assert not encoder.bn1.training and not encoder.layer1[0].bn1.training
    assert torch.equal(encoder.bn1.running_mean, before)
