"""Write tiny checkpoints made by segmentation_models_pytorch (smp) for the ``from_smp`` tests.

Run it in an environment with smp 0.6 installed (not needed by the tests themselves)::

    uv venv /tmp/smpvenv && VIRTUAL_ENV=/tmp/smpvenv uv pip install segmentation-models-pytorch==0.6.0
    /tmp/smpvenv/bin/python packages/seg-decoders/scripts/make_smp_fixtures.py tests/fixtures/smp

Each case becomes a folder written by smp's ``save_pretrained`` (``config.json`` and
``model.safetensors``; the model card is removed) plus ``io.safetensors`` holding an input
and smp's eval-mode output for it. The encoders are small timm models at reduced depth
(``tu-ghostnet_050``, ``tu-test_byobnet``), so every file stays small.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import segmentation_models_pytorch as smp
import torch
from safetensors.torch import save_file

GHOST = "tu-ghostnet_050"  # prunes stages beyond the depth: 16k parameters at depth 4
BYOB = "tu-test_byobnet"  # supports dilation (output_stride 8/16), 29k parameters at depth 3

#: case name -> (smp class, constructor kwargs, input shape); in_channels defaults to 1
CASES: dict[str, tuple[str, dict[str, Any], tuple[int, ...]]] = {
    "unet": (
        "Unet",
        {"encoder_name": GHOST, "encoder_depth": 4, "decoder_channels": (16, 8, 8, 8), "in_channels": 3, "classes": 2},
        (1, 3, 32, 32),
    ),
    "unetplusplus": (
        "UnetPlusPlus",
        {"encoder_name": GHOST, "encoder_depth": 4, "decoder_channels": (8, 8, 8, 8)},
        (1, 1, 32, 32),
    ),
    "manet": (
        "MAnet",
        {"encoder_name": GHOST, "encoder_depth": 3, "decoder_channels": (8, 8, 8), "decoder_pab_channels": 4},
        (1, 1, 32, 32),
    ),
    "linknet": (
        "Linknet",
        {"encoder_name": GHOST, "encoder_depth": 4, "aux_params": {"classes": 3, "dropout": 0.1}},
        (1, 1, 32, 32),
    ),
    "fpn": (
        "FPN",
        {
            "encoder_name": GHOST,
            "encoder_depth": 4,
            "upsampling": 2,  # smp's default 4 is only right at depth 5
            "decoder_pyramid_channels": 8,
            "decoder_segmentation_channels": 32,
        },
        (1, 1, 64, 64),
    ),
    "pspnet": ("PSPNet", {"encoder_name": GHOST, "psp_out_channels": 16, "classes": 3}, (1, 1, 32, 32)),
    "pan": (
        "PAN",
        {"encoder_name": GHOST, "encoder_depth": 4, "encoder_output_stride": 32, "decoder_channels": 8},
        (1, 1, 128, 128),
    ),
    "deeplabv3": (
        "DeepLabV3",
        {"encoder_name": BYOB, "encoder_depth": 3, "decoder_channels": 8, "decoder_atrous_rates": (2, 4, 6)},
        (1, 1, 32, 32),
    ),
    "deeplabv3plus": (
        "DeepLabV3Plus",
        {"encoder_name": BYOB, "encoder_depth": 3, "decoder_channels": 8, "encoder_output_stride": 8},
        (1, 1, 32, 32),
    ),
    "unet_scse_identity": (
        "Unet",
        {
            "encoder_name": GHOST,
            "encoder_depth": 3,
            "decoder_channels": (32, 16, 16),
            "decoder_attention_type": "scse",
            "decoder_use_norm": "identity",
            "activation": "sigmoid",
        },
        (1, 1, 32, 32),
    ),
}


def _randomise_norm_statistics(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Give every BatchNorm non-trivial running statistics, so eval outputs depend on them."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.1)
            module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)


def make_case(root: Path, name: str, cls: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    """Build one smp model, save it like ``save_pretrained`` does, and store an input/output pair."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    model = getattr(smp, cls)(encoder_weights=None, **{"in_channels": 1, **kwargs})
    with torch.no_grad():
        _randomise_norm_statistics(model, generator)
    model.eval()
    folder = root / name
    model.save_pretrained(str(folder))
    (folder / "README.md").unlink(missing_ok=True)
    x = torch.randn(*shape, generator=generator)
    with torch.no_grad():
        y = model(x)
    tensors = {"input": x.contiguous()}
    if isinstance(y, tuple):  # (masks, labels) with an aux classification head
        y, labels = y
        tensors["labels"] = labels.contiguous()
    tensors["output"] = y.contiguous()
    save_file(tensors, str(folder / "io.safetensors"))
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    print(f"{name}: {sum(sizes.values()) / 1024:.0f} KiB {sizes}")


def main(argv: list[str]) -> None:
    """Write every case under ``argv[0]`` (default ``tests/fixtures/smp``)."""
    root = Path(argv[0] if argv else "tests/fixtures/smp")
    root.mkdir(parents=True, exist_ok=True)
    for name, (cls, kwargs, shape) in CASES.items():
        make_case(root, name, cls, kwargs, shape)


if __name__ == "__main__":
    main(sys.argv[1:])
