from __future__ import annotations

import numpy as np
import pytest

from seg_core.errors import ConfigError
from seg_data.datasets.cityscapes import cityscapes_lut
from seg_data.datasets.coco_stuff import coco_stuff_lut
from seg_data.datasets.mapillary import mapillary_metadata
from seg_data.errors import DatasetError
from seg_data.labels import apply_lut, build_lut, check_labels, palette_decode, palette_encode, reduce_zero_label
from seg_data.metadata import DatasetMetadata, default_palette, list_metadata, register_metadata, resolve_metadata


def test_metadata_defaults_and_validation() -> None:
    m = DatasetMetadata("toy", 3)
    assert m.labels == ("class_0", "class_1", "class_2")
    assert m.colors == tuple(default_palette(3))
    with pytest.raises(ConfigError, match="labels has 1 names"):
        DatasetMetadata("toy", 2, labels=["a"])
    with pytest.raises(ConfigError, match="ignore_index=1 is a class index"):
        DatasetMetadata("toy", 2, ignore_index=1)
    with pytest.raises(ConfigError, match="color"):
        DatasetMetadata("toy", 1, colors=[(0, 0, 300)])
    assert DatasetMetadata.from_dict(m.to_dict()) == m


@pytest.mark.parametrize(
    ("name", "options", "num_classes", "first", "last"),
    [
        ("cityscapes", {}, 19, "road", "bicycle"),
        ("cityscapes", {"variant": "category"}, 7, "flat", "vehicle"),
        ("cityscapes", {"variant": "full"}, 34, "unlabeled", "bicycle"),
        ("ade20k", {}, 150, "wall", "flag"),
        ("ade20k", {"keep_zero": True}, 151, "other", "flag"),
        ("voc", {}, 21, "background", "tvmonitor"),
        ("sbd", {}, 21, "background", "tvmonitor"),
        ("coco_stuff", {}, 171, "person", "wood"),
        ("bdd100k", {}, 19, "road", "bicycle"),
        ("lip", {}, 20, "background", "right-shoe"),
        ("synthetic", {"num_classes": 7}, 7, "background", "shape_6"),
    ],
)
def test_resolve_metadata(name: str, options: dict, num_classes: int, first: str, last: str) -> None:
    m = resolve_metadata(name, **options)
    assert (m.num_classes, m.labels[0], m.labels[-1], m.ignore_index) == (num_classes, first, last, 255)
    assert len(set(m.labels)) == num_classes or name == "cityscapes"


def test_voc_labels_in_index_order_and_palette() -> None:
    m = resolve_metadata("voc")
    assert m.labels[1] == "aeroplane" and m.labels[15] == "person" and m.labels[14] == "motorbike"
    assert m.colors[15] == (192, 128, 128) and m.colors[1] == (128, 0, 0)


def test_resolve_unknown_and_mapillary_needs_root() -> None:
    with pytest.raises(ConfigError, match="known: "):
        resolve_metadata("nope")
    with pytest.raises(ConfigError, match="config json"):
        resolve_metadata("mapillary")
    assert "cityscapes" in list_metadata()


def test_cityscapes_luts() -> None:
    lut = cityscapes_lut()
    assert lut[7] == 0 and lut[8] == 1 and lut[33] == 18 and lut[26] == 13
    assert lut[0] == lut[9] == lut[29] == lut[255] == 255
    assert sorted(set(lut[:34].tolist()) - {255}) == list(range(19))
    cat = cityscapes_lut("category")
    assert cat[7] == 0 and cat[33] == 6 and cat[23] == 4 and cat[0] == 255
    full = cityscapes_lut("full")
    assert full[:34].tolist() == list(range(34)) and full[34] == 255


def test_coco_stuff_lut() -> None:
    lut = coco_stuff_lut()
    assert lut[0] == 0 and lut[10] == 10 and lut[11] == 255 and lut[12] == 11
    assert lut[181] == 170 and lut[255] == 255 and lut[182] == 255
    assert sorted(set(lut.tolist()) - {255}) == list(range(171))


def test_build_apply_lut_and_errors() -> None:
    lut = build_lut({1: 0, 2: 1}, size=4)
    assert apply_lut(np.array([[1, 2, 3]]), lut).tolist() == [[0, 1, 255]]
    with pytest.raises(DatasetError, match="m.png"):
        apply_lut(np.array([5]), lut, source="m.png")
    with pytest.raises(ValueError):
        build_lut({9: 0}, size=4)


def test_reduce_zero_label_and_check_labels() -> None:
    assert reduce_zero_label(np.array([0, 1, 150, 255])).tolist() == [255, 0, 149, 255]
    check_labels(np.array([0, 2, 255]), 3, 255)
    with pytest.raises(DatasetError, match=r"x.png: label values \[3\]"):
        check_labels(np.array([0, 3, 255]), 3, 255, source="x.png")


def test_palette_roundtrip_and_unknown_colors() -> None:
    colors = default_palette(4)
    mask = np.array([[0, 1], [3, 255]])
    rgb = palette_encode(mask, colors, ignore_color=(1, 2, 3))
    assert rgb[1, 1].tolist() == [1, 2, 3]
    assert palette_decode(rgb, colors).tolist() == [[0, 1], [3, 255]]
    with pytest.raises(DatasetError, match="not in the palette"):
        palette_decode(rgb, colors, strict=True)


def test_mapillary_metadata_from_config() -> None:
    cfg = {"labels": [
        {"name": "a", "readable": "A", "color": [1, 1, 1], "evaluate": True},
        {"name": "u", "readable": "Unlabeled", "color": [0, 0, 0], "evaluate": False},
        {"name": "b", "readable": "B", "color": [2, 2, 2], "evaluate": True},
    ]}  # fmt: skip
    m = mapillary_metadata(cfg)
    assert m.labels == ("A", "B") and m.colors == ((1, 1, 1), (2, 2, 2))
    assert mapillary_metadata(cfg, evaluated_only=False).num_classes == 3


def test_register_metadata() -> None:
    from seg_data import metadata as md

    meta = DatasetMetadata("my_data_for_test", 2, labels=["bg", "fg"])
    md.register_metadata("my_data_for_test", meta)
    try:
        assert resolve_metadata("MY_DATA_FOR_TEST", root="ignored") is meta
        with pytest.raises(ConfigError, match="already registered"):
            md.register_metadata("my_data_for_test", meta)
    finally:
        md._BUILDERS.pop("my_data_for_test")


def test_resolve_metadata_reads_the_registry_entry() -> None:
    from seg_core.errors import PluginError
    from seg_core.plugins import get_registry

    registry = get_registry("datasets")
    for name in (
        "cityscapes",
        "ade20k",
        "voc",
        "sbd",
        "coco_stuff",
        "bdd100k",
        "mapillary",
        "lip",
        "folder",
        "synthetic",
    ):
        info = registry.info(name)
        assert info["metadata"] == f"seg_data.datasets.{name}:{name}_metadata"
        assert info["target"].partition(":")[0] == info["metadata"].partition(":")[0]

    def factory(root=None, split="train", transforms=None):
        raise NotImplementedError

    meta = DatasetMetadata("toy_registered", 2, ignore_index=9)
    registry.add("toy_registered", factory, metadata=meta)
    registry.add("toy_by_path", factory, metadata="seg_data.datasets.voc:voc_metadata")
    registry.add("toy_broken", factory, metadata="seg_data.datasets.nope:builder")
    try:
        assert resolve_metadata("TOY_REGISTERED", root="ignored") is meta
        assert resolve_metadata("toy_by_path") == resolve_metadata("voc")
        assert {"toy_registered", "toy_by_path"} <= set(list_metadata())
        with pytest.raises(ConfigError, match="already registered"):
            register_metadata("toy_registered", meta)
        with pytest.raises(PluginError, match="seg_data.datasets.nope:builder"):
            resolve_metadata("toy_broken")
    finally:
        for name in ("toy_registered", "toy_by_path", "toy_broken"):
            registry.remove(name)
