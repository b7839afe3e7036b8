"""PASCAL VOC 2012 segmentation: 21 classes in index order, 255 (object borders) ignored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seg_data._files import index_by_stem, layout_error, list_files, locate, pair_by_stem, read_split_list
from seg_data.base import SegmentationDataset
from seg_data.labels import identity_lut
from seg_data.metadata import resolve_metadata

TREE = """\
<root>/                                  (or <root>/VOCdevkit/VOC2012/, <root>/VOC2012/)
├── JPEGImages/2007_000032.jpg ...
├── SegmentationClass/2007_000032.png ...        (palette PNG: index = class, 255 = border)
├── SegmentationClassAug/2007_000032.png ...     (optional, aug=True)
└── ImageSets/Segmentation/{train,val,trainval}.txt   (one stem per line; train_aug.txt with aug=True)
"""


def voc(
    root: str | Path,
    split: str = "train",
    transforms: Any = None,
    *,
    aug: bool = False,
    seed: int | None = None,
    check: bool = True,
) -> SegmentationDataset:
    """PASCAL VOC 2012 segmentation.

    Args:
        root: ``VOCdevkit/VOC2012`` or a parent of it.
        split: Name of a list in ``ImageSets/Segmentation/`` (``train``, ``val``, ``trainval``, ``train_aug``...).
        transforms: ``(image, mask) -> (image, mask)`` callable.
        aug: Read masks from ``SegmentationClassAug`` (the SBD-augmented set) instead of ``SegmentationClass``.
        seed: Per-sample seed for the transforms.
        check: Verify label ranges.

    Raises:
        LayoutError: Unexpected layout or missing split list. DatasetError: missing mask, unsafe list entry.

    Example:
        >>> ds = voc("/data/VOCdevkit", "val")  # doctest: +SKIP
    """
    base = locate(root, "voc", TREE, ["", "VOCdevkit/VOC2012", "VOC2012", "VOCdevkit/VOCdevkit/VOC2012"], "JPEGImages")
    mask_dir = base / ("SegmentationClassAug" if aug else "SegmentationClass")
    if not mask_dir.is_dir():
        raise layout_error("voc", Path(root), TREE, f"{mask_dir} does not exist")
    list_file = base / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not list_file.is_file():
        raise layout_error("voc", Path(root), TREE, f"split list {list_file} does not exist")
    keys = read_split_list(list_file, base, name="voc")
    images = index_by_stem(list_files(base / "JPEGImages"), what="image")
    masks = index_by_stem(list_files(mask_dir, (".png",)), what="mask")
    pairs = pair_by_stem(images, masks, name="voc", keys=keys, mask_hint=lambda s: f"{mask_dir.name}/{s}.png")
    return SegmentationDataset(
        pairs, resolve_metadata("voc"), transforms, split=split, lut=identity_lut(21),
        mapping_id=f"voc-aug={aug}", root=base, seed=seed, check=check,
    )  # fmt: skip
