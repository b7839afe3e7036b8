"""PASCAL VOC 2012 segmentation: 21 classes in index order, 255 (object borders) ignored."""

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

__all__ = ["LAYOUT", "VOC_LABELS", "voc", "voc_metadata"]

LAYOUT = Layout(
    "voc",
    tree="""\
<root>/                                  (or <root>/VOCdevkit/VOC2012/, <root>/VOC2012/)
├── JPEGImages/2007_000032.jpg ...
├── SegmentationClass/2007_000032.png ...        (palette PNG: index = class, 255 = border)
├── SegmentationClassAug/2007_000032.png ...     (optional, aug=True)
└── ImageSets/Segmentation/{train,val,trainval}.txt   (one stem per line; train_aug.txt with aug=True)
""",
    nestings=("", "VOCdevkit/VOC2012", "VOC2012", "VOCdevkit/VOCdevkit/VOC2012"),
    marker="JPEGImages",
)

#: The 21 VOC classes in mask-value order.
VOC_LABELS: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip


def voc_metadata() -> DatasetMetadata:
    """Return VOC's metadata: 21 classes, the VOC palette, 255 ignored.

    Returns:
        The metadata (``resolve_metadata("voc")``).

    Example:
        >>> meta = voc_metadata()
        >>> meta.labels[15], meta.colors[15]
        ('person', (192, 128, 128))
    """
    return DatasetMetadata("voc", 21, VOC_LABELS, 255)


@dataset_factory
def voc(
    root: str | Path,
    split: str = "train",
    transforms: Transform | None = None,
    *,
    aug: bool = False,
    **options: Unpack[DatasetOptions],
) -> SegmentationDataset:
    """PASCAL VOC 2012 segmentation.

    Args:
        root: ``VOCdevkit/VOC2012`` or a parent of it.
        split: Name of a list in ``ImageSets/Segmentation/`` (``train``, ``val``, ``trainval``, ``train_aug``...).
        transforms: ``(image, mask) -> (image, mask)`` callable.
        aug: Read masks from ``SegmentationClassAug`` (the SBD-augmented set) instead of ``SegmentationClass``.
        **options: ``seed``, ``check`` (see :class:`~seg_data.base.DatasetOptions`).

    Returns:
        The dataset, samples in split-list order.

    Raises:
        ConfigError: A split that leaves the root (absolute, ``..``), or an unknown option.
        LayoutError: Unexpected layout or missing split list.
        DatasetError: Missing mask, unsafe or empty split list; when a sample is read (``check``), a stored value
            other than 0..20 and 255 (e.g. a palette PNG saved as grayscale).

    Example:
        >>> ds = voc("/data/VOCdevkit", "val")  # doctest: +SKIP
    """
    found = LAYOUT.locate(root, split)
    masks = found.folder("SegmentationClassAug" if aug else "SegmentationClass")
    keys = found.split_list(f"ImageSets/Segmentation/{split}.txt")
    pairs = found.pair(found.base / "JPEGImages", masks, keys=keys)
    return found.dataset(
        pairs, voc_metadata(), transforms, lut=identity_lut(21), mapping_id=f"voc-aug={aug}", **options
    )
