"""ADE20K (SceneParsing ADEChallengeData2016): 150 classes, value 0 ("other") ignored by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seg_data._files import index_by_stem, layout_error, list_files, locate, pair_by_stem
from seg_data.base import SegmentationDataset
from seg_data.datasets._common import resolve_split
from seg_data.labels import build_lut
from seg_data.metadata import resolve_metadata

TREE = """\
<root>/                                  (or <root>/ADEChallengeData2016/)
├── images/{training,validation}/ADE_train_00000001.jpg ...
└── annotations/{training,validation}/ADE_train_00000001.png ...   (0 = other, 1..150 = classes)
"""


def ade20k(
    root: str | Path,
    split: str = "training",
    transforms: Any = None,
    *,
    keep_zero: bool = False,
    seed: int | None = None,
    check: bool = True,
) -> SegmentationDataset:
    """ADE20K scene parsing from ``ADEChallengeData2016``.

    Args:
        root: Folder holding ``images/`` and ``annotations/`` (or the ``ADEChallengeData2016`` parent).
        split: ``training``/``train`` or ``validation``/``val``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        keep_zero: Keep value 0 ("other") as class 0 (151 classes) instead of ignoring it (150 classes,
            1..150 -> 0..149).
        seed: Per-sample seed for the transforms.
        check: Verify label ranges.

    Raises:
        LayoutError: Unexpected layout. DatasetError: missing partner.

    Example:
        >>> ds = ade20k("/data/ADEChallengeData2016", "val")  # doctest: +SKIP
    """
    split = resolve_split("ade20k", split, ("training", "validation"), {"train": "training", "val": "validation"})
    base = locate(root, "ade20k", TREE, ["", "ADEChallengeData2016"], "images")
    img_dir, ann_dir = base / "images" / split, base / "annotations" / split
    for d in (img_dir, ann_dir):
        if not d.is_dir():
            raise layout_error("ade20k", Path(root), TREE, f"{d} does not exist")
    images = index_by_stem(list_files(img_dir), what="image")
    masks = index_by_stem(list_files(ann_dir, (".png",)), what="mask")
    pairs = pair_by_stem(images, masks, name="ade20k", mask_hint=lambda s: f"annotations/{split}/{s}.png")
    mapping = {i: i for i in range(151)} if keep_zero else {i: i - 1 for i in range(1, 151)}
    return SegmentationDataset(
        pairs, resolve_metadata("ade20k", keep_zero=keep_zero), transforms, split=split,
        lut=build_lut(mapping), mapping_id=f"ade20k-keep_zero={keep_zero}", root=base, seed=seed, check=check,
    )  # fmt: skip
