"""Errors name the files: corrupt data, size mismatch, bad labels, unsafe split lists, unexpected layouts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seg_core.errors import ConfigError, UnknownNameError
from seg_data import create_dataset
from seg_data.errors import DatasetError, LayoutError

from ._trees import raw_mask, write_image, write_mask


def test_corrupt_and_truncated_image_names_file(make_folder: Callable[..., Path]) -> None:
    root = make_folder()
    (root / "images" / "a.png").write_bytes(b"not an image")
    data = (root / "images" / "b.png").read_bytes()
    (root / "images" / "b.png").write_bytes(data[: len(data) // 2])
    ds = create_dataset("folder", root=root, num_classes=3)
    with pytest.raises(DatasetError, match=r"cannot decode image .*a\.png"):
        ds[0]
    with pytest.raises(DatasetError, match=r"cannot decode image .*b\.png"):
        ds[1]


def test_corrupt_mask_names_file(make_folder: Callable[..., Path]) -> None:
    root = make_folder()
    (root / "masks" / "c.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DatasetError, match=r"cannot decode mask .*c\.png"):
        create_dataset("folder", root=root, num_classes=3)[2]


def test_size_mismatch_names_both(make_folder: Callable[..., Path]) -> None:
    root = make_folder()
    write_image(root / "images" / "a.png", 0, size=(5, 5))
    with pytest.raises(DatasetError, match=r"image .*a\.png is \(5, 5\).*mask .*a\.png is \(6, 8\)"):
        create_dataset("folder", root=root, num_classes=3)[0]


def test_out_of_range_label_is_error(make_folder: Callable[..., Path]) -> None:
    root = make_folder()
    write_mask(root / "masks" / "b.png", raw_mask([0, 7]))
    ds = create_dataset("folder", root=root, num_classes=3)
    with pytest.raises(DatasetError, match=r"b\.png: label values \[7\]"):
        ds[1]


def test_mask_without_image_and_image_without_mask(make_folder: Callable[..., Path]) -> None:
    root = make_folder()
    write_mask(root / "masks" / "zzz.png", raw_mask([0]))
    with pytest.raises(DatasetError, match=r"zzz\.png has no image"):
        create_dataset("folder", root=root, num_classes=3)
    (root / "masks" / "zzz.png").unlink()
    (root / "masks" / "a.png").unlink()
    with pytest.raises(DatasetError, match=r"a\.png has no mask"):
        create_dataset("folder", root=root, num_classes=3)


def test_pairing_is_by_stem_not_position(make_folder: Callable[..., Path]) -> None:
    root = make_folder()
    (root / "masks" / "a.png").rename(root / "masks" / "0_a_moved.png")
    with pytest.raises(DatasetError, match="has no"):
        create_dataset("folder", root=root, num_classes=3)


@pytest.mark.parametrize("entry", ["../outside", "/etc/passwd", "..\\\\outside", "C:/x"])
def test_split_list_cannot_escape_root(make_voc: Callable[..., Path], entry: str) -> None:
    root = make_voc()
    (root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "train.txt").write_text(f"{entry}\n")
    with pytest.raises(DatasetError, match="outside"):
        create_dataset("voc", root=root, split="train")


def test_split_list_backslash_paths_are_read_on_posix(make_voc: Callable[..., Path]) -> None:
    root = make_voc()
    (root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "val.txt").write_text(
        "JPEGImages\\2007_000063.jpg\n"
    )
    assert create_dataset("voc", root=root, split="val").samples[0][0] == "2007_000063"


def test_split_list_unknown_stem(make_voc: Callable[..., Path]) -> None:
    root = make_voc()
    (root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "val.txt").write_text("2099_000001\n")
    with pytest.raises(DatasetError, match="2099_000001"):
        create_dataset("voc", root=root, split="val")


@pytest.mark.parametrize("name", ["cityscapes", "ade20k", "voc", "sbd", "coco_stuff", "bdd100k", "lip", "mapillary"])
def test_missing_root_and_wrong_layout_show_tree(tmp_path: Path, name: str) -> None:
    with pytest.raises(LayoutError, match="Expected layout under root"):
        create_dataset(name, root=tmp_path / "missing")
    (tmp_path / "empty" / "junk").mkdir(parents=True)
    with pytest.raises(LayoutError, match=r"(?s)Expected layout under root:\n.*<root>/"):
        create_dataset(name, root=tmp_path / "empty")


def test_bad_options(make_cityscapes: Callable[..., Path]) -> None:
    root = make_cityscapes()
    with pytest.raises(ConfigError, match="split='training'"):
        create_dataset("cityscapes", root=root, split="training")
    with pytest.raises(ConfigError, match="variant='x'"):
        create_dataset("cityscapes", root=root, variant="x")
    with pytest.raises(ConfigError, match="root=... is required"):
        create_dataset("voc")
    with pytest.raises(UnknownNameError, match="cityscapes"):
        create_dataset("cityscape", root=root)
