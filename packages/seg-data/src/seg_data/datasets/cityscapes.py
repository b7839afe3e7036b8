"""Cityscapes (fine or coarse), labelIds mapped to 19 trainIds, 7 categories or the raw 34 ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seg_data._files import first_existing, index_by_stem, layout_error, locate, pair_by_stem
from seg_data.base import SegmentationDataset
from seg_data.datasets._common import resolve_split
from seg_data.labels import cityscapes_lut
from seg_data.metadata import resolve_metadata

TREE = """\
<root>/                                  (or <root>/cityscapes/)
├── leftImg8bit/{train,val,test}/<city>/<stem>_leftImg8bit.png
├── gtFine/{train,val,test}/<city>/<stem>_gtFine_labelIds.png
└── gtCoarse/{train,train_extra,val}/<city>/<stem>_gtCoarse_labelIds.png   (mode="coarse")
"""


def cityscapes(
    root: str | Path,
    split: str = "train",
    transforms: Any = None,
    *,
    mode: str = "fine",
    variant: str = "train",
    seed: int | None = None,
    check: bool = True,
) -> SegmentationDataset:
    """Cityscapes from its official layout.

    Args:
        root: Folder holding ``leftImg8bit/`` and ``gtFine/`` (or one extra ``cityscapes/`` level).
        split: ``train``, ``val``, ``test`` (or ``train_extra`` with ``mode="coarse"``).
        transforms: ``(image, mask) -> (image, mask)`` callable, see :class:`~seg_data.base.SegmentationDataset`.
        mode: ``"fine"`` (gtFine) or ``"coarse"`` (gtCoarse).
        variant: ``"train"`` (19 trainIds, other ids ignored), ``"category"`` (7 categories) or ``"full"`` (34).
        seed: Per-sample seed for the transforms.
        check: Verify label ranges.

    Returns:
        The dataset; ``dataset.metadata`` matches ``resolve_metadata("cityscapes", variant=variant)``.

    Raises:
        LayoutError: Missing root or unexpected layout (the message shows the expected tree).
        DatasetError: An image without its labelIds mask.

    Example:
        >>> ds = cityscapes("/data/cityscapes", "val")  # doctest: +SKIP
    """
    from seg_core.errors import ConfigError

    if mode not in ("fine", "coarse"):
        raise ConfigError(f"cityscapes: mode={mode!r} is unknown; use 'fine' or 'coarse'")
    allowed = ("train", "val", "test", "train_extra") if mode == "coarse" else ("train", "val", "test")
    split = resolve_split("cityscapes", split, allowed)
    meta = resolve_metadata("cityscapes", variant=variant)
    base = locate(root, "cityscapes", TREE, ["", "cityscapes", "Cityscapes"], "leftImg8bit")
    img_dir = base / "leftImg8bit" / split
    if not img_dir.is_dir():
        raise layout_error("cityscapes", Path(root), TREE, f"{img_dir} does not exist")
    gt = "gtFine" if mode == "fine" else "gtCoarse"
    gt_dir = first_existing(base, [f"{gt}/{split}", f"{gt}_trainvaltest/{gt}/{split}"])
    images = index_by_stem(sorted(img_dir.glob("*/*_leftImg8bit.png")), "_leftImg8bit", what="image")
    masks = None
    if gt_dir is not None:
        masks = index_by_stem(sorted(gt_dir.glob(f"*/*_{gt}_labelIds.png")), f"_{gt}_labelIds", what="mask")
    elif split != "test":
        raise layout_error("cityscapes", Path(root), TREE, f"{base / gt / split} does not exist")
    pairs = pair_by_stem(
        images, masks, name="cityscapes", mask_hint=lambda s: f"{gt}/{split}/<city>/{s}_{gt}_labelIds.png"
    )
    return SegmentationDataset(
        pairs, meta, transforms, split=split, lut=cityscapes_lut(variant), mapping_id=f"cityscapes-{mode}-{variant}",
        root=base, seed=seed, check=check,
    )  # fmt: skip
