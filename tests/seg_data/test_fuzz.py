"""Property tests: random shapes, dtypes and label values give a correct, aligned result or a seg error.

Never a raw exception (IndexError, RuntimeError, KeyError...) and never a misaligned pair or a label that silently
changed class or became ignore.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from torchvision.transforms import InterpolationMode

from seg_core.errors import InputShapeError, SegError
from seg_data import Compose, SegmentationAugment, SegmentationTransform, create_dataset
from seg_data.errors import DatasetError
from seg_data.metadata import DatasetMetadata, default_palette
from seg_data.transforms import metadata_scope

FUZZ = settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

IMAGE_DTYPES = [torch.uint8, torch.float32, torch.float64, torch.float16, torch.int64, torch.int16, torch.bool]
MASK_DTYPES = [torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8, torch.bool, torch.float32]
IGNORES = [255, -1, -100, 9]


@st.composite
def transforms(draw: st.DrawFn, *, geometric_only: bool = False) -> Any:
    """A SegmentationTransform, a SegmentationAugment or both composed, with random options.

    ``geometric_only``: no interpolation of image values (nearest, pad/crop, no color, blur or normalization),
    so that the image can encode the mask and alignment can be checked pixel by pixel.
    """
    size = draw(st.one_of(st.none(), st.integers(1, 9), st.tuples(st.integers(1, 9), st.integers(1, 9))))
    if geometric_only:
        tf = SegmentationTransform(size, mode="pad_crop")
    else:
        mode = draw(st.sampled_from(["resize", "pad_crop"]))
        norm = draw(st.booleans())
        channels = draw(st.integers(1, 4))
        tf = SegmentationTransform(
            size, mode=mode, mean=[0.5] * channels if norm else None, std=[0.25] * channels if norm else None
        )
    crop = draw(st.one_of(st.none(), st.integers(1, 9), st.tuples(st.integers(1, 9), st.integers(1, 9))))
    aug = SegmentationAugment(
        hflip=draw(st.floats(0, 1)),
        vflip=draw(st.floats(0, 1)),
        scale_range=draw(st.sampled_from([(1.0, 1.0), (0.5, 1.5), (0.3, 2.5)])),
        crop_size=crop,
        rotation=draw(st.floats(0, 90)),
        perspective=draw(st.sampled_from([0.0, 0.3, 0.8])),
        color_jitter=None if geometric_only else draw(st.sampled_from([None, (0.3, 0.3, 0.3, 0.1)])),
        blur=0.0 if geometric_only else draw(st.sampled_from([0.0, 1.0])),
        interpolation=InterpolationMode.NEAREST
        if geometric_only
        else draw(st.sampled_from([InterpolationMode.NEAREST, InterpolationMode.BILINEAR])),
    )  # fmt: skip
    return draw(st.sampled_from([tf, aug, Compose([aug, tf])]))


def _check_output(x: Any, y: Any, mask_in: torch.Tensor, fill: int) -> torch.Tensor:
    """Shapes aligned and mask values from the input or the fill; returns the mask as an (H, W) tensor."""
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    assert x.ndim == 3, x.shape
    y2 = y[0] if y.ndim == 3 else y
    assert y.ndim in (2, 3) and (y.ndim == 2 or y.shape[0] == 1)
    assert tuple(x.shape[-2:]) == tuple(y2.shape), (x.shape, y.shape)
    allowed = set(mask_in.to(torch.int64).unique().tolist()) | {fill}
    assert set(y2.to(torch.int64).unique().tolist()) <= allowed
    return y2


@FUZZ
@given(
    tf=transforms(),
    c=st.integers(1, 5),
    h=st.integers(1, 10),
    w=st.integers(1, 10),
    image_dtype=st.sampled_from(IMAGE_DTYPES),
    mask_dtype=st.sampled_from(MASK_DTYPES),
    ignore=st.sampled_from(IGNORES),
    layout=st.sampled_from(["chw", "hwc", "mask_size", "mask_1hw", "image_2d", "numpy"]),
    seed=st.integers(0, 2**16),
)
def test_transforms_give_aligned_output_or_a_seg_error(
    tf: Any, c: int, h: int, w: int, image_dtype: torch.dtype, mask_dtype: torch.dtype, ignore: int, layout: str,
    seed: int,
) -> None:  # fmt: skip
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(c, h, w, generator=g)
    image = (image * 255).to(image_dtype) if not image_dtype.is_floating_point else image.to(image_dtype)
    mask = torch.randint(0, 4, (h, w), generator=g).to(mask_dtype)
    bad = False
    if layout == "hwc":
        assume(not (c == h == w))  # (c, c, c) is a valid channel-first image too
        image = image.permute(1, 2, 0)
        bad = True
    elif layout == "mask_size":
        mask = torch.zeros(h + 1, w, dtype=mask_dtype)
        bad = True
    elif layout == "mask_1hw":
        mask = mask[None]
    elif layout == "image_2d":
        image = image[0]
        bad = True
    torch.manual_seed(seed)
    args = (image.numpy(), mask.numpy()) if layout == "numpy" and image_dtype != torch.bfloat16 else (image, mask)
    error: SegError | None = None
    try:
        with metadata_scope(DatasetMetadata("fuzz", 4, ignore_index=ignore)):
            x, y = tf(*args)
    except SegError as exc:  # anything else (IndexError, RuntimeError...) fails the test
        error = exc
    if isinstance(error, InputShapeError):
        assert f"{tuple(args[0].shape)}" in str(error) or "mean has" in str(error)  # names the shapes
    if error is not None:
        return
    assert not bad, f"misaligned input {tuple(image.shape)} / {tuple(mask.shape)} was accepted"
    _check_output(x, y, mask, ignore)


@FUZZ
@given(tf=transforms(geometric_only=True), h=st.integers(1, 12), w=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_geometric_transforms_keep_image_and_mask_aligned(tf: Any, h: int, w: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    mask = torch.randint(0, 5, (h, w), generator=g)
    image = (mask * 40 + 20).to(torch.uint8).expand(3, -1, -1).clone()  # pixel value encodes the class
    torch.manual_seed(seed)
    x, y = tf(image, mask)
    y = _check_output(x, y, mask, 255)
    decoded = torch.full_like(y, 255)
    if x.is_floating_point():
        x = (x * 255).round()
    known = x[0] >= 10  # fill pixels are 0
    decoded[known] = (x[0][known].long() - 20) // 40
    assert torch.equal(decoded, y.as_subclass(torch.Tensor))


# -- datasets built from random files ------------------------------------------------------------------------------


def _write(path: Path, arr: np.ndarray, *, palette: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(arr)
    if palette:
        im = im.convert("P")
        im.putpalette([v for col in default_palette(256) for v in col])
    im.save(path)


@st.composite
def stored_masks(draw: st.DrawFn, specials: tuple[int, ...] = ()) -> np.ndarray:
    """A small uint8 mask of a few values, often next to the boundaries of the encoding (``specials``)."""
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    edges = sorted({v for v in specials if 0 <= v <= 255})
    value = st.one_of(st.integers(0, 255), st.sampled_from(edges)) if edges else st.integers(0, 255)
    pool = draw(st.lists(value, min_size=1, max_size=6))
    flat = draw(st.lists(st.sampled_from(pool), min_size=h * w, max_size=h * w))
    return np.asarray(flat, dtype=np.uint8).reshape(h, w)


@st.composite
def folder_cases(draw: st.DrawFn) -> dict[str, Any]:
    """Options of a one-sample folder dataset and its stored mask, often at the edges of the encoding."""
    num_classes = draw(st.integers(1, 6))
    ignore = draw(st.sampled_from([255, 10, 200, -1]).filter(lambda v: not 0 <= v < num_classes))
    reduce_zero = draw(st.booleans())
    edges = (0, num_classes, num_classes + 1, ignore, ignore + 1) if reduce_zero else (0, num_classes, ignore)
    return {
        "stored": draw(stored_masks(edges)),
        "num_classes": num_classes,
        "ignore": ignore,
        "reduce_zero": reduce_zero,
        "check": draw(st.booleans()),
        "palette": draw(st.booleans()),
        "image_hw": draw(st.sampled_from(["same", "same", "other"])),
    }


_RZ_EDGE = {"stored": np.array([[1, 11]], dtype=np.uint8), "num_classes": 3, "ignore": 10, "reduce_zero": True,
            "check": True, "palette": False, "image_hw": "same"}  # fmt: skip


@FUZZ
@given(case=folder_cases())
@example(case=_RZ_EDGE)  # stored ignore_index + 1 becomes ignore_index after reduce_zero: undefined, an error
def test_folder_dataset_gives_the_documented_labels_or_a_dataset_error(case: dict[str, Any]) -> None:
    stored, num_classes, ignore, reduce_zero = case["stored"], case["num_classes"], case["ignore"], case["reduce_zero"]
    check, palette, image_hw = case["check"], case["palette"], case["image_hw"]
    h, w = stored.shape
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        size = (h, w) if image_hw == "same" else (h + 1, w)
        _write(root / "images" / "s.png", np.full((*size, 3), 7, dtype=np.uint8))
        _write(root / "masks" / "s.png", stored, palette=palette)
        (root / "metadata.json").write_text(json.dumps({"num_classes": num_classes, "ignore_index": ignore}))
        ds = create_dataset("folder", root=root, reduce_zero=reduce_zero, check=check)
        raw = stored.astype(np.int64)
        expected = np.where((raw == 0) | (raw == ignore), ignore, raw - 1) if reduce_zero else raw
        stored_ok = np.isin(raw, [*range(num_classes + int(reduce_zero)), ignore])
        error: DatasetError | None = None
        try:
            x, y = ds[0]
        except DatasetError as exc:
            error = exc
        if error is not None:
            assert "s.png" in str(error)
            assert image_hw == "other" or (check and not stored_ok.all())
            return
        assert image_hw == "same" and (not check or stored_ok.all())
        assert tuple(x.shape) == (3, h, w) and tuple(y.shape) == (h, w)
        assert np.array_equal(y.numpy(), expected)


@FUZZ
@given(stored=stored_masks((0, 20, 21, 150, 151, 255)), name=st.sampled_from(["voc", "ade20k"]), check=st.booleans())
def test_lookup_table_dataset_never_turns_an_undefined_value_into_ignore(
    stored: np.ndarray, name: str, check: bool
) -> None:
    h, w = stored.shape
    raw = stored.astype(np.int64)
    if name == "voc":
        defined = (raw <= 20) | (raw == 255)
        expected = np.where(raw <= 20, raw, 255)
    else:
        defined = (raw <= 150) | (raw == 255)
        expected = np.where((raw >= 1) & (raw <= 150), raw - 1, 255)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if name == "voc":
            _write(root / "JPEGImages" / "s.png", np.zeros((h, w, 3), dtype=np.uint8))
            _write(root / "SegmentationClass" / "s.png", stored, palette=True)
            (root / "ImageSets" / "Segmentation").mkdir(parents=True)
            (root / "ImageSets" / "Segmentation" / "train.txt").write_text("s\n")
            ds = create_dataset("voc", root=root, split="train", check=check)
        else:
            _write(root / "images" / "training" / "s.png", np.zeros((h, w, 3), dtype=np.uint8))
            _write(root / "annotations" / "training" / "s.png", stored)
            ds = create_dataset("ade20k", root=root, split="training", check=check)
        error: DatasetError | None = None
        try:
            _, y = ds[0]
        except DatasetError as exc:
            error = exc
        if error is not None:
            assert check and not defined.all()
            assert str(Path(tmp) / ("SegmentationClass" if name == "voc" else "annotations")) in str(error)
            return
        assert defined.all() or not check
        assert np.array_equal(y.numpy(), expected)
        valid = y[y != 255]
        assert valid.numel() == 0 or int(valid.max()) < ds.num_classes


@FUZZ
@given(
    num_classes=st.integers(1, 6),
    ignore=st.sampled_from([255, -1, 50]),
    tf=transforms(),
    size=st.integers(4, 10),
    seed=st.integers(0, 1000),
)
def test_dataset_with_random_transforms_gives_valid_pairs(
    num_classes: int, ignore: int, tf: Any, size: int, seed: int
) -> None:
    ds = create_dataset(
        "synthetic", num_samples=1, size=size, num_classes=num_classes, ignore_index=ignore, ignore_border=1,
        transforms=tf, seed=seed,
    )  # fmt: skip
    try:
        x, y = ds[0]
    except SegError:
        return  # e.g. a normalization whose mean does not match the 3 channels
    assert x.dtype.is_floating_point and y.dtype == torch.int64
    assert x.ndim == 3 and tuple(x.shape[-2:]) == tuple(y.shape)
    assert set(y.unique().tolist()) <= {*range(num_classes), ignore}
