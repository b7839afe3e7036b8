"""Registration: every declared architecture is registered, exported and named once."""

from __future__ import annotations

from pathlib import Path

import seg_core
import seg_decoders
from seg_core.plugins import get_registry as registry
from seg_core.spec import load_catalog

from ._common import ARCHS, TINY, build

ARCHITECTURES = load_catalog("seg_decoders")


def test_registry_lists_every_declared_architecture() -> None:
    assert sorted(ARCHITECTURES) == ARCHS
    assert len(ARCHS) == 18
    assert set(ARCHS) <= set(seg_core.list_architectures())
    for name in ARCHS:
        assert registry("architectures").source(name).distribution == "seg-decoders"
        cls = registry("architectures").get(name)
        assert cls.architecture_name == name
        assert getattr(seg_decoders, cls.__name__) is cls


def test_catalog_equals_the_declarations() -> None:
    """The hook module's table is generated from the classes' @architecture declarations."""
    from seg_core.spec import catalog_of

    assert catalog_of("seg_decoders") == ARCHITECTURES, (
        "seg_decoders/_catalog.json is stale; regenerate it: python -m seg_core.spec seg_decoders"
    )


def test_nothing_restates_a_declaration() -> None:
    """Names, descriptions, papers and smp class names are written once, in the class's module."""
    root = Path(seg_decoders.__file__).parent
    sources = {p.name: p.read_text() for p in root.glob("*.py") if p.suffix == ".py"}
    for name, entry in ARCHITECTURES.items():
        home = entry["target"].partition(":")[0].rsplit(".", 1)[-1] + ".py"
        for text in (f'"{name}"', entry["description"], entry["paper"], *[f'"{a}"' for a in entry["aliases"]]):
            where = [f for f, src in sources.items() if text in src]
            assert where == [home], f"{text} appears in {where}, expected only in {home}"


def test_aliases_resolve_to_the_same_architecture() -> None:
    reg = registry("architectures")
    assert reg.get("unet++") is seg_decoders.UnetPlusPlus
    assert reg.get("DeepLabV3+") is seg_decoders.DeepLabV3Plus
    assert reg.info("unet++")["name"] == "unetplusplus"
    assert "unet++" not in seg_core.list_architectures()  # aliases are not listed twice
    model = seg_core.create_model("unet++", encoder_depth=3, encoder_params=TINY, decoder_channels=[8, 8, 8])
    assert type(model) is seg_decoders.UnetPlusPlus and model.architecture_name == "unetplusplus"


def test_declaration_drives_requirements_and_defaults() -> None:
    spec = seg_decoders.DeepLabV3.spec
    assert spec is not None and spec.requires.output_strides == (8, 16)
    model = build("deeplabv3", 3)
    assert model.config["encoder_output_stride"] == 8  # from encoder_defaults, recorded in the config
    assert build("pspnet", 3).config["encoder_depth"] == 3
    assert seg_core.create_model("pspnet", encoder_params=TINY, psp_out_channels=8).encoder.depth == 3
