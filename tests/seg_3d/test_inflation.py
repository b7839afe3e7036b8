"""2D -> 3D weight inflation: the 3D encoders against timm's 2D networks on volumes constant along depth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import seg_core
from seg_core.errors import CheckpointError
from seg_core.io import safetensors_bytes

timm = pytest.importorskip("timm")

#: The 2D modules whose outputs are the encoders' levels 1..5 (timm's features_only taps).
TAPS = {
    "resnet18": ["act1", "layer1", "layer2", "layer3", "layer4"],
    "densenet121": [
        "features.norm0",
        "features.denseblock1",
        "features.denseblock2",
        "features.denseblock3",
        "features.norm5",
    ],
}
ANISOTROPIC = ((1, 2, 2), (2, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2))


def _network_2d(name: str, seed: int = 0) -> nn.Module:
    """timm's 2D network with random weights, norms included (their defaults would hide key mix-ups)."""
    torch.manual_seed(seed)
    model = timm.create_model(name, pretrained=False)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            module.weight.data = torch.rand(c) * 0.5 + 0.75
            module.bias.data = torch.randn(c) * 0.1
            module.running_mean = torch.randn(c) * 0.1
            module.running_var = torch.rand(c) + 0.5
    return model.eval()


def _save(model: nn.Module, path: Path) -> Path:
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        path.write_bytes(safetensors_bytes(state))
    else:
        torch.save(state, path)
    return path


def _features_2d(model: nn.Module, name: str, x: torch.Tensor) -> list[torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    hooks = [
        model.get_submodule(tap).register_forward_hook(
            lambda _m, _i, out, tap=tap: found.__setitem__(tap, out.detach().clone())
        )
        for tap in TAPS[name]
    ]
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return [found[tap] for tap in TAPS[name]]


def _replicate_depth_padding(model: nn.Module) -> None:
    """Test harness: pad convolutions along depth by edge replication instead of zeros.

    With zero padding a border slice sees zeros past the volume, which the 2D network never does;
    with replication a volume constant along depth stays constant through every layer (max-pools
    pad with -inf, the transitions' average pools do not pad), so every level must equal the 2D
    network's features at every depth position, however deep the receptive field.
    """
    for module in model.modules():
        if isinstance(module, nn.Conv3d) and module.kernel_size[0] > 1:
            pad = module.padding[0]
            assert isinstance(pad, int)
            module.padding = (0, *module.padding[1:])
            module.register_forward_pre_hook(
                lambda _m, args, pad=pad: (F.pad(args[0], (0, 0, 0, 0, pad, pad), mode="replicate"),)
            )


def _volume(x2d: torch.Tensor, depth: int) -> torch.Tensor:
    return x2d.unsqueeze(2).expand(-1, -1, depth, -1, -1).contiguous()


def _assert_levels_match(feats_3d: list[torch.Tensor], feats_2d: list[torch.Tensor]) -> None:
    """Every depth slice of every 3D level equals the 2D level."""
    for level, (f3, f2) in enumerate(zip(feats_3d, feats_2d), start=1):
        assert f3.shape[1:2] + f3.shape[3:] == f2.shape[1:], f"level {level}"
        for index in range(f3.shape[2]):
            torch.testing.assert_close(f3[:, :, index], f2, atol=1e-5, rtol=1e-5, msg=f"level {level} slice {index}")


@pytest.mark.parametrize(
    ("name", "strides", "suffix", "size"),
    [
        ("resnet18", None, ".safetensors", (8, 64, 64)),
        ("resnet18", None, ".pth", (8, 64, 64)),
        ("resnet18", ANISOTROPIC, ".safetensors", (8, 64, 64)),
        ("densenet121", None, ".pth", (32, 32, 32)),  # its transitions pool by 2 without padding: depth >= 2 each
        ("densenet121", ANISOTROPIC, ".safetensors", (16, 32, 32)),
    ],
)
def test_inflated_encoder_matches_2d_network(
    tmp_path: Path, name: str, strides: Any, suffix: str, size: tuple[int, int, int]
) -> None:
    net = _network_2d(name)
    path = _save(net, tmp_path / f"{name}{suffix}")
    encoder = seg_core.create_encoder(f"{name}_3d", weights=str(path), strides=strides).eval()
    stem = encoder.get_submodule(encoder._first_conv).kernel_size
    assert stem == ((7, 7, 7) if strides is None else (1, 7, 7))
    _replicate_depth_padding(encoder)
    encoder.double()
    net.double()
    x2d = torch.randn(1, 3, *size[1:], dtype=torch.float64)
    with torch.no_grad():
        feats = encoder(_volume(x2d, size[0]))[1:]
    _assert_levels_match(feats, _features_2d(net, name, x2d))


def test_central_slice_matches_with_zero_padding(tmp_path: Path) -> None:
    """No harness: where the receptive field stays inside the volume, the real encoder equals the 2D one."""
    net = _network_2d("resnet18").double()
    path = _save(net, tmp_path / "resnet18.pth")
    encoder = seg_core.create_encoder("resnet18_3d", depth=2, weights=str(path)).eval().double()
    x2d = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        level1, level2 = encoder(_volume(x2d, 48))[1:]
    ref1, ref2 = _features_2d(net, "resnet18", x2d)[:2]
    assert (level1.shape[2], level2.shape[2]) == (24, 12)
    # level 1's slice 12 sees input slices 21..27; level 2's slice 6 sees 3..45 of 0..47
    torch.testing.assert_close(level1[:, :, 12], ref1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(level2[:, :, 6], ref2, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(level2[:, :, 0], ref2, atol=1e-3)  # the border slice sees the zero padding


@pytest.mark.parametrize("in_channels", [1, 4])
def test_in_channels_are_adapted_as_in_2d(tmp_path: Path, in_channels: int) -> None:
    """1 channel: the RGB kernels summed, i.e. the 2D network on the grey image repeated 3 times;
    4 channels: RGBR x 3/4, i.e. the 2D network on ``3/4 (x0 + x3, x1, x2)``."""
    net = _network_2d("resnet18").double()
    path = _save(net, tmp_path / "resnet18.safetensors")
    encoder = seg_core.create_encoder("resnet18_3d", in_channels=in_channels, weights=str(path)).eval()
    assert encoder.conv1.in_channels == in_channels and encoder.out_channels[0] == in_channels
    _replicate_depth_padding(encoder)
    encoder.double()
    x = torch.randn(1, in_channels, 64, 64, dtype=torch.float64)
    if in_channels == 1:
        x_rgb = x.expand(-1, 3, -1, -1)
    else:
        x_rgb = 0.75 * torch.stack([x[:, 0] + x[:, 3], x[:, 1], x[:, 2]], dim=1)
    with torch.no_grad():
        feats = encoder(_volume(x, 4))[1:]
    _assert_levels_match(feats, _features_2d(net, "resnet18", x_rgb))


def test_3d_file_is_loaded_as_is(tmp_path: Path) -> None:
    torch.manual_seed(1)
    source = seg_core.create_encoder("densenet121_3d", depth=3, in_channels=1, strides=ANISOTROPIC[:3]).eval()
    path = tmp_path / "densenet3d.safetensors"
    path.write_bytes(safetensors_bytes({k: v.contiguous() for k, v in source.state_dict().items()}))
    loaded = seg_core.create_encoder(
        "densenet121_3d", depth=3, in_channels=1, strides=ANISOTROPIC[:3], weights=str(path)
    ).eval()
    x = torch.randn(1, 1, 4, 32, 32)
    with torch.no_grad():
        for a, b in zip(source(x), loaded(x)):
            torch.testing.assert_close(a, b, atol=0, rtol=0)
    two = seg_core.create_encoder("densenet121_3d", depth=3, in_channels=2, strides=ANISOTROPIC[:3], weights=str(path))
    stem = source.features.conv0.weight
    torch.testing.assert_close(two.features.conv0.weight, torch.cat([stem, stem], 1) / 2)


def test_3d_file_for_other_strides_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r18.pth"
    torch.save(seg_core.create_encoder("resnet18_3d", depth=2, strides=ANISOTROPIC[:2]).state_dict(), path)
    with pytest.raises(CheckpointError, match=r"r18\.pth.*encoder_strides"):
        seg_core.create_encoder("resnet18_3d", depth=2, weights=str(path))


def test_corrupt_and_foreign_files_name_the_file(tmp_path: Path) -> None:
    for name, data in (("broken.pth", b"not a pickle"), ("broken.safetensors", b"\x08\x00\x00\x00\x00\x00\x00\x00{")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
            seg_core.create_encoder("resnet18_3d", depth=1, weights=str(path))
    with pytest.raises(CheckpointError, match=r"missing\.pth"):
        seg_core.create_encoder("resnet18_3d", depth=1, weights=str(tmp_path / "missing.pth"))
    dense = _save(_network_2d("densenet121"), tmp_path / "dense.pth")
    with pytest.raises(CheckpointError, match=r"dense\.pth.*conv1\.weight"):
        seg_core.create_encoder("resnet18_3d", depth=1, weights=str(dense))
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in _network_2d("resnet18").state_dict().items() if "layer1.1" not in k}, partial)
    with pytest.raises(CheckpointError, match=r"partial\.pth does not cover .*layer1\.1\.conv1\.weight"):
        seg_core.create_encoder("resnet18_3d", depth=2, weights=str(partial))


def test_timm_tags_are_fetched_through_timm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    net = _network_2d("resnet18", seed=3)
    asked: list[tuple[str, bool]] = []

    def fake_create_model(name: str, pretrained: bool = False, **_: Any) -> nn.Module:
        asked.append((name, pretrained))
        if name.endswith("missing_tag"):
            raise RuntimeError("offline: no cached weights")
        return net

    monkeypatch.setattr(timm, "create_model", fake_create_model)
    by_tag = seg_core.create_encoder("resnet18_3d", depth=3, weights="imagenet", in_channels=1)
    seg_core.create_encoder("resnet18_3d", depth=1, weights="a1_in1k")
    assert asked == [("resnet18", True), ("resnet18.a1_in1k", True)]
    by_file = seg_core.create_encoder(
        "resnet18_3d", depth=3, weights=str(_save(net, tmp_path / "r.pth")), in_channels=1
    )
    for (key, a), b in zip(by_tag.state_dict().items(), by_file.state_dict().values()):
        torch.testing.assert_close(a, b, msg=key)
    with pytest.raises(CheckpointError, match="resnet18.missing_tag"):
        seg_core.create_encoder("resnet18_3d", depth=1, weights="missing_tag")
