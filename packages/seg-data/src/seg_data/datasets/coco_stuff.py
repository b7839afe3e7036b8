"""COCO-Stuff 164k (stuffthingmaps): 182 raw ids -> 171 classes, unused ids and 255 ignored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seg_data._files import index_by_stem, layout_error, list_files, locate, pair_by_stem
from seg_data.base import SegmentationDataset
from seg_data.datasets._common import resolve_split
from seg_data.labels import coco_stuff_lut
from seg_data.metadata import resolve_metadata

TREE = """\
<root>/                                  (or <root>/cocostuff/, <root>/coco_stuff/)
├── images/{train2017,val2017}/000000000009.jpg ...
└── annotations/{train2017,val2017}/000000000009.png ...   (stuffthingmaps: value = COCO id - 1, 255 unlabeled)
"""


def coco_stuff(
    root: str | Path,
    split: str = "train2017",
    transforms: Any = None,
    *,
    seed: int | None = None,
    check: bool = True,
) -> SegmentationDataset:
    """COCO-Stuff 164k with the 171 used classes.

    Args:
        root: Folder holding ``images/`` and ``annotations/``.
        split: ``train2017``/``train`` or ``val2017``/``val``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        seed: Per-sample seed for the transforms.
        check: Verify label ranges.

    Raises:
        LayoutError: Unexpected layout. DatasetError: missing partner.

    Example:
        >>> ds = coco_stuff("/data/cocostuff", "val")  # doctest: +SKIP
    """
    split = resolve_split("coco_stuff", split, ("train2017", "val2017"), {"train": "train2017", "val": "val2017"})
    base = locate(root, "coco_stuff", TREE, ["", "cocostuff", "coco_stuff", "coco"], "annotations")
    img_dir, ann_dir = base / "images" / split, base / "annotations" / split
    for d in (img_dir, ann_dir):
        if not d.is_dir():
            raise layout_error("coco_stuff", Path(root), TREE, f"{d} does not exist")
    images = index_by_stem(list_files(img_dir), what="image")
    masks = index_by_stem(list_files(ann_dir, (".png",)), what="mask")
    pairs = pair_by_stem(images, masks, name="coco_stuff", mask_hint=lambda s: f"annotations/{split}/{s}.png")
    return SegmentationDataset(
        pairs, resolve_metadata("coco_stuff"), transforms, split=split, lut=coco_stuff_lut(),
        mapping_id="coco_stuff-171", root=base, seed=seed, check=check,
    )  # fmt: skip
