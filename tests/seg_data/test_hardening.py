"""Hardening: data is never silently wrong; every bad input is a seg error naming the file or argument."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seg_core.errors import ConfigError, InputShapeError, SegError
from seg_data import SegmentationAugment, SegmentationTransform, augment_batch, create_dataset, resolve_metadata
from seg_data.class_weights import compute_class_weights
from seg_data.errors import DatasetError, LayoutError, MetadataFileError
from seg_data.labels import apply_lut, as_label_array, build_lut, check_labels, check_raw_labels, defined_values

from ._trees import H, W, raw_mask, write_image, write_mask

# -- stored label values are checked before the lookup ---------------------------------------------------------


@dataclass(frozen=True)
class Encoding:
    """A dataset's label encoding: stored values it defines as void, classes (stored -> mapped), undefined values."""

    void: tuple[int, ...]
    classes: dict[int, int]
    undefined: tuple[int, ...]


def _mapillary_config(n: int = 10) -> dict:
    return {"labels": [{"name": f"l{i}", "readable": f"L{i}", "color": [i, 2 * i, 3], "evaluate": i < n - 2}
                       for i in range(n)]}  # fmt: skip


def _build(name: str, root: Path, mask: np.ndarray) -> tuple[dict, Path]:
    """One-sample tree of dataset ``name`` whose mask stores ``mask``; returns create_dataset kwargs and the mask."""
    stem = "s_000000_000019"
    if name == "ade20k":
        write_image(root / "images" / "training" / f"{stem}.jpg", 0)
        path = root / "annotations" / "training" / f"{stem}.png"
        kwargs: dict = {"split": "training"}
    elif name == "voc":
        write_image(root / "JPEGImages" / f"{stem}.jpg", 0)
        path = root / "SegmentationClass" / f"{stem}.png"
        (root / "ImageSets" / "Segmentation").mkdir(parents=True)
        (root / "ImageSets" / "Segmentation" / "train.txt").write_text(f"{stem}\n")
        kwargs = {"split": "train"}
    elif name == "bdd100k":
        write_image(root / "bdd100k" / "images" / "10k" / "train" / f"{stem}.jpg", 0)
        path = root / "bdd100k" / "labels" / "sem_seg" / "masks" / "train" / f"{stem}.png"
        kwargs = {"split": "train"}
    elif name.startswith("cityscapes"):
        write_image(root / "leftImg8bit" / "train" / "aachen" / f"{stem}_leftImg8bit.png", 0)
        path = root / "gtFine" / "train" / "aachen" / f"{stem}_gtFine_labelIds.png"
        kwargs = {"split": "train", "variant": name.partition("-")[2] or "train"}
    elif name == "coco_stuff":
        write_image(root / "images" / "train2017" / f"{stem}.jpg", 0)
        path = root / "annotations" / "train2017" / f"{stem}.png"
        kwargs = {"split": "train"}
    elif name == "lip":
        write_image(root / "TrainVal_images" / "train_images" / f"{stem}.jpg", 0)
        path = root / "TrainVal_parsing_annotations" / "train_segmentations" / f"{stem}.png"
        kwargs = {"split": "train"}
    elif name == "mapillary":
        (root / "config_v2.0.json").parent.mkdir(parents=True, exist_ok=True)
        (root / "config_v2.0.json").write_text(json.dumps(_mapillary_config()))
        write_image(root / "training" / "images" / f"{stem}.jpg", 0)
        path = root / "training" / "v2.0" / "labels" / f"{stem}.png"
        kwargs = {"split": "training"}
    elif name == "folder-reduce_zero":
        (root / "metadata.json").parent.mkdir(parents=True, exist_ok=True)
        (root / "metadata.json").write_text(json.dumps({"num_classes": 3, "ignore_index": 10}))
        write_image(root / "images" / f"{stem}.png", 0)
        path = root / "masks" / f"{stem}.png"
        kwargs = {"reduce_zero": True}
    else:
        raise AssertionError(name)
    write_mask(path, mask, palette=name in ("voc", "mapillary"))
    return kwargs, path


ENCODINGS: dict[str, Encoding] = {
    "ade20k": Encoding((0, 255), {1: 0, 150: 149}, (151, 200, 254)),
    "voc": Encoding((255,), {0: 0, 15: 15, 20: 20}, (21, 38, 147, 220)),
    "bdd100k": Encoding((255,), {0: 0, 18: 18}, (19, 100, 254)),
    "cityscapes": Encoding((0, 1, 6, 9, 10, 14, 18, 29, 30, 255), {7: 0, 26: 13, 33: 18}, (34, 100, 254)),
    "cityscapes-category": Encoding((0, 3, 255), {7: 0, 33: 6}, (34, 200)),
    "cityscapes-full": Encoding((255,), {0: 0, 9: 9, 33: 33}, (34, 128)),
    "coco_stuff": Encoding((11, 25, 90, 255), {0: 0, 12: 11, 181: 170}, (182, 200, 254)),
    "lip": Encoding((255,), {0: 0, 19: 19}, (20, 100)),
    "mapillary": Encoding((8, 9, 255), {0: 0, 7: 7}, (10, 11, 200)),
    "folder-reduce_zero": Encoding((0, 10), {1: 0, 3: 2}, (4, 11, 12)),
}


def _create(name: str, root: Path, **kwargs):
    return create_dataset(name.partition("-")[0], root=root, **kwargs)


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_void_values_are_ignored_and_classes_mapped(tmp_path: Path, name: str) -> None:
    enc = ENCODINGS[name]
    stored = [*enc.classes, *enc.void]
    kwargs, _ = _build(name, tmp_path, raw_mask(stored))
    ds = _create(name, tmp_path, **kwargs)
    mask = ds[0][1].flatten()[: len(stored)].tolist()
    assert mask == [*enc.classes.values(), *[ds.ignore_index] * len(enc.void)]


@pytest.mark.parametrize(("name", "value"), [(n, v) for n, e in sorted(ENCODINGS.items()) for v in e.undefined])
def test_undefined_stored_values_are_an_error_naming_file_and_values(tmp_path: Path, name: str, value: int) -> None:
    enc = ENCODINGS[name]
    first_class = next(iter(enc.classes))
    kwargs, path = _build(name, tmp_path, raw_mask([first_class, value]))
    ds = _create(name, tmp_path, **kwargs)
    with pytest.raises(DatasetError, match=rf"{path.name}: label values \[{value}\] as stored") as info:
        ds[0]
    assert str(path) in str(info.value) and "check=False" in str(info.value)
    with pytest.raises(DatasetError, match=rf"\[{value}\]"):
        ds.load_mask(0)  # the mask-only path (class weights) checks too
    # check=False keeps the old mapping: through a lookup table, undefined values become ignore_index
    unchecked = _create(name, tmp_path, check=False, **kwargs)
    if unchecked.lut is not None:
        assert unchecked[0][1].flatten()[:2].tolist() == [enc.classes[first_class], unchecked.ignore_index]


def test_voc_palette_mask_saved_as_grayscale_is_an_error(tmp_path: Path) -> None:
    from seg_data.metadata import default_palette

    kwargs, path = _build("voc", tmp_path, raw_mask([0, 1, 15, 255]))
    palette = np.asarray(default_palette(256), dtype=np.uint8)
    rgb = palette[np.asarray(Image.open(path))]
    Image.fromarray(rgb).convert("L").save(path)  # what an image editor "saving as grayscale" does
    with pytest.raises(DatasetError, match=r"label values \[.*\] as stored in the file .*'voc'"):
        create_dataset("voc", root=tmp_path, **kwargs)[0]
    Image.fromarray(rgb).save(path)  # saved as RGB: three channels, not the index mask VOC defines
    with pytest.raises(DatasetError, match="single-channel"):
        create_dataset("voc", root=tmp_path, **kwargs)[0]


def test_mapillary_rgb_label_with_unknown_color_is_an_error(tmp_path: Path) -> None:
    kwargs, path = _build("mapillary", tmp_path, raw_mask([0]))
    rgb = np.zeros((H, W, 3), dtype=np.uint8)
    rgb[...] = (7, 14, 3)
    rgb[0, 0] = (250, 1, 1)
    Image.fromarray(rgb).save(path)
    with pytest.raises(DatasetError, match=r"color \(250, 1, 1\) is not in the palette"):
        create_dataset("mapillary", root=tmp_path, **kwargs)[0]


def test_raw_label_helpers() -> None:
    lut = build_lut({1: 0, 2: 1}, size=8)
    table = defined_values(lut, 255, void=[0])
    assert np.flatnonzero(table).tolist() == [0, 1, 2]
    check_raw_labels(np.array([[0, 1, 2]], dtype=np.uint8), table)
    for bad in ([3], [-1], [300]):
        with pytest.raises(DatasetError, match=rf"m.png: label values \[{bad[0]}\]"):
            check_raw_labels(np.array([1, *bad]), table, source="m.png")
    with pytest.raises(ValueError):
        defined_values(lut, void=[99])


@pytest.mark.parametrize("values", [[0.5], [1.0, 2.5], [np.nan], [np.inf]])
def test_fractional_label_values_are_never_truncated(values: list[float]) -> None:
    arr = np.array([0.0, *values])
    for call in (
        lambda: as_label_array(arr, source="f.tif"),
        lambda: apply_lut(arr, build_lut({0: 0, 1: 1, 2: 2}), source="f.tif"),
        lambda: check_labels(arr, 3, 255, source="f.tif"),
    ):
        with pytest.raises(DatasetError, match="f.tif: label values must be whole numbers"):
            call()
    assert as_label_array(np.array([0.0, 2.0])).tolist() == [0, 2]
    with pytest.raises(DatasetError, match="integers"):
        as_label_array(np.array(["a"]))


def _sbd(tmp_path: Path, seg: np.ndarray) -> Path:
    scipy_io = pytest.importorskip("scipy.io")
    base = tmp_path / "dataset"
    write_image(base / "img" / "2008_000002.jpg", 0)
    (base / "cls").mkdir(parents=True)
    scipy_io.savemat(base / "cls" / "2008_000002.mat", {"GTcls": {"Segmentation": seg}})
    (base / "train.txt").write_text("2008_000002\n")
    return tmp_path


@pytest.mark.parametrize("value", [1.5, 20.25, -0.5, np.nan])
@pytest.mark.parametrize("check", [True, False])
def test_sbd_non_integer_labels_are_an_error(tmp_path: Path, value: float, check: bool) -> None:
    seg = raw_mask([0, 5]).astype(np.float64)
    seg[0, 2] = value
    ds = create_dataset("sbd", root=_sbd(tmp_path, seg), check=check)
    with pytest.raises(DatasetError, match=r"2008_000002\.mat \(GTcls\.Segmentation\): label values must be whole"):
        ds[0]


def test_sbd_whole_float_labels_and_undefined_values(tmp_path: Path) -> None:
    seg = raw_mask([0, 5, 20, 255]).astype(np.float64)
    ds = create_dataset("sbd", root=_sbd(tmp_path, seg))
    assert ds[0][1].flatten()[:4].tolist() == [0, 5, 20, 255]
    seg[0, 0] = 21
    ds = create_dataset("sbd", root=_sbd(tmp_path / "b", seg))
    with pytest.raises(DatasetError, match=r"label values \[21\]"):
        ds[0]


# -- paired transforms refuse misaligned input -------------------------------------------------------------------

_PAIRED: dict[str, Callable] = {
    "transform": SegmentationTransform(),
    "transform-resize": SegmentationTransform((5, 7)),
    "transform-pad_crop": SegmentationTransform((5, 7), mode="pad_crop"),
    "augment": SegmentationAugment(hflip=0.5, crop_size=4),
    "augment-full": SegmentationAugment(scale_range=(0.5, 1.5), rotation=20, perspective=0.3, color_jitter=(0.2,) * 4),
}


@pytest.mark.parametrize("name", sorted(_PAIRED))
@pytest.mark.parametrize(
    ("image_shape", "mask_shape", "hint"),
    [
        ((6, 8, 3), (6, 8), "channel-last"),  # HWC image with its mask
        ((6, 8, 1), (6, 8), "channel-last"),
        ((3, 6, 8), (8, 6), "different spatial sizes"),  # transposed mask
        ((3, 6, 8), (6, 9), "different spatial sizes"),
        ((3, 6, 8), (1, 5, 8), "different spatial sizes"),
        ((3, 6, 8), (2, 6, 8), r"\(H, W\) or \(1, H, W\)"),
        ((6, 8), (6, 8), r"\(C, H, W\)"),
        ((1, 3, 6, 8), (6, 8), r"\(C, H, W\)"),
        ((3, 0, 8), (0, 8), r"\(C, H, W\)"),
    ],
)
def test_paired_transforms_refuse_misaligned_pairs(name: str, image_shape: tuple, mask_shape: tuple, hint: str) -> None:
    image = torch.zeros(image_shape, dtype=torch.uint8)
    mask = torch.zeros(mask_shape, dtype=torch.int64)
    shapes = rf"image {tuple(image_shape)} and mask {tuple(mask_shape)}".replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(InputShapeError, match=rf"(?s){shapes}.*{hint}"):
        _PAIRED[name](image, mask)
    with pytest.raises(InputShapeError, match=hint):  # numpy arrays (decoded HWC images) too
        _PAIRED[name](image.numpy(), mask.numpy())


@pytest.mark.parametrize("name", sorted(_PAIRED))
def test_paired_transforms_refuse_unsupported_dtypes_and_keep_mask_values(name: str) -> None:
    mask = torch.zeros(6, 8, dtype=torch.int64)
    for image in (torch.zeros(3, 6, 8, dtype=torch.int64), torch.zeros(3, 6, 8, dtype=torch.bool)):
        with pytest.raises(InputShapeError, match=f"image dtype {image.dtype}"):
            _PAIRED[name](image, mask)
    with pytest.raises(InputShapeError, match="mask dtype torch.float32"):
        _PAIRED[name](torch.zeros(3, 6, 8), mask.float())
    # a uint8 mask cannot hold ignore_index=-1: it comes back int64 with the fill, never wrapped around
    from seg_data.metadata import DatasetMetadata
    from seg_data.transforms import metadata_scope

    small = torch.ones(6, 8, dtype=torch.uint8)
    with metadata_scope(DatasetMetadata("neg", 2, ignore_index=-1)):
        _, y = _PAIRED[name](torch.zeros(3, 6, 8, dtype=torch.uint8), small)
    assert set(torch.as_tensor(y).unique().tolist()) <= {1, -1}


def test_transform_mean_must_match_channels() -> None:
    tf = SegmentationTransform(mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))
    with pytest.raises(InputShapeError, match=r"mean has 3 values but the image \(2, 6, 8\) has 2 channels"):
        tf(torch.zeros(2, 6, 8), torch.zeros(6, 8, dtype=torch.int64))


def test_batches_refuse_misaligned_pairs() -> None:
    aug = SegmentationAugment(hflip=1.0)
    with pytest.raises(InputShapeError, match=r"images \(2, 6, 8, 3\) and masks \(2, 6, 8\).*channel-last"):
        aug.batch(torch.zeros(2, 6, 8, 3), torch.zeros(2, 6, 8, dtype=torch.int64))
    with pytest.raises(InputShapeError, match="mask dtype"):
        aug.batch(torch.zeros(2, 3, 6, 8), torch.zeros(2, 6, 8))

    def flip(image, mask):
        return image.flip(-1), mask.flip(-1)

    with pytest.raises(InputShapeError, match=r"images \(2, 3, 6, 8\) and masks \(2, 6, 9\)"):
        augment_batch(flip, torch.zeros(2, 3, 6, 8), torch.zeros(2, 6, 9, dtype=torch.int64))
    sizes = iter([(4, 4), (5, 5)])

    def crop_varies(image, mask):
        h, w = next(sizes)
        return image[..., :h, :w], mask[..., :h, :w]

    with pytest.raises(InputShapeError, match="different sizes"):
        augment_batch(crop_varies, torch.zeros(2, 3, 6, 8), torch.zeros(2, 6, 8, dtype=torch.int64))


# -- split names and folders may not leave the root ----------------------------------------------------------------


@pytest.mark.parametrize("split", ["../../other", "../other", "/abs/path", "C:/x", "a/../../b", "..\\other", ""])
def test_folder_split_argument_cannot_leave_the_root(make_folder: Callable[..., Path], split: str) -> None:
    root = make_folder()
    other = root.parent / "other"
    (other / "images").mkdir(parents=True)
    (root / "images" / "sub").mkdir()
    with pytest.raises(ConfigError, match="leaves the dataset root"):
        create_dataset("folder", root=root / "images" / "..", split=split, num_classes=3)
    with pytest.raises(ConfigError, match=_re(f"split={split!r}")):
        create_dataset("folder", root=root, split=split, num_classes=3)


@pytest.mark.parametrize("name", ["voc", "sbd"])
def test_list_splits_cannot_leave_the_root(make_voc: Callable[..., Path], tmp_path: Path, name: str) -> None:
    root = make_voc()
    if name == "sbd":
        (root / "VOCdevkit" / "VOC2012" / "cls").mkdir()
    (tmp_path / "secret.txt").write_text("2007_000032\n")
    with pytest.raises(ConfigError, match="leaves the dataset root"):
        create_dataset(name, root=root, split="../../../../../secret")


def test_folder_split_symlinks_out_of_the_root_are_refused(make_folder: Callable[..., Path], tmp_path: Path) -> None:
    root = make_folder()
    outside = tmp_path / "outside"
    for sub in ("images", "masks"):
        (outside / sub).mkdir(parents=True)
    write_image(outside / "images" / "x.png", 0)
    write_mask(outside / "masks" / "x.png", raw_mask([0]))
    (root / "images" / "train").symlink_to(outside / "images", target_is_directory=True)
    (root / "masks" / "train").mkdir()
    with pytest.raises(ConfigError, match=r"resolves outside .*images"):
        create_dataset("folder", root=root, split="train", num_classes=3)
    (root / "images" / "train").unlink()
    (root / "images" / "train").mkdir()
    (root / "masks" / "train").rmdir()
    (root / "masks" / "train").symlink_to(outside / "masks", target_is_directory=True)
    with pytest.raises(ConfigError, match=r"resolves outside .*masks"):
        create_dataset("folder", root=root, split="train", num_classes=3)
    # a split list that is a symlink out of the root: the rule of split list entries
    (tmp_path / "list.txt").write_text("a\n")
    (root / "val.txt").symlink_to(tmp_path / "list.txt")
    with pytest.raises(DatasetError, match=r"split list .*val\.txt resolves outside"):
        create_dataset("folder", root=root, split="val", num_classes=3)
    # inside the root, sub-folder splits and lists work
    (root / "splits").mkdir()
    (root / "splits" / "ok.txt").write_text("a\nc\n")
    assert [s[0] for s in create_dataset("folder", root=root, split="ok", num_classes=3).samples] == ["a", "c"]


@pytest.mark.parametrize("arg", ["images_dir", "masks_dir"])
@pytest.mark.parametrize("value", ["../images", "/tmp", "x/../../y"])
def test_folder_dirs_cannot_leave_the_root(make_folder: Callable[..., Path], arg: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{arg}={value!r} leaves the dataset root"):
        create_dataset("folder", root=make_folder(), num_classes=3, **{arg: value})


# -- decompression bombs and undecodable files ---------------------------------------------------------------------


@pytest.mark.parametrize("limit", [40, 20, 47])  # 6 x 8 = 48 pixels: PIL warns (40, 47) or raises (20)
@pytest.mark.parametrize("which", ["images", "masks"])
def test_decompression_bombs_are_dataset_errors(
    make_folder: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, limit: int, which: str
) -> None:
    ds = create_dataset("folder", root=make_folder(), num_classes=3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    if which == "masks":
        call: Callable[[], object] = lambda: ds.load_mask(0)  # noqa: E731
    else:
        call = lambda: ds.load_image(0)  # noqa: E731
    pattern = rf"{which}/a\.png: .*MAX_IMAGE_PIXELS={limit}.*decompression bomb"
    for action in ("ignore", "error"):  # PIL's DecompressionBombWarning, also where warnings are errors
        with warnings.catch_warnings():
            warnings.simplefilter(action)
            with pytest.raises(DatasetError, match=pattern):
                call()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert ds[0][0].shape == (3, H, W)


def test_our_pixel_limit_applies_when_pil_does_not_check(
    make_folder: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = create_dataset("folder", root=make_folder(), num_classes=3)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40)
    monkeypatch.setattr(Image, "_decompression_bomb_check", lambda size: None)
    with pytest.raises(DatasetError, match=r"a\.png: .*\(8x6\)"):
        ds[0]


@pytest.mark.parametrize(
    ("file", "content", "match"),
    [
        ("metadata.json", b'{"num_classes": 3,', "cannot decode .*JSONDecodeError"),
        ("metadata.json", b"\xff\xfe\x00garbage", "cannot decode .*UnicodeDecodeError"),
        ("metadata.toml", b'labels = ["a"\nnum_classes = ', "cannot decode .*TOMLDecodeError"),
        ("metadata.json", b"[1, 2, 3]", "must be a mapping"),
        ("metadata.json", b"42", "must be a mapping"),
        ("metadata.json", b'{"labels": 3}', "'labels' must be a list"),
        ("metadata.json", b'{"labels": [1, 2]}', "'labels' must be a list"),
        ("metadata.json", b'{"num_classes": "x"}', "'num_classes' must be an integer"),
        ("metadata.json", b'{"num_classes": 2, "colors": [1, 2]}', "'colors' must be a list"),
        ("metadata.json", b'{"num_classes": 2, "colors": [[0, 0], [1, 1]]}', "'colors' must be a list"),
        ("metadata.json", b'{"num_classes": 2, "ignore_index": null}', "'ignore_index' must be an integer"),
        ("metadata.json", b'{"num_classes": 2, "ignore_index": 1}', "is a class index"),
    ],
)
def test_bad_folder_metadata_file_is_a_dataset_error_naming_it(
    make_folder: Callable[..., Path], file: str, content: bytes, match: str
) -> None:
    root = make_folder()
    (root / file).write_bytes(content)
    with pytest.raises(MetadataFileError, match=match) as info:
        create_dataset("folder", root=root)
    assert str(root / file) in str(info.value)
    assert isinstance(info.value, DatasetError) and isinstance(info.value, ConfigError)
    with pytest.raises(DatasetError, match=file):
        resolve_metadata("folder", root=root)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        (b'{"labels": [', "cannot decode .*JSONDecodeError"),
        (b"\x80\x81", "cannot decode"),
        (b"[]", "no 'labels' list"),
        (b'{"labels": []}', "no 'labels' list"),
        (b'{"labels": [{"readable": "A"}]}', r"labels\[0\] has no 'color' key"),
        (b'{"labels": [{"readable": "A", "color": [1, 2, 3]}, {"name": "b"}]}', r"labels\[1\] has no 'color'"),
        (b'{"labels": [{"color": [1, 2, 3]}]}', r"labels\[0\] has no 'readable' or 'name'"),
        (b'{"labels": [{"readable": "A", "color": [1, 2]}]}', r"labels\[0\]\['color'\] is \[1, 2\]"),
        (b'{"labels": [{"readable": "A", "color": [1, 2, 300]}]}', r"labels\[0\]\['color'\]"),
        (b'{"labels": ["car"]}', r"labels\[0\] is str"),
        (b'{"labels": [{"readable": "A", "color": [1, 2, 3], "evaluate": "yes"}]}', r"'evaluate'\] is 'yes'"),
    ],
)
def test_bad_mapillary_config_is_a_dataset_error_naming_it(tmp_path: Path, config: bytes, match: str) -> None:
    kwargs, _ = _build("mapillary", tmp_path, raw_mask([0]))
    (tmp_path / "config_v2.0.json").write_bytes(config)
    with pytest.raises(MetadataFileError, match=match) as info:
        create_dataset("mapillary", root=tmp_path, **kwargs)
    assert str(tmp_path / "config_v2.0.json") in str(info.value)
    with pytest.raises(DatasetError, match=r"config_v2\.0\.json"):
        resolve_metadata("mapillary", root=tmp_path)


def test_mapillary_config_dict_with_missing_key_is_a_config_error() -> None:
    from seg_data.datasets.mapillary import mapillary_lut, mapillary_metadata

    for call in (mapillary_metadata, mapillary_lut):
        with pytest.raises(ConfigError, match=r"labels\[0\] has no 'color'"):
            call({"labels": [{"readable": "A"}]})
    with pytest.raises(ConfigError, match=r"labels\[0\] has no 'readable' or 'name'"):
        mapillary_metadata({"labels": [{"color": [1, 2, 3]}]})


def test_undecodable_split_list_names_it(make_voc: Callable[..., Path]) -> None:
    root = make_voc()
    (root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "val.txt").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(DatasetError, match=r"cannot read split list .*val\.txt"):
        create_dataset("voc", root=root, split="val")


# -- empty splits -------------------------------------------------------------------------------------------------


def test_empty_split_names_the_folder(make_folder: Callable[..., Path], tmp_path: Path) -> None:
    root = make_folder()
    for p in (root / "images").iterdir():
        p.unlink()
    for p in (root / "masks").iterdir():
        p.unlink()
    (root / "images" / "notes.txt").write_text("not an image")
    with pytest.raises(LayoutError, match=rf"no images found in {root / 'images'}"):
        create_dataset("folder", root=root, num_classes=3)
    base = tmp_path / "ade"
    (base / "images" / "validation").mkdir(parents=True)
    (base / "annotations" / "validation").mkdir(parents=True)
    with pytest.raises(LayoutError, match=r"no images found in .*images/validation.*the split is empty"):
        create_dataset("ade20k", root=base, split="val")


def test_empty_split_with_images_of_another_pattern(make_cityscapes: Callable[..., Path]) -> None:
    root = make_cityscapes()
    for p in (root / "leftImg8bit" / "val").rglob("*.png"):
        p.rename(p.with_name(p.name.replace("_leftImg8bit", "_rightImg8bit")))
    with pytest.raises(LayoutError, match=r"no images found in .*leftImg8bit/val \(searched for \*/\*_leftImg8bit"):
        create_dataset("cityscapes", root=root, split="val")


def test_empty_split_list_names_the_list(make_voc: Callable[..., Path]) -> None:
    root = make_voc()
    (root / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "val.txt").write_text("# nothing\n\n")
    with pytest.raises(DatasetError, match=r"split list .*val\.txt lists no sample"):
        create_dataset("voc", root=root, split="val")


# -- class-weight cache: corrupt or stale means recompute ------------------------------------------------------------


def _counts(cache_dir: Path) -> list[float]:
    (path,) = cache_dir.iterdir()
    return json.loads(path.read_text())["counts"]


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"\xff\x00", b"[]", b"null", b'{"counts": [1, 2, 3]}', b'{"counts": "x", "inputs": {}}',
     b'{"version": 2, "counts": [-1, 2, 3], "inputs": {"paths": "", "stats": []}}'],
)  # fmt: skip
def test_corrupt_class_weight_cache_is_recomputed_with_a_warning(
    make_folder: Callable[..., Path], tmp_path: Path, content: bytes
) -> None:
    ds = create_dataset("folder", root=make_folder(), num_classes=3)
    cache_dir = tmp_path / "cache"
    expected = compute_class_weights(ds, cache_dir=cache_dir)
    good = _counts(cache_dir)
    (cache,) = cache_dir.iterdir()
    cache.write_bytes(content)
    with pytest.warns(UserWarning, match=rf"{cache.name} is corrupt.*recomputing"):
        assert torch.equal(compute_class_weights(ds, cache_dir=cache_dir), expected)
    assert _counts(cache_dir) == good  # rewritten
    assert [p.name for p in cache_dir.iterdir()] == [cache.name]  # no temporary file left


def test_stale_class_weight_cache_is_detected(make_folder: Callable[..., Path], tmp_path: Path) -> None:
    root = make_folder()
    ds = create_dataset("folder", root=root, num_classes=3)
    cache_dir = tmp_path / "cache"
    before = compute_class_weights(ds, cache_dir=cache_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # unchanged inputs: the cache is reused silently
        assert torch.equal(compute_class_weights(ds, cache_dir=cache_dir), before)
    mask = root / "masks" / "b.png"
    write_mask(mask, np.full((H, W), 2, dtype=np.uint8))  # same size on disk is possible: mtime must tell
    stat = mask.stat()
    os.utime(mask, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000_000))
    with pytest.warns(UserWarning, match=r"stale: .*b\.png changed"):
        after = compute_class_weights(ds, cache_dir=cache_dir)
    assert not torch.equal(after, before)
    assert torch.equal(after, compute_class_weights(ds))  # == the uncached counts
    assert _counts(cache_dir) == [0.0, 48.0, 96.0]


def test_class_weight_cache_of_generated_samples_is_keyed_by_the_generator(tmp_path: Path) -> None:
    a = create_dataset("synthetic", num_samples=2, size=16, num_classes=3, data_seed=0)
    b = create_dataset("synthetic", num_samples=2, size=16, num_classes=3, data_seed=1)
    cache_dir = tmp_path / "cache"
    wa = compute_class_weights(a, cache_dir=cache_dir)
    with pytest.warns(UserWarning, match="other files"):
        wb = compute_class_weights(b, cache_dir=cache_dir)
    assert torch.equal(wb, compute_class_weights(b)) and not torch.equal(wa, wb)


# -- unknown dataset options are named, with close matches -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("voc", {"splitt": "train"}, "'splitt' (did you mean 'split'?)"),
        ("voc", {"agu": True}, "'agu' (did you mean 'aug'?)"),
        ("voc", {"sed": 0}, "'sed' (did you mean 'seed'?)"),
        ("ade20k", {"keepzero": True}, "'keepzero' (did you mean 'keep_zero'?)"),
        ("cityscapes", {"varaint": "full", "mdoe": "fine"}, "'varaint' (did you mean 'variant'?), 'mdoe'"),
        ("folder", {"num_clases": 3}, "'num_clases' (did you mean 'num_classes'?)"),
        ("folder", {"chek": False}, "'chek' (did you mean 'check'?)"),
        ("synthetic", {"num_sample": 2}, "'num_sample' (did you mean 'num_samples'?)"),
        ("synthetic", {"check": True}, "'check'"),
        ("mapillary", {"versoin": "v1.2"}, "'versoin' (did you mean 'version'?)"),
    ],
)
def test_unknown_dataset_options_are_named(tmp_path: Path, name: str, options: dict, match: str) -> None:
    from seg_core.plugins import get_registry

    with pytest.raises(ConfigError, match=rf"dataset {name!r} got unexpected argument\(s\) {_re(match)}") as info:
        create_dataset(name, root=tmp_path, **options)
    assert "accepted: " in str(info.value)
    factory = get_registry("datasets").get(name)
    with pytest.raises(ConfigError, match=_re(match)):  # the factory called directly
        factory(tmp_path, **options)


def _re(text: str) -> str:
    import re

    return re.escape(text)


def test_dataset_factories_keep_their_signature_and_plugins_are_checked(tmp_path: Path) -> None:
    import inspect

    from seg_core.plugins import get_registry
    from seg_data.datasets.ade20k import ade20k

    params = inspect.signature(ade20k).parameters
    assert list(params)[:4] == ["root", "split", "transforms", "keep_zero"] and ade20k.__name__ == "ade20k"

    def strict(root, split="train", transforms=None, *, size=8):
        return create_dataset("synthetic", num_samples=1, size=size)

    def loose(root=None, split="train", transforms=None, **options):
        return create_dataset("synthetic", num_samples=1, size=8)

    registry = get_registry("datasets")
    registry.add("toy_strict", strict)
    registry.add("toy_loose", loose)
    try:
        with pytest.raises(ConfigError, match=r"dataset 'toy_strict' got .*'sise' \(did you mean 'size'"):
            create_dataset("toy_strict", root=tmp_path, sise=4)
        assert len(create_dataset("toy_strict", root=tmp_path, size=4)) == 1
        assert len(create_dataset("toy_loose", anything=1)) == 1  # **options: the factory validates itself
    finally:
        registry.remove("toy_strict")
        registry.remove("toy_loose")


def test_every_error_here_is_a_seg_error() -> None:
    for cls in (DatasetError, LayoutError, MetadataFileError, InputShapeError, ConfigError):
        assert issubclass(cls, SegError) and issubclass(cls, ValueError)
