"""Deployment paths of every architecture, with a CNN encoder and with a transformer encoder.

Each test builds a tiny model in eval mode and compares a deployment path with eager
PyTorch on the same input:

- ``torch.compile(fullgraph=True)`` with the inductor backend;
- ``torch.export.export`` with static shapes;
- ``torch.export.export`` with dynamic height and width (multiples of the model's
  ``input_divisor``), checked at a second, non-square size;
- ONNX through the dynamo exporter (``torch.onnx.export(..., dynamo=True)``), run in
  onnxruntime;
- ``channels_last`` inputs against contiguous ones.

TorchScript is deprecated in current PyTorch and is not a target. Combinations that
cannot work today are listed in ``KNOWN_LIMITS`` and marked ``xfail(strict=True)``
with the reason, so they fail loudly the day they start to work.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

import seg_core

pytestmark = pytest.mark.slow

ARCHS = seg_core.list_architectures()

#: Narrow decoder options per architecture (the defaults are 256 channels wide).
DECODER_OPTIONS: dict[str, dict[str, Any]] = {
    "unet": {"decoder_channels": [16] * 5},
    "unetplusplus": {"decoder_channels": [16] * 5},
    "manet": {"decoder_channels": [16] * 5, "decoder_pab_channels": 8},
    "linknet": {},
    "fpn": {"decoder_pyramid_channels": 16, "decoder_segmentation_channels": 32},
    "pspnet": {"psp_out_channels": 16},
    "pan": {"decoder_channels": 8},
    "deeplabv3": {"decoder_channels": 16, "decoder_atrous_rates": (1, 2, 3)},
    "deeplabv3plus": {"decoder_channels": 16, "decoder_atrous_rates": (1, 2, 3)},
    "upernet": {"decoder_channels": 16},
    "segformer": {"decoder_segmentation_channels": 16},
    "dpt": {"decoder_intermediate_channels": (8, 8, 16, 16), "decoder_fusion_channels": 16},
    "fcn": {},
    "lraspp": {"decoder_channels": 8},
    "bisenet": {"decoder_spatial_channels": 8, "decoder_context_channels": 8, "decoder_channels": 16},
    "sfnet": {"decoder_channels": 8},
    "sfnet_lite": {"decoder_channels": 8},
    "enet": {"enet_channels": (8, 16, 16)},
}

#: The two encoder styles: seg-core's CNN (stride-2 stem) and timm's tiny ViT through the ViT adapter.
ENCODERS: dict[str, dict[str, Any]] = {
    "cnn": {"encoder_name": "basic_cnn", "encoder_params": {"widths": [8, 8, 16, 16, 32]}},
    "vit": {"encoder_name": "test_vit", "encoder_params": {"img_size": 64, "dynamic_img_size": True}},
    "own": {"encoder_name": "enet"},
}

#: Architectures that keep their own backbone: they are tested with it alone.
OWN_ENCODER = {"enet"}

#: Per-(architecture, encoder) options the combination needs.
ENCODER_OPTIONS: dict[tuple[str, str], dict[str, Any]] = {}


#: (architecture, encoder, path) -> (reason, exception the failure raises); path None means every path.
KNOWN_LIMITS: dict[tuple[str, str, str | None], tuple[str, type[BaseException]]] = {}

ATOL = 1e-4
RTOL = 1e-4


def _cases(path: str) -> list[Any]:
    cases = []
    for arch in ARCHS:
        for encoder in ["own"] if arch in OWN_ENCODER else ["cnn", "vit"]:
            limit = KNOWN_LIMITS.get((arch, encoder, None)) or KNOWN_LIMITS.get((arch, encoder, path))
            marks = [pytest.mark.xfail(reason=limit[0], raises=limit[1], strict=True)] if limit else []
            cases.append(pytest.param(arch, encoder, marks=marks, id=f"{arch}-{encoder}"))
    return cases


def _build(arch: str, encoder: str) -> Any:
    torch.manual_seed(0)
    options = {**ENCODERS[encoder], **DECODER_OPTIONS[arch], **ENCODER_OPTIONS.get((arch, encoder), {})}
    return seg_core.create_model(arch, encoder_weights=None, **options).eval()


def _size(model: Any) -> list[int]:
    """The smallest valid size >= 64 per axis (PAN's pooling asks for more)."""
    sizes = []
    for divisor, minimum in zip(model.input_divisor, model.min_input_size):
        sizes.append(math.ceil(max(64, minimum) / divisor) * divisor)
    return sizes


def _input(model: Any, batch: int = 1, size: list[int] | None = None) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(batch, int(model.encoder.in_channels), *(size or _size(model)))


def _eager(model: Any, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(x)
    assert isinstance(out, torch.Tensor)
    assert out.shape[-2:] == x.shape[-2:]
    return out


def _close(got: Any, expected: torch.Tensor) -> None:
    torch.testing.assert_close(torch.as_tensor(got), expected, atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize(("arch", "encoder"), _cases("compile"))
def test_torch_compile_inductor_fullgraph(arch: str, encoder: str) -> None:
    model = _build(arch, encoder)
    x = _input(model)
    expected = _eager(model, x)
    compiled = torch.compile(model, fullgraph=True, backend="inductor")
    with torch.no_grad():
        got = compiled(x)
    _close(got, expected)


@pytest.mark.parametrize(("arch", "encoder"), _cases("export_static"))
def test_torch_export_static(arch: str, encoder: str) -> None:
    model = _build(arch, encoder)
    x = _input(model, batch=2)
    expected = _eager(model, x)
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        got = program.module()(x)
    _close(got, expected)


@pytest.mark.parametrize(("arch", "encoder"), _cases("export_dynamic"))
def test_torch_export_dynamic_height_width(arch: str, encoder: str) -> None:
    model = _build(arch, encoder)
    x = _input(model)
    dh, dw = model.input_divisor
    lows = [math.ceil(m / d) for m, d in zip(model.min_input_size, model.input_divisor)]
    height = torch.export.Dim("h_blocks", min=max(lows[0], 1), max=64)
    width = torch.export.Dim("w_blocks", min=max(lows[1], 1), max=64)
    program = torch.export.export(model, (x,), dynamic_shapes=({2: dh * height, 3: dw * width},))
    runner = program.module()
    # The example size, and a second, non-square one the program was not traced with.
    other = _input(model, size=[x.shape[2] + dh, x.shape[3] + 2 * dw])
    for sample in (x, other):
        expected = _eager(model, sample)
        with torch.no_grad():
            got = runner(sample)
        _close(got, expected)


@pytest.mark.parametrize(("arch", "encoder"), _cases("onnx"))
def test_onnx_dynamo_export_matches_onnxruntime(arch: str, encoder: str, tmp_path: Path) -> None:
    import onnxruntime  # the deploy extra of seg-decoders; a missing install must fail, not skip

    model = _build(arch, encoder)
    x = _input(model)
    expected = _eager(model, x)
    program = torch.onnx.export(model, (x,), dynamo=True, verbose=False)
    assert program is not None
    path = tmp_path / f"{arch}-{encoder}.onnx"
    program.save(str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = session.get_inputs()
    assert len(inputs) == 1
    (got,) = session.run(None, {inputs[0].name: x.numpy()})
    _close(torch.from_numpy(got), expected)


@pytest.mark.parametrize(("arch", "encoder"), _cases("channels_last"))
def test_channels_last_input_matches_contiguous(arch: str, encoder: str) -> None:
    model = _build(arch, encoder)
    x = _input(model, batch=2)
    expected = _eager(model, x)
    x_last = x.contiguous(memory_format=torch.channels_last)
    assert not x_last.is_contiguous()
    _close(_eager(model, x_last), expected)
    # A channels_last model (weights converted too) on channels_last input.
    model_last = _build(arch, encoder).to(memory_format=torch.channels_last)
    _close(_eager(model_last, x_last), expected)
