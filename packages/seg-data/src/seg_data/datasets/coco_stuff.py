"""COCO-Stuff 164k (stuffthingmaps): 182 raw ids -> 171 classes, unused ids and 255 ignored."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from seg_data.datasets._layout import Layout
from seg_data.factory import dataset_factory
from seg_data.labels import build_lut, defined_values
from seg_data.metadata import DatasetMetadata

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_data.base import DatasetOptions, SegmentationDataset, Transform

__all__ = [
    "COCO_STUFF_LABELS",
    "COCO_STUFF_UNUSED_IDS",
    "LAYOUT",
    "coco_stuff",
    "coco_stuff_lut",
    "coco_stuff_metadata",
]

LAYOUT = Layout(
    "coco_stuff",
    tree="""\
<root>/                                  (or <root>/cocostuff/, <root>/coco_stuff/)
├── images/{train2017,val2017}/000000000009.jpg ...
└── annotations/{train2017,val2017}/000000000009.png ...   (stuffthingmaps: value = COCO id - 1, 255 unlabeled)
""",
    nestings=("", "cocostuff", "coco_stuff", "coco"),
    marker="annotations",
    splits=("train2017", "val2017"),
    aliases={"train": "train2017", "val": "val2017"},
)

#: Raw stuffthingmaps values (COCO id - 1) that no annotation uses (11 thing ids dropped by COCO).
COCO_STUFF_UNUSED_IDS: tuple[int, ...] = (11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90)

#: The 171 used COCO-Stuff classes, in raw-id order (80 things then 91 stuff).
COCO_STUFF_LABELS: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis",
    "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
    "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
    "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
    "banner", "blanket", "branch", "bridge", "building-other", "bush", "cabinet", "cage", "cardboard", "carpet",
    "ceiling-other", "ceiling-tile", "cloth", "clothes", "clouds", "counter", "cupboard", "curtain", "desk-stuff",
    "dirt", "door-stuff", "fence", "floor-marble", "floor-other", "floor-stone", "floor-tile", "floor-wood",
    "flower", "fog", "food-other", "fruit", "furniture-other", "grass", "gravel", "ground-other", "hill", "house",
    "leaves", "light", "mat", "metal", "mirror-stuff", "moss", "mountain", "mud", "napkin", "net", "paper",
    "pavement", "pillow", "plant-other", "plastic", "platform", "playingfield", "railing", "railroad", "river",
    "road", "rock", "roof", "rug", "salad", "sand", "sea", "shelf", "sky-other", "skyscraper", "snow",
    "solid-other", "stairs", "stone", "straw", "structural-other", "table", "tent", "textile-other", "towel", "tree",
    "vegetable", "wall-brick", "wall-concrete", "wall-other", "wall-panel", "wall-stone", "wall-tile", "wall-wood",
    "water-other", "waterdrops", "window-blind", "window-other", "wood",
)  # fmt: skip


def coco_stuff_metadata() -> DatasetMetadata:
    """Return COCO-Stuff's metadata: the 171 used classes (80 things, 91 stuff), 255 ignored.

    Returns:
        The metadata.

    Example:
        >>> coco_stuff_metadata().labels[-1]
        'wood'
    """
    return DatasetMetadata("coco_stuff", 171, COCO_STUFF_LABELS, 255)


def coco_stuff_lut(*, ignore_index: int = 255) -> NDArray[np.int64]:
    """Lookup table for COCO-Stuff stuffthingmaps: 182 raw ids -> 171 classes, unused ids and 255 ignored.

    Args:
        ignore_index: Value for unused and unlabeled ids.

    Returns:
        A 256-entry table.

    Example:
        >>> int(coco_stuff_lut()[12]), int(coco_stuff_lut()[11])
        (11, 255)
    """
    used = [i for i in range(182) if i not in COCO_STUFF_UNUSED_IDS]
    return build_lut({raw: k for k, raw in enumerate(used)}, ignore_index=ignore_index)


@dataset_factory
def coco_stuff(
    root: str | Path,
    split: str = "train2017",
    transforms: Transform | None = None,
    **options: Unpack[DatasetOptions],
) -> SegmentationDataset:
    """COCO-Stuff 164k with the 171 used classes.

    Args:
        root: Folder holding ``images/`` and ``annotations/``.
        split: ``train2017``/``train`` or ``val2017``/``val``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        **options: ``seed``, ``check`` (see :class:`~seg_data.base.DatasetOptions`).

    Returns:
        The dataset sorted by stem; the 11 unused COCO ids and 255 (unlabeled) are ignored.

    Raises:
        ConfigError: Unknown split.
        LayoutError: No ``images/<split>`` or ``annotations/<split>`` folder under the located root.
        DatasetError: A stuffthingmaps PNG without its image or the reverse; when a sample is read (``check``), a
            stored value outside 0..181 and 255.

    Example:
        >>> ds = coco_stuff("/data/cocostuff", "val")  # doctest: +SKIP
    """
    found = LAYOUT.locate(root, split)
    pairs = found.pair(found.folder(f"images/{found.split}"), found.folder(f"annotations/{found.split}"))
    meta, lut = coco_stuff_metadata(), coco_stuff_lut()
    raw_values = defined_values(lut, void=COCO_STUFF_UNUSED_IDS)  # 0..181 and 255; 182..254 are errors
    return found.dataset(
        pairs, meta, transforms, lut=lut, raw_values=raw_values, mapping_id="coco_stuff-171", **options
    )
