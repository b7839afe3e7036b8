"""Look Into Person (LIP) human parsing: 20 classes (0 background ... 19 right shoe)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seg_data._files import (
    first_existing,
    index_by_stem,
    layout_error,
    list_files,
    locate,
    pair_by_stem,
    read_split_list,
)
from seg_data.base import SegmentationDataset
from seg_data.datasets._common import resolve_split
from seg_data.labels import identity_lut
from seg_data.metadata import resolve_metadata

TREE = """\
<root>/                                  (or <root>/LIP/)
├── TrainVal_images/[TrainVal_images/]{train,val}_images/<stem>.jpg      (extra level as unzipped, or flattened)
├── TrainVal_images/[TrainVal_images/]{train,val}_id.txt                 (optional; also <root>/{train,val}_id.txt)
└── TrainVal_parsing_annotations/[TrainVal_parsing_annotations/]{train,val}_segmentations/<stem>.png
"""


def lip(
    root: str | Path,
    split: str = "train",
    transforms: Any = None,
    *,
    seed: int | None = None,
    check: bool = True,
) -> SegmentationDataset:
    """LIP single-person parsing.

    Args:
        root: Folder holding ``TrainVal_images/`` and ``TrainVal_parsing_annotations/``.
        split: ``train`` or ``val``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        seed: Per-sample seed for the transforms.
        check: Verify label ranges.

    Raises:
        LayoutError: Unexpected layout. DatasetError: missing partner, unsafe id list entry.

    Example:
        >>> ds = lip("/data/LIP", "val")  # doctest: +SKIP
    """
    split = resolve_split("lip", split, ("train", "val"))
    base = locate(root, "lip", TREE, ["", "LIP"], "TrainVal_images")
    img_dir = first_existing(
        base, [f"TrainVal_images/TrainVal_images/{split}_images", f"TrainVal_images/{split}_images"]
    )
    ann = "TrainVal_parsing_annotations"
    mask_dir = first_existing(base, [f"{ann}/{ann}/{split}_segmentations", f"{ann}/{split}_segmentations"])
    if img_dir is None or mask_dir is None:
        missing = f"TrainVal_images/{split}_images" if img_dir is None else f"{ann}/{split}_segmentations"
        raise layout_error("lip", Path(root), TREE, f"{missing} (with or without the extra level) does not exist")
    id_file = first_existing(
        base, [f"TrainVal_images/TrainVal_images/{split}_id.txt", f"TrainVal_images/{split}_id.txt", f"{split}_id.txt"]
    )
    keys = read_split_list(id_file, base, name="lip") if id_file is not None else None
    images = index_by_stem(list_files(img_dir), what="image")
    masks = index_by_stem(list_files(mask_dir, (".png",)), what="mask")
    pairs = pair_by_stem(images, masks, name="lip", keys=keys, mask_hint=lambda s: f"{mask_dir}/{s}.png")
    return SegmentationDataset(
        pairs, resolve_metadata("lip"), transforms, split=split, lut=identity_lut(20), mapping_id="lip",
        root=base, seed=seed, check=check,
    )  # fmt: skip
