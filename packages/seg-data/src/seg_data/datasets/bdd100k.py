"""BDD100K semantic segmentation (10k images): the 19 Cityscapes train classes, 255 ignored."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seg_data.datasets._layout import Layout
from seg_data.datasets.cityscapes import cityscapes_metadata
from seg_data.factory import dataset_factory
from seg_data.labels import identity_lut
from seg_data.metadata import DatasetMetadata

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_data.base import DatasetOptions, SegmentationDataset, Transform

__all__ = ["LAYOUT", "bdd100k", "bdd100k_metadata"]

LAYOUT = Layout(
    "bdd100k",
    tree="""\
<root>/                                  (or the folder holding bdd100k/)
└── bdd100k/
    ├── images/10k/{train,val,test}/<stem>.jpg
    └── labels/sem_seg/masks/{train,val}/<stem>.png    (trainIds 0..18, 255 ignore)
""",
    nestings=("bdd100k", "", "bdd100k/bdd100k"),
    marker="images/10k",
    splits=("train", "val", "test"),
)


def bdd100k_metadata() -> DatasetMetadata:
    """Return BDD100K's metadata: the 19 Cityscapes train classes (names and colors), 255 ignored.

    Returns:
        The metadata.

    Example:
        >>> bdd100k_metadata().labels[0]
        'road'
    """
    cs = cityscapes_metadata("train")
    return DatasetMetadata("bdd100k", 19, cs.labels, 255, cs.colors)


@dataset_factory
def bdd100k(
    root: str | Path,
    split: str = "train",
    transforms: Transform | None = None,
    **options: Unpack[DatasetOptions],
) -> SegmentationDataset:
    """BDD100K 10k semantic segmentation.

    Args:
        root: Folder holding ``bdd100k/`` (or ``bdd100k/`` itself).
        split: ``train``, ``val`` or ``test`` (no masks: all pixels ignored).
        transforms: ``(image, mask) -> (image, mask)`` callable.
        **options: ``seed``, ``check`` (see :class:`~seg_data.base.DatasetOptions`).

    Returns:
        The dataset sorted by stem (``test``: every mask pixel is 255).

    Raises:
        ConfigError: Unknown split or option.
        LayoutError: No ``bdd100k/images/10k/<split>`` (or, for train/val, no mask folder), or no image in it.
        DatasetError: A mask PNG without its image or the reverse; when a sample is read (``check``), a stored
            value other than 0..18 and 255.

    Example:
        >>> ds = bdd100k("/data", "val")  # doctest: +SKIP
    """
    found = LAYOUT.locate(root, split)
    split = found.split
    masks = found.folder(
        f"labels/sem_seg/masks/{split}", f"labels/sem_seg/colormaps/{split}_ids", required=split != "test"
    )
    pairs = found.pair(found.folder(f"images/10k/{split}"), masks)
    return found.dataset(pairs, bdd100k_metadata(), transforms, lut=identity_lut(19), mapping_id="bdd100k", **options)
