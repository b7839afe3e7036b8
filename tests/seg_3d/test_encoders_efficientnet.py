"""3D EfficientNet b0..b7: the encoder contract, strides and kernels, timm's structure, 2D weight inflation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import seg_core
from seg_3d.encoders.efficientnet import EFFICIENTNET_VARIANTS, EfficientNet3dEncoder
from seg_core.plugins import get_registry
from seg_core.testing import check_encoder

NAMES = [f"efficientnet_{v}_3d" for v in EFFICIENTNET_VARIANTS]
ANISOTROPIC = ((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))
IN_PLANE = ((1, 2, 2),) * 5  # depth never downsampled: every kernel is 1 x k x k
# timm's classifier, which the encoder does not build
HEAD = ("conv_head.", "bn2.", "classifier.")


def _timm_2d(variant: str) -> Any:
    """timm's 2D network with random weights and non-trivial BatchNorm statistics."""
    timm = pytest.importorskip("timm")  # the 2D reference (seg-3d's [pretrained] extra)
    torch.manual_seed(0)
    model = timm.create_model(f"efficientnet_{variant}", pretrained=False)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


def _timm_features(model: Any, x: torch.Tensor) -> list[torch.Tensor]:
    """The 2D pyramid with smp's levels: the stem, then after timm stages 1, 2, 4 and 6."""
    x = model.bn1(model.conv_stem(x))
    features = [x]
    for group in ((0, 1), (2,), (3, 4), (5, 6)):
        for index in group:
            x = model.blocks[index](x)
        features.append(x)
    return features


def _save_2d_weights(tmp_path: Path, variant: str = "b0") -> tuple[Any, Path]:
    model = _timm_2d(variant)
    path = tmp_path / f"efficientnet_{variant}.pth"
    torch.save(model.state_dict(), path)
    return model, path


def test_b0_conforms_with_default_strides() -> None:
    report = check_encoder("efficientnet_b0_3d", depths=(3, 5), in_channels=(1, 4), input_size=32)
    assert "torch.export" in report.checks
    assert "dilation to output stride 8" in report.checks


def test_b0_dilates_per_axis_with_anisotropic_strides() -> None:
    report = check_encoder(
        "efficientnet_b0_3d",
        depths=(5,),
        in_channels=(1,),
        input_size=32,
        batch_size=1,
        strides=ANISOTROPIC,
        check_compile=False,
        check_export=False,
    )
    assert "dilation to output stride 8" in report.checks
    encoder = seg_core.create_encoder("efficientnet_b0_3d", strides=ANISOTROPIC, output_stride=8)
    assert encoder.axis_reductions[-1] == (8, 8, 8)
    # levels 4 and 5 reduce (4, 16, 16) and (8, 32, 32): their strides stay along depth only
    assert encoder.blocks[3][0].conv_dw.stride == (2, 1, 1)
    assert encoder.blocks[5][0].conv_dw.stride == (2, 1, 1)
    assert encoder.blocks[5][0].conv_dw.dilation == (1, 4, 4)


@pytest.mark.parametrize("name", NAMES[1:])
def test_every_variant_conforms_with_default_and_anisotropic_strides(name: str) -> None:
    # b0 runs the whole kit above; the larger variants share its code, so a lighter run each
    light: dict[str, Any] = {"in_channels": (), "batch_size": 1, "check_compile": False, "check_export": False}
    check_encoder(name, depths=(3,), input_size=16, check_dilation=False, **light)
    check_encoder(name, depths=(5,), input_size=(8, 32, 32), strides=ANISOTROPIC, check_dilation=False, **light)
    encoder = seg_core.create_encoder(name, depth=2, strides=ANISOTROPIC[:2])
    assert encoder.axis_reductions == [(1, 1, 1), (1, 2, 2), (2, 4, 4)]


@pytest.mark.parametrize("variant", list(EFFICIENTNET_VARIANTS))
def test_module_names_and_shapes_are_timms(variant: str) -> None:
    timm = pytest.importorskip("timm")
    with torch.device("meta"):
        ours = EfficientNet3dEncoder(variant).state_dict()
        theirs = {
            k: v for k, v in timm.create_model(f"efficientnet_{variant}").state_dict().items() if not k.startswith(HEAD)
        }
    assert sorted(ours) == sorted(theirs)
    for key, value in theirs.items():
        shape = tuple(ours[key].shape)
        if value.ndim == 4:  # a 2D kernel: the 3D one has a depth axis after the channels
            shape = shape[:2] + shape[3:]
        assert shape == tuple(value.shape), key


def test_registry_info_matches_the_built_encoders() -> None:
    registry = get_registry("encoders")
    for name in NAMES:
        info = registry.info(name)
        with torch.device("meta"):
            encoder = seg_core.create_encoder(name)
        assert tuple(info["out_channels"]) == tuple(encoder.out_channels), name
        assert tuple(info["reductions"]) == tuple(encoder.reductions), name
        assert tuple(info["spatial_dims"]) == (3,)


def _kernels(encoder: EfficientNet3dEncoder) -> list[tuple[int, ...]]:
    """The depthwise kernel of the first block of each timm stage, after the stem's."""
    return [tuple(encoder.conv_stem.kernel_size)] + [tuple(stage[0].conv_dw.kernel_size) for stage in encoder.blocks]


def test_kernels_follow_the_strides() -> None:
    # stem (3x3), then timm stages with kernels 3, 3, 5, 3, 5, 5, 3 at levels 1, 2, 3, 4, 4, 5, 5
    isotropic = EfficientNet3dEncoder("b0")
    assert _kernels(isotropic) == [
        (3, 3, 3),
        (3, 3, 3),
        (3, 3, 3),
        (5, 5, 5),
        (3, 3, 3),
        (5, 5, 5),
        (5, 5, 5),
        (3, 3, 3),
    ]
    thick = EfficientNet3dEncoder("b0", strides=ANISOTROPIC)  # depth lags at level 1 only
    assert _kernels(thick) == [(1, 3, 3), (1, 3, 3), (3, 3, 3), (5, 5, 5), (3, 3, 3), (5, 5, 5), (5, 5, 5), (3, 3, 3)]
    thicker = EfficientNet3dEncoder("b0", strides=((1, 2, 2), (1, 2, 2), (2, 2, 2), 2, 2))  # levels 1-2
    assert _kernels(thicker) == [(1, 3, 3), (1, 3, 3), (1, 3, 3), (5, 5, 5), (3, 3, 3), (5, 5, 5), (5, 5, 5), (3, 3, 3)]
    padded = thicker.blocks[1][0].conv_dw
    assert padded.padding == (0, 1, 1) and padded.stride == (1, 2, 2)


def test_inflated_weights_give_the_2d_features_on_every_slice(tmp_path: Path) -> None:
    model_2d, path = _save_2d_weights(tmp_path)
    encoder = EfficientNet3dEncoder("b0", weights=path, strides=IN_PLANE).eval()
    image = torch.randn(1, 3, 64, 64)
    volume = image.unsqueeze(2).expand(1, 3, 3, 64, 64).contiguous()
    with torch.no_grad():
        expected = _timm_features(model_2d, image)
        got = encoder(volume)[1:]
    for level, (ref, out) in enumerate(zip(expected, got), start=1):
        assert out.shape[2] == 3
        for z in range(3):
            assert torch.allclose(out[:, :, z], ref, atol=1e-4), f"level {level}, slice {z}"


def test_inflated_3x3x3_stem_gives_the_2d_stem_on_central_slices(tmp_path: Path) -> None:
    model_2d, path = _save_2d_weights(tmp_path)
    encoder = EfficientNet3dEncoder("b0", weights=path, depth=1).eval()
    assert encoder.conv_stem.kernel_size == (3, 3, 3)
    image = torch.randn(1, 3, 32, 32)
    volume = image.unsqueeze(2).expand(1, 3, 8, 32, 32).contiguous()
    with torch.no_grad():
        expected = model_2d.bn1(model_2d.conv_stem(image))
        got = encoder(volume)[1]
    for z in (1, 2, 3):  # slices whose 3-deep window stays inside the volume
        assert torch.allclose(got[:, :, z], expected, atol=1e-4)
    assert not torch.allclose(got[:, :, 0], expected, atol=1e-4)  # the border slice sees zero padding


def test_one_channel_from_2d_weights_sums_the_rgb_kernels(tmp_path: Path) -> None:
    _, path = _save_2d_weights(tmp_path)
    rgb = EfficientNet3dEncoder("b0", weights=path, depth=2).eval()
    gray = EfficientNet3dEncoder("b0", weights=path, depth=2, in_channels=1).eval()
    volume = torch.randn(1, 1, 16, 16, 16)
    with torch.no_grad():
        assert torch.allclose(gray(volume)[2], rgb(volume.expand(1, 3, 16, 16, 16))[2], atol=1e-4)


def test_weights_that_do_not_fit_are_rejected(tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    torch.save({"conv_stem.weight": torch.zeros(32, 3, 3, 3)}, other)
    with pytest.raises(seg_core.CheckpointError, match="does not cover"):
        EfficientNet3dEncoder("b0", weights=other, depth=2)
    with pytest.raises(seg_core.ConfigError, match="encoder_weights"):
        EfficientNet3dEncoder("b0", weights=123, depth=2)  # type: ignore[arg-type]


def test_invalid_arguments_are_named() -> None:
    with pytest.raises(seg_core.ConfigError, match="variant"):
        EfficientNet3dEncoder("b9")
    with pytest.raises(seg_core.ConfigError, match="encoder_depth"):
        EfficientNet3dEncoder("b0", depth=6)
    with pytest.raises(seg_core.ConfigError, match="encoder_strides"):
        EfficientNet3dEncoder("b0", depth=2, strides=[(1, 2, 2)])
    with pytest.raises(seg_core.ConfigError, match="encoder_output_stride"):
        EfficientNet3dEncoder("b0", output_stride=4)


def test_checkpointing_gives_the_same_outputs_and_gradients() -> None:
    torch.manual_seed(0)
    plain = EfficientNet3dEncoder("b0", depth=4, strides=ANISOTROPIC[:4])
    checkpointed = EfficientNet3dEncoder("b0", depth=4, strides=ANISOTROPIC[:4], checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 8, 32, 32)
    results = []
    for encoder in (plain, checkpointed):
        encoder.train()
        features = encoder(x)
        sum(f.square().mean() for f in features[1:]).backward()
        results.append((features, {n: p.grad for n, p in encoder.named_parameters()}))
    (f_plain, g_plain), (f_ckpt, g_ckpt) = results
    for a, b in zip(f_plain, f_ckpt):
        assert torch.allclose(a, b, atol=1e-6)
    assert all(g is not None for g in g_plain.values())
    for name, grad in g_plain.items():
        assert torch.allclose(grad, g_ckpt[name], atol=1e-6), name
