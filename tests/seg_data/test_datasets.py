"""Every dataset on a tiny tree in its official layout: pairing, mapping, ignore, num_classes, metadata."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from seg_data import create_dataset, list_datasets, resolve_metadata
from seg_data.errors import DatasetError, LayoutError

from ._trees import H, W, raw_mask, write_image, write_mask


def _check_sample(ds, index: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = ds[index]
    assert x.dtype == torch.float32 and x.shape == (3, H, W) and float(x.min()) >= 0 and float(x.max()) <= 1
    assert y.dtype == torch.int64 and y.shape == (H, W)
    valid = y[y != ds.metadata.ignore_index]
    assert valid.numel() == 0 or (int(valid.min()) >= 0 and int(valid.max()) < ds.metadata.num_classes)
    return x, y


def test_registry_lists_all_datasets() -> None:
    assert set(list_datasets()) >= {
        "cityscapes", "ade20k", "voc", "sbd", "coco_stuff", "bdd100k", "mapillary", "lip", "folder", "synthetic"
    }  # fmt: skip


@pytest.mark.parametrize("nested", [False, True])
def test_cityscapes(make_cityscapes: Callable[..., Path], nested: bool) -> None:
    root = make_cityscapes(nested=nested)
    ds = create_dataset("cityscapes", root=root, split="train")
    assert len(ds) == 2 and ds.metadata == resolve_metadata("cityscapes")
    assert [s[0] for s in ds.samples] == ["aachen_000000_000019", "aachen_000001_000019"]
    _, y = _check_sample(ds)
    # raw [7, 33, 0, 9, 26, 24] -> road 0, bicycle 18, unlabeled/parking ignored, car 13, person 11
    assert y.flatten()[:6].tolist() == [0, 18, 255, 255, 13, 11]
    cat = create_dataset("cityscapes", root=root, split="val", variant="category")
    assert cat.metadata.num_classes == 7
    assert cat[0][1].flatten()[:6].tolist() == [0, 6, 255, 0, 6, 5]
    full = create_dataset("cityscapes", root=root, split="val", variant="full")
    assert full.num_classes == 34 and full[1][1].flatten()[:6].tolist() == [7, 33, 0, 9, 26, 24]


def test_cityscapes_missing_mask_names_file(make_cityscapes: Callable[..., Path]) -> None:
    root = make_cityscapes()
    next((root / "gtFine" / "train").rglob("*000001*_labelIds.png")).unlink()
    with pytest.raises(DatasetError, match=r"aachen_000001_000019_leftImg8bit.png has no mask"):
        create_dataset("cityscapes", root=root, split="train")


def test_ade20k(tmp_path: Path) -> None:
    base = tmp_path / "ADEChallengeData2016"
    for split, prefix in (("training", "ADE_train"), ("validation", "ADE_val")):
        for k in (2, 1):
            write_image(base / "images" / split / f"{prefix}_0000000{k}.jpg", k)
            write_mask(base / "annotations" / split / f"{prefix}_0000000{k}.png", raw_mask([0, 1, 150, 75]))
    ds = create_dataset("ade20k", root=tmp_path, split="train")
    assert len(ds) == 2 and ds.num_classes == 150 and ds.samples[0][0] == "ADE_train_00000001"
    assert _check_sample(ds)[1].flatten()[:4].tolist() == [255, 0, 149, 74]
    keep = create_dataset("ade20k", root=base, split="validation", keep_zero=True)
    assert keep.num_classes == 151 and keep[0][1].flatten()[:4].tolist() == [0, 1, 150, 75]


def test_voc_split_list_order_palette_and_ignore(make_voc: Callable[..., Path]) -> None:
    root = make_voc()
    ds = create_dataset("voc", root=root, split="train")
    assert [s[0] for s in ds.samples] == ["2007_000039", "2007_000032"]  # list order, paired by stem
    assert ds.samples[0][2].name == "2007_000039.png"
    assert _check_sample(ds)[1].flatten()[:5].tolist() == [0, 1, 15, 20, 255]
    assert len(create_dataset("voc", root=root / "VOCdevkit" / "VOC2012", split="val")) == 1


def test_voc_aug_masks(make_voc: Callable[..., Path]) -> None:
    root = make_voc()
    base = root / "VOCdevkit" / "VOC2012"
    with pytest.raises(LayoutError, match="SegmentationClassAug"):
        create_dataset("voc", root=root, split="train", aug=True)
    for s in ("2007_000032", "2007_000039"):
        write_mask(base / "SegmentationClassAug" / f"{s}.png", raw_mask([3, 4]))
    ds = create_dataset("voc", root=root, split="train", aug=True)
    assert ds[0][1].flatten()[:2].tolist() == [3, 4]


def test_sbd(tmp_path: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    base = tmp_path / "benchmark_RELEASE" / "dataset"
    for i, s in enumerate(["2008_000002", "2008_000003"]):
        write_image(base / "img" / f"{s}.jpg", i)
        (base / "cls").mkdir(parents=True, exist_ok=True)
        seg = raw_mask([0, 5, 20, 255])
        scipy_io.savemat(base / "cls" / f"{s}.mat", {"GTcls": {"Segmentation": seg, "CategoriesPresent": [5, 20]}})
    (base / "train.txt").write_text("2008_000003\n2008_000002\n")
    ds = create_dataset("sbd", root=tmp_path, split="train")
    assert [s[0] for s in ds.samples] == ["2008_000003", "2008_000002"]
    assert ds.metadata.labels == resolve_metadata("voc").labels
    assert _check_sample(ds)[1].flatten()[:4].tolist() == [0, 5, 20, 255]
    (base / "cls" / "2008_000002.mat").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="2008_000002.mat"):
        ds[1]


def test_coco_stuff(tmp_path: Path) -> None:
    for split in ("train2017", "val2017"):
        for k in (9, 25):
            write_image(tmp_path / "images" / split / f"0000000000{k:02d}.jpg", k)
            write_mask(tmp_path / "annotations" / split / f"0000000000{k:02d}.png", raw_mask([0, 11, 12, 181, 255]))
    ds = create_dataset("coco_stuff", root=tmp_path, split="val")
    assert ds.num_classes == 171 and len(ds) == 2
    assert _check_sample(ds)[1].flatten()[:5].tolist() == [0, 255, 11, 170, 255]


def test_bdd100k(tmp_path: Path) -> None:
    base = tmp_path / "bdd100k"
    for split in ("train", "val"):
        for s in ("7d2f7975-e0c1c5a7", "0a0a0b1a-7c39d841"):
            write_image(base / "images" / "10k" / split / f"{s}.jpg", 1)
            write_mask(base / "labels" / "sem_seg" / "masks" / split / f"{s}.png", raw_mask([0, 18, 255]))
    write_image(base / "images" / "10k" / "test" / "t.jpg", 1)
    ds = create_dataset("bdd100k", root=tmp_path, split="train")
    assert ds.metadata.labels == resolve_metadata("cityscapes").labels
    assert _check_sample(ds)[1].flatten()[:3].tolist() == [0, 18, 255]
    test = create_dataset("bdd100k", root=base, split="test")
    assert bool((test[0][1] == 255).all())


def _mapillary_config(n: int) -> dict:
    labels = [{"name": f"l{i}", "readable": f"L{i}", "color": [i, 2 * i, 3], "evaluate": i != n - 1} for i in range(n)]
    return {"labels": labels}


@pytest.mark.parametrize("version", ["v1.2", "v2.0"])
def test_mapillary(tmp_path: Path, version: str) -> None:
    n = 66 if version == "v1.2" else 124
    (tmp_path / f"config_{version}.json").write_text(json.dumps(_mapillary_config(n)))
    for split in ("training", "validation"):
        for s in ("__CRyFzoDOXn6unQ6a3DnQ", "_1Gn_xkw7sa_i9GU4mkxxQ"):
            write_image(tmp_path / split / "images" / f"{s}.jpg", 2)
            write_mask(tmp_path / split / version / "labels" / f"{s}.png", raw_mask([0, 5, n - 1, n - 2]), palette=True)
    ds = create_dataset("mapillary", root=tmp_path, split="val", version=version)
    assert ds.num_classes == n - 1 and ds.metadata.labels[5] == "L5" and ds.metadata.colors[5] == (5, 10, 3)
    assert _check_sample(ds)[1].flatten()[:4].tolist() == [0, 5, 255, n - 2]
    assert resolve_metadata("mapillary", root=tmp_path, version=version) == ds.metadata


@pytest.mark.parametrize("nested", [True, False])
def test_lip(tmp_path: Path, nested: bool) -> None:
    img = "TrainVal_images/TrainVal_images" if nested else "TrainVal_images"
    ann = "TrainVal_parsing_annotations/TrainVal_parsing_annotations" if nested else "TrainVal_parsing_annotations"
    for split in ("train", "val"):
        stems = ["77_471474", "100034_483681"]
        for s in stems:
            write_image(tmp_path / img / f"{split}_images" / f"{s}.jpg", 3)
            write_mask(tmp_path / ann / f"{split}_segmentations" / f"{s}.png", raw_mask([0, 13, 19]))
        (tmp_path / img / f"{split}_id.txt").write_text("\n".join(stems) + "\n")
    ds = create_dataset("lip", root=tmp_path, split="val")
    assert [s[0] for s in ds.samples] == ["77_471474", "100034_483681"] and ds.num_classes == 20
    assert _check_sample(ds)[1].flatten()[:3].tolist() == [0, 13, 19]


def test_folder_index_masks_with_metadata_json(make_folder: Callable[..., Path]) -> None:
    root = make_folder({"labels": ["bg", "cat", "dog"], "ignore_index": 255})
    ds = create_dataset("folder", root=root)
    assert ds.metadata.labels == ("bg", "cat", "dog") and [s[0] for s in ds.samples] == ["a", "b", "c"]
    assert ds.samples[0][2].name == "a.png"
    assert _check_sample(ds)[1].flatten()[:3].tolist() == [1, 1, 2]  # "a" was written with i=1


def test_folder_toml_split_list_and_rgb_masks(tmp_path: Path) -> None:
    root = tmp_path / "f"
    (root).mkdir()
    (root / "metadata.toml").write_text('labels = ["bg", "fg"]\ncolors = [[0, 0, 0], [10, 200, 30]]\n')
    rgb = np.zeros((H, W, 3), dtype=np.uint8)
    rgb[0, 0] = (10, 200, 30)
    for s in ("x", "y"):
        write_image(root / "images" / f"{s}.jpg", 0)
        (root / "labels").mkdir(exist_ok=True)
        from PIL import Image

        Image.fromarray(rgb).save(root / "labels" / f"{s}.png")
    (root / "splits").mkdir()
    (root / "splits" / "val.txt").write_text("y\n")
    ds = create_dataset("folder", root=root, split="val")
    assert len(ds) == 1 and ds.samples[0][0] == "y"
    y = _check_sample(ds)[1]
    assert y[0, 0] == 1 and int(y.sum()) == 1


def test_folder_needs_metadata(make_folder: Callable[..., Path]) -> None:
    from seg_core.errors import ConfigError

    root = make_folder()
    with pytest.raises(ConfigError, match="metadata.json"):
        create_dataset("folder", root=root)
    assert create_dataset("folder", root=root, num_classes=3).num_classes == 3


def test_synthetic_is_deterministic_and_varied() -> None:
    a = create_dataset("synthetic", num_samples=3, size=(24, 32), num_classes=5, data_seed=3, ignore_border=1)
    b = create_dataset("synthetic", num_samples=3, size=(24, 32), num_classes=5, data_seed=3, ignore_border=1)
    xa, ya = a[2]
    xb, yb = b[2]
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert xa.shape == (3, 24, 32) and bool((ya[0] == 255).all())
    assert not torch.equal(a[0][1], a[1][1])
    assert not torch.equal(
        create_dataset("synthetic", split="val", size=24)[0][0], create_dataset("synthetic", size=24)[0][0]
    )
    labels = torch.cat([a[i][1].flatten() for i in range(3)]).unique().tolist()
    assert len(labels) >= 3 and max(v for v in labels if v != 255) < 5


def test_folder_reduce_zero_and_split_subfolders(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for split in ("train", "val"):
        write_image(root / "images" / split / "s.png", 0)
        write_mask(root / "annotations" / split / "s.png", raw_mask([0, 1, 3]))
    ds = create_dataset("folder", root=root, split="val", num_classes=3, reduce_zero=True)
    assert ds[0][1].flatten()[:3].tolist() == [255, 0, 2]


def test_cityscapes_coarse(make_cityscapes: Callable[..., Path]) -> None:
    root = make_cityscapes()
    stem = "aachen_000000_000019"
    write_mask(root / "gtCoarse" / "train" / "aachen" / f"{stem}_gtCoarse_labelIds.png", raw_mask([8]))
    write_mask(root / "gtCoarse" / "train" / "aachen" / "aachen_000001_000019_gtCoarse_labelIds.png", raw_mask([8]))
    ds = create_dataset("cityscapes", root=root, split="train", mode="coarse")
    assert bool((ds[0][1] == 1).all())


def test_folder_palette_masks_give_indices_not_colors(tmp_path: Path) -> None:
    root = tmp_path / "pal"
    for s in ("p", "q"):
        write_image(root / "images" / f"{s}.png", 0)
        write_mask(root / "masks" / f"{s}.png", raw_mask([2, 0, 1, 255]), palette=True)
    ds = create_dataset("folder", root=root, num_classes=3)
    assert _check_sample(ds)[1].flatten()[:4].tolist() == [2, 0, 1, 255]


def test_root_requirement_comes_from_the_factory_signature(tmp_path: Path) -> None:
    from seg_core.errors import ConfigError
    from seg_core.plugins import get_registry

    made: list[object] = []

    def generated(root=None, split="train", transforms=None, **options):
        made.append(root)
        return create_dataset("synthetic", num_samples=1, size=8)

    def files(root, split="train", transforms=None):
        made.append(root)
        return create_dataset("synthetic", num_samples=1, size=8)

    registry = get_registry("datasets")
    registry.add("toy_generated", generated)
    registry.add("toy_files", files)
    try:
        assert len(create_dataset("toy_generated")) == 1
        with pytest.raises(ConfigError, match=r"create_dataset\('toy_files'\): root=... is required"):
            create_dataset("toy_files")
        create_dataset("toy_files", root=tmp_path)
        assert made == [None, tmp_path]
    finally:
        registry.remove("toy_generated")
        registry.remove("toy_files")
