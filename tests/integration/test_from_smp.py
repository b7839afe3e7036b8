"""``seg_decoders.from_smp``: checkpoints in smp's on-disk format become equivalent seg models.

Two kinds of fixtures, neither needs smp at test time:

* ``tests/fixtures/smp/<case>``: tiny checkpoints written by smp 0.6 itself
  (``packages/seg-decoders/scripts/make_smp_fixtures.py``) with smp's output for a stored input;
* checkpoints built here in smp's key layout (native ``encoder.<resnet keys>``, ``tu-``
  ``encoder.model.<timm keys>``) from a seg model, for all nine architectures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("SEG_STRICT_PLUGINS", "1")

torch = pytest.importorskip("torch")
pytest.importorskip("seg_encoders_timm")

import seg_decoders  # noqa: E402
from seg_core.errors import CheckpointError, ConfigError  # noqa: E402
from seg_core.io import load_safetensors as load_file  # noqa: E402
from seg_core.io import safetensors_bytes as save_bytes  # noqa: E402
from seg_decoders.smp_import import _use_smp_pab_layout, smp_encoder_to_seg  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "smp"
REAL_CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "config.json").is_file()) if FIXTURES.is_dir() else []

#: smp class -> (tiny smp constructor arguments, input size)
ARCHS: dict[str, tuple[dict[str, Any], int]] = {
    "Unet": ({"decoder_channels": (16, 16, 8, 8, 8)}, 64),
    "UnetPlusPlus": ({"decoder_channels": (16, 16, 8, 8, 8)}, 64),
    "MAnet": ({"decoder_channels": (16, 16, 8, 8, 8), "decoder_pab_channels": 8}, 64),
    "Linknet": ({}, 64),
    "FPN": ({"decoder_pyramid_channels": 32, "decoder_segmentation_channels": 32}, 64),
    "PSPNet": ({"psp_out_channels": 16}, 64),
    "PAN": ({"decoder_channels": 8}, 128),
    "DeepLabV3": ({"decoder_channels": 16, "encoder_output_stride": 8}, 64),
    "DeepLabV3Plus": ({"decoder_channels": 16, "encoder_output_stride": 16}, 64),
}
SMP_UPSAMPLING = {"FPN": 4, "PSPNet": 8, "PAN": 4, "DeepLabV3Plus": 4}


def save_file(tensors: dict[str, Any], path: Path) -> None:
    path.write_bytes(save_bytes({k: v.contiguous() for k, v in tensors.items()}))


def _randomise(model: Any) -> Any:
    """Non-trivial BatchNorm statistics and biases, so a wrong mapping changes the output."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.copy_(torch.randn(module.num_features, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(module.num_features, generator=gen) + 0.5)
    return model.eval()


def _to_smp_layout(model: Any, native: bool) -> dict[str, Any]:
    """Rename a seg model's keys to smp's: ``encoder.`` (native) or ``encoder.model.`` (tu-)."""
    prefix = "encoder.backbone.model."
    state = model.state_dict()
    assert any(k.startswith(prefix) for k in state), list(state)[:5]
    smp_prefix = "encoder." if native else "encoder.model."
    return {(smp_prefix + k[len(prefix) :] if k.startswith(prefix) else k): v.clone() for k, v in state.items()}


def _seg_model(arch: str, encoder: str, kwargs: dict[str, Any]) -> Any:
    torch.manual_seed(0)
    extra = {"upsampling": SMP_UPSAMPLING[arch]} if arch in SMP_UPSAMPLING else {}
    model = getattr(seg_decoders, arch)(encoder_name=encoder, **extra, **kwargs)
    if arch == "MAnet":  # smp reshapes the PAB output without a transpose; the real fixture checks that part
        _use_smp_pab_layout(model)
    return _randomise(model)


def _max_diff(a: Any, b: Any) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max())


@pytest.mark.parametrize("case", REAL_CASES)
def test_checkpoints_written_by_smp_give_smps_outputs(case: str) -> None:
    folder = FIXTURES / case
    model = seg_decoders.from_smp(folder)
    assert not model.training
    io = load_file(folder / "io.safetensors")
    with torch.no_grad():
        out = model(io["input"])
    if "labels" in io:
        out, labels = out
        assert _max_diff(labels, io["labels"]) < 1e-5
    assert _max_diff(out, io["output"]) < 1e-5


def test_real_fixtures_cover_every_architecture() -> None:
    classes = {json.loads((FIXTURES / c / "config.json").read_text())["_model_class"] for c in REAL_CASES}
    assert classes == set(ARCHS)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_tu_layout_all_architectures(arch: str, tmp_path: Path) -> None:
    kwargs, size = ARCHS[arch]
    reference = _seg_model(arch, "tu-test_resnet", kwargs)
    folder = tmp_path / "smp"
    folder.mkdir()
    config = {"_model_class": arch, "encoder_name": "tu-test_resnet", "encoder_weights": "imagenet", **kwargs}
    (folder / "config.json").write_text(json.dumps(config))
    save_file(_to_smp_layout(reference, native=False), folder / "model.safetensors")
    imported = seg_decoders.from_smp(folder)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        assert _max_diff(imported(x), reference(x)) < 1e-5


@pytest.mark.parametrize("arch", ["Unet", "MAnet", "FPN", "PSPNet"])
def test_native_resnet_layout_state_dict(arch: str) -> None:
    kwargs, size = ARCHS[arch]
    reference = _seg_model(arch, "tu-resnet18", kwargs)
    state = _to_smp_layout(reference, native=True)
    assert "encoder.conv1.weight" in state
    imported = seg_decoders.from_smp(state, arch, encoder_name="resnet18", **kwargs)
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        assert _max_diff(imported(x), reference(x)) < 1e-5


def test_native_encoder_unused_stages_are_dropped() -> None:
    """smp's native encoders keep layer3/layer4 at depth 2; they never run, seg does not build them."""
    kwargs = {"encoder_depth": 2, "decoder_channels": (16, 8)}
    reference = _seg_model("Unet", "tu-resnet18", kwargs)
    state = _to_smp_layout(reference, native=True)
    assert not any(k.startswith("encoder.layer4.") for k in state)
    state["encoder.layer4.0.conv1.weight"] = torch.zeros(512, 256, 3, 3)
    imported = seg_decoders.from_smp(state, "unet", encoder_name="resnet18", **kwargs)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert _max_diff(imported(x), reference(x)) < 1e-5


@pytest.mark.parametrize(("arch", "output_stride", "rates"), [("DeepLabV3", 8, (2, 4)), ("PAN", 16, (1, 2))])
def test_native_dilation_follows_smp(arch: str, output_stride: int, rates: tuple[int, int]) -> None:
    """smp dilates every conv of a native ResNet stage with the stage's rate (timm keeps 1 in the first)."""
    kwargs, size = ARCHS[arch]
    kwargs = {**kwargs, "encoder_output_stride": output_stride}
    reference = _seg_model(arch, "tu-resnet18", kwargs)
    imported = seg_decoders.from_smp(_to_smp_layout(reference, native=True), arch, encoder_name="resnet18", **kwargs)
    modules = dict(imported.get_submodule("encoder").named_modules())
    layer3 = next(m for n, m in modules.items() if n.endswith("layer3"))
    layer4 = next(m for n, m in modules.items() if n.endswith("layer4"))
    assert layer3[0].conv1.dilation == (rates[0], rates[0])
    assert layer4[0].conv1.dilation == (rates[1], rates[1])
    assert layer4[0].conv1.padding == (rates[1], rates[1])
    for name, value in reference.state_dict().items():
        assert torch.equal(imported.state_dict()[name], value), name
    with torch.no_grad():
        assert imported(torch.randn(1, 3, size, size)).shape[-2:] == (size, size)


def test_pth_file_with_architecture_and_arguments(tmp_path: Path) -> None:
    kwargs, size = ARCHS["FPN"]
    reference = _seg_model("FPN", "tu-test_resnet", {**kwargs, "classes": 3})
    path = tmp_path / "fpn.pth"
    torch.save({"state_dict": _to_smp_layout(reference, native=False)}, path)
    imported = seg_decoders.from_smp(path, "fpn", encoder_name="tu-test_resnet", classes=3, **kwargs)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert _max_diff(imported(x), reference(x)) < 1e-5


def test_folder_kwargs_override_config(tmp_path: Path) -> None:
    reference = _seg_model("Linknet", "tu-test_resnet", {"classes": 4})
    (tmp_path / "config.json").write_text(json.dumps({"_model_class": "Linknet", "encoder_name": "tu-test_resnet"}))
    save_file(_to_smp_layout(reference, native=False), tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="segmentation_head"):
        seg_decoders.from_smp(tmp_path)  # config says classes=1 (smp's default), weights have 4
    assert seg_decoders.from_smp(tmp_path, classes=4) is not None


def test_unsupported_encoder_names_the_supported_ones() -> None:
    with pytest.raises(ConfigError, match=r"efficientnet-b0.*tu-<timm model>.*resnext50_32x4d"):
        seg_decoders.from_smp({}, "Unet", encoder_name="efficientnet-b0")


def test_timm_arguments_clashing_with_seg_encoder_options_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"\['channels'\].*cannot be rebuilt"):
        seg_decoders.from_smp({}, "Unet", encoder_name="tu-resnet18", channels=[8, 16, 32, 64])


def test_unknown_architecture_and_missing_architecture() -> None:
    with pytest.raises(ConfigError, match="MaskFormer.*choose from"):
        seg_decoders.from_smp({}, "MaskFormer")
    with pytest.raises(ConfigError, match="needs the architecture"):
        seg_decoders.from_smp({})


def test_pickle_with_arbitrary_objects_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="weights_only=True"):
        seg_decoders.from_smp(path, "Unet", encoder_name="resnet18")


def test_folder_without_config_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="config.json"):
        seg_decoders.from_smp(tmp_path)


def test_encoder_name_translation() -> None:
    assert smp_encoder_to_seg("resnet34") == ("tu-resnet34", {}, True)
    assert smp_encoder_to_seg("resnext101_32x48d") == ("tu-resnext101_32x8d", {"base_width": 48}, True)
    assert smp_encoder_to_seg("tu-convnext_atto") == ("tu-convnext_atto", {}, False)


class _Payload:
    """Stands for any non-tensor object a malicious pickle could carry."""


def test_native_resnet_against_installed_smp() -> None:
    """Cross-check with smp itself when it happens to be installed (the committed fixtures cover tu- encoders)."""
    smp = pytest.importorskip("segmentation_models_pytorch")
    torch.manual_seed(0)
    smp_model = _randomise(smp.DeepLabV3Plus("resnet18", encoder_weights=None, decoder_channels=16))
    imported = seg_decoders.from_smp(
        smp_model.state_dict(), "DeepLabV3Plus", encoder_name="resnet18", decoder_channels=16
    )
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert _max_diff(imported(x), smp_model(x)) < 1e-5
