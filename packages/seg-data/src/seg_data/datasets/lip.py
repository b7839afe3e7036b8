"""Look Into Person (LIP) human parsing: 20 classes (0 background ... 19 right shoe)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seg_data.datasets._layout import Layout
from seg_data.factory import dataset_factory
from seg_data.labels import identity_lut
from seg_data.metadata import DatasetMetadata

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_data.base import DatasetOptions, SegmentationDataset, Transform

__all__ = ["LAYOUT", "LIP_LABELS", "lip", "lip_metadata"]

LAYOUT = Layout(
    "lip",
    tree="""\
<root>/                                  (or <root>/LIP/)
├── TrainVal_images/[TrainVal_images/]{train,val}_images/<stem>.jpg      (extra level as unzipped, or flattened)
├── TrainVal_images/[TrainVal_images/]{train,val}_id.txt                 (optional; also <root>/{train,val}_id.txt)
└── TrainVal_parsing_annotations/[TrainVal_parsing_annotations/]{train,val}_segmentations/<stem>.png
""",
    nestings=("", "LIP"),
    marker="TrainVal_images",
    splits=("train", "val"),
)

_IMAGES, _MASKS = "TrainVal_images", "TrainVal_parsing_annotations"

#: The 20 LIP classes in mask-value order.
LIP_LABELS: tuple[str, ...] = (
    "background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress", "coat", "socks", "pants",
    "jumpsuits", "scarf", "skirt", "face", "left-arm", "right-arm", "left-leg", "right-leg", "left-shoe",
    "right-shoe",
)  # fmt: skip


def lip_metadata() -> DatasetMetadata:
    """Return LIP's metadata: 20 classes, 255 ignored.

    Returns:
        The metadata.

    Example:
        >>> lip_metadata().labels[13]
        'face'
    """
    return DatasetMetadata("lip", 20, LIP_LABELS, 255)


@dataset_factory
def lip(
    root: str | Path,
    split: str = "train",
    transforms: Transform | None = None,
    **options: Unpack[DatasetOptions],
) -> SegmentationDataset:
    """LIP single-person parsing.

    Args:
        root: Folder holding ``TrainVal_images/`` and ``TrainVal_parsing_annotations/``.
        split: ``train`` or ``val``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        **options: ``seed``, ``check`` (see :class:`~seg_data.base.DatasetOptions`).

    Returns:
        The dataset, in id-list order when ``<split>_id.txt`` exists, else sorted by stem.

    Raises:
        ConfigError: Unknown split or option.
        LayoutError: No ``<split>_images`` or ``<split>_segmentations`` folder, with or without the extra level, or
            no image in it.
        DatasetError: An image without its parsing PNG (or the reverse), or an unsafe or empty id list; when a
            sample is read (``check``), a stored value other than 0..19 and 255.

    Example:
        >>> ds = lip("/data/LIP", "val")  # doctest: +SKIP
    """
    found = LAYOUT.locate(root, split)
    split = found.split
    images = found.folder(f"{_IMAGES}/{_IMAGES}/{split}_images", f"{_IMAGES}/{split}_images")
    masks = found.folder(f"{_MASKS}/{_MASKS}/{split}_segmentations", f"{_MASKS}/{split}_segmentations")
    keys = found.split_list(
        f"{_IMAGES}/{_IMAGES}/{split}_id.txt", f"{_IMAGES}/{split}_id.txt", f"{split}_id.txt", required=False
    )
    pairs = found.pair(images, masks, keys=keys)
    return found.dataset(pairs, lip_metadata(), transforms, lut=identity_lut(20), mapping_id="lip", **options)
