"""``from_smp`` on smp models whose encoder is deeper than the architecture uses.

smp builds its whole encoder whatever ``encoder_depth`` is (native ResNets keep
``layer3``/``layer4``; timm's EfficientNet features keep every ``blocks.N``), seg builds the
stages it uses only. ``from_smp`` drops the keys of the deeper stages, lists them in
``model.load_report.unexpected`` and must still give smp's outputs. These tests build the
models with smp itself (the integration nox session installs it).
"""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

os.environ.setdefault("SEG_STRICT_PLUGINS", "1")

torch = pytest.importorskip("torch")
pytest.importorskip("seg_encoders_timm")
smp = pytest.importorskip("segmentation_models_pytorch")

import seg_decoders  # noqa: E402
from seg_core.checkpoint import LoadReport  # noqa: E402
from seg_core.errors import CheckpointError  # noqa: E402
from seg_core.spec import load_catalog  # noqa: E402

#: smp classes of the architectures seg-decoders declares as smp's, from the generated catalog
SMP_CLASSES = sorted(str(e["smp_class"]) for e in load_catalog("seg_decoders").values() if e["smp_weights"])
#: a native smp encoder and a ``tu-`` one whose timm features model keeps all its blocks
ENCODERS = ("resnet18", "tu-efficientnet_b0")
#: the encoder stages seg does not build, by (encoder, encoder_depth): smp keeps them
DEEPER_STAGES = {
    ("resnet18", 3): {"layer3", "layer4"},
    ("resnet18", 4): {"layer4"},
    ("tu-efficientnet_b0", 3): {"blocks.3", "blocks.4", "blocks.5", "blocks.6"},
    ("tu-efficientnet_b0", 4): {"blocks.5", "blocks.6"},
}


def _tiny(smp_class: str, depth: int) -> tuple[dict[str, Any], int]:
    """Small decoder widths (smp constructor arguments) and an input size smp accepts."""
    channels = (16, 16, 8, 8, 8)[:depth]
    widths: dict[str, dict[str, Any]] = {
        "Unet": {"decoder_channels": channels},
        "UnetPlusPlus": {"decoder_channels": channels},
        "MAnet": {"decoder_channels": channels, "decoder_pab_channels": 8},
        "FPN": {"decoder_pyramid_channels": 32, "decoder_segmentation_channels": 32},  # GroupNorm(32)
        "PSPNet": {"psp_out_channels": 16},
        "PAN": {"decoder_channels": 8},
        "DeepLabV3": {"decoder_channels": 16},
        "DeepLabV3Plus": {"decoder_channels": 16},
    }
    # PAN's pyramid attention pools its deepest map (stride 16 at depth >= 4) three more times
    return widths.get(smp_class, {}), 128 if smp_class == "PAN" else 64


def _randomise(model: Any) -> Any:
    """Non-trivial BatchNorm statistics and affine parameters, so a wrong mapping changes the output."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                if module.affine:
                    module.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                    module.bias.copy_(torch.randn(n, generator=gen) * 0.1)
    return model.eval()


def _smp_model(smp_class: str, encoder: str, kwargs: dict[str, Any]) -> Any:
    cls = getattr(smp, smp_class, None)
    if cls is None:
        pytest.skip(f"smp {smp.__version__} has no {smp_class} class")
    torch.manual_seed(0)
    return _randomise(cls(encoder, encoder_weights=None, **kwargs))


def _max_diff(a: Any, b: Any) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max())


def _stage(key: str, encoder: str) -> str | None:
    """The encoder stage of an smp key (``encoder.layer3.0.conv1.weight`` -> ``layer3``), else None."""
    pattern = r"encoder\.model\.(blocks\.\d+)\." if encoder.startswith("tu-") else r"encoder\.(layer\d)\."
    match = re.match(pattern, key)
    return match.group(1) if match else None


def _check_import(smp_model: Any, smp_class: str, encoder: str, kwargs: dict[str, Any], size: int) -> LoadReport:
    """Import ``smp_model``; check its outputs and that exactly the deeper stages' keys are reported."""
    state = smp_model.state_dict()
    imported = seg_decoders.from_smp(state, smp_class, encoder_name=encoder, **kwargs)
    report = imported.load_report
    assert isinstance(report, LoadReport)
    assert not report.missing and not report.mismatched
    assert len(imported.state_dict()) + len(report.unexpected) == len(state)  # everything else was loaded
    assert set(report.unexpected) <= set(state)  # reported under smp's own names
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert _max_diff(imported(x), smp_model(x)) < 1e-5
    return report


@pytest.mark.parametrize("depth", [3, 4])
@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("smp_class", SMP_CLASSES)
def test_shallow_encoder_depth_against_smp(smp_class: str, encoder: str, depth: int) -> None:
    widths, size = _tiny(smp_class, depth)
    kwargs = {"encoder_depth": depth, **widths}
    smp_model = _smp_model(smp_class, encoder, kwargs)
    report = _check_import(smp_model, smp_class, encoder, kwargs, size)
    expected = DEEPER_STAGES[(encoder, depth)]
    assert {_stage(k, encoder) for k in report.unexpected} == expected
    assert set(report.unexpected) == {k for k in smp_model.state_dict() if _stage(k, encoder) in expected}


def test_pspnet_efficientnet_b0_from_the_issue() -> None:
    """smp's default PSPNet (encoder_depth=3) keeps the 242 keys of blocks.3-6 of tu-efficientnet_b0."""
    smp_model = _smp_model("PSPNet", "tu-efficientnet_b0", {})
    report = _check_import(smp_model, "PSPNet", "tu-efficientnet_b0", {}, 64)
    assert len(report.unexpected) == 242
    assert {_stage(k, "tu-efficientnet_b0") for k in report.unexpected} == DEEPER_STAGES[("tu-efficientnet_b0", 3)]
    assert "unexpected in file: encoder.model.blocks.3.0." in report.describe()


def test_full_depth_reports_nothing() -> None:
    smp_model = _smp_model("Unet", "tu-efficientnet_b0", {"decoder_channels": (16, 16, 8, 8, 8)})
    report = _check_import(smp_model, "Unet", "tu-efficientnet_b0", {"decoder_channels": (16, 16, 8, 8, 8)}, 64)
    assert report.ok and report.unexpected == []


@pytest.mark.parametrize(
    ("encoder", "depth", "extra_key", "shape"),
    [
        # a key inside a stage seg builds
        ("tu-efficientnet_b0", 3, "encoder.model.blocks.2.9.conv_pw.weight", (8, 8, 1, 1)),
        # a module after the stages that timm's features model never has (not a stage)
        ("tu-efficientnet_b0", 3, "encoder.model.conv_head.weight", (1280, 320, 1, 1)),
        # at full depth no stage is deeper: blocks.7 does not exist in efficientnet_b0
        ("tu-efficientnet_b0", 5, "encoder.model.blocks.7.0.conv_pw.weight", (8, 8, 1, 1)),
        # the native ResNet's classifier, which smp deletes
        ("resnet18", 3, "encoder.fc.weight", (1000, 512)),
        # not an encoder key at all
        ("resnet18", 3, "decoder.extra.weight", (8,)),
    ],
)
def test_other_unexpected_keys_are_still_errors(encoder: str, depth: int, extra_key: str, shape: tuple) -> None:
    channels = (16, 16, 8, 8, 8)[:depth]
    kwargs = {"encoder_depth": depth, "decoder_channels": channels}
    state = _smp_model("Unet", encoder, kwargs).state_dict()
    state[extra_key] = torch.zeros(shape)
    with pytest.raises(CheckpointError, match=r"unexpected 1 key\(s\)"):
        seg_decoders.from_smp(state, "Unet", encoder_name=encoder, **kwargs)


def test_missing_keys_of_used_stages_are_still_errors() -> None:
    kwargs = {"encoder_depth": 3, "decoder_channels": (16, 16, 8)}
    state = _smp_model("Unet", "tu-efficientnet_b0", kwargs).state_dict()
    del state["encoder.model.blocks.2.0.conv_pw.weight"]
    with pytest.raises(CheckpointError, match=r"missing 1 key\(s\).*blocks\.2\.0\.conv_pw\.weight"):
        seg_decoders.from_smp(state, "Unet", encoder_name="tu-efficientnet_b0", **kwargs)
