"""BDD100K semantic segmentation (10k images): the 19 Cityscapes train classes, 255 ignored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seg_data._files import first_existing, index_by_stem, layout_error, list_files, locate, pair_by_stem
from seg_data.base import SegmentationDataset
from seg_data.datasets._common import resolve_split
from seg_data.labels import identity_lut
from seg_data.metadata import resolve_metadata

TREE = """\
<root>/                                  (or the folder holding bdd100k/)
└── bdd100k/
    ├── images/10k/{train,val,test}/<stem>.jpg
    └── labels/sem_seg/masks/{train,val}/<stem>.png    (trainIds 0..18, 255 ignore)
"""


def bdd100k(
    root: str | Path,
    split: str = "train",
    transforms: Any = None,
    *,
    seed: int | None = None,
    check: bool = True,
) -> SegmentationDataset:
    """BDD100K 10k semantic segmentation.

    Args:
        root: Folder holding ``bdd100k/`` (or ``bdd100k/`` itself).
        split: ``train``, ``val`` or ``test`` (no masks: all pixels ignored).
        transforms: ``(image, mask) -> (image, mask)`` callable.
        seed: Per-sample seed for the transforms.
        check: Verify label ranges.

    Raises:
        LayoutError: Unexpected layout. DatasetError: missing partner.

    Example:
        >>> ds = bdd100k("/data", "val")  # doctest: +SKIP
    """
    split = resolve_split("bdd100k", split, ("train", "val", "test"))
    base = locate(root, "bdd100k", TREE, ["bdd100k", "", "bdd100k/bdd100k"], "images/10k")
    img_dir = base / "images" / "10k" / split
    if not img_dir.is_dir():
        raise layout_error("bdd100k", Path(root), TREE, f"{img_dir} does not exist")
    mask_dir = first_existing(base, [f"labels/sem_seg/masks/{split}", f"labels/sem_seg/colormaps/{split}_ids"])
    if mask_dir is None and split != "test":
        raise layout_error("bdd100k", Path(root), TREE, f"{base / 'labels/sem_seg/masks' / split} does not exist")
    images = index_by_stem(list_files(img_dir), what="image")
    masks = index_by_stem(list_files(mask_dir, (".png",)), what="mask") if mask_dir is not None else None
    pairs = pair_by_stem(images, masks, name="bdd100k", mask_hint=lambda s: f"labels/sem_seg/masks/{split}/{s}.png")
    return SegmentationDataset(
        pairs, resolve_metadata("bdd100k"), transforms, split=split, lut=identity_lut(19), mapping_id="bdd100k",
        root=base, seed=seed, check=check,
    )  # fmt: skip
