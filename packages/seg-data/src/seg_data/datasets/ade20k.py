"""ADE20K (SceneParsing ADEChallengeData2016): 150 classes, value 0 ("other") ignored by default."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from seg_data.datasets._layout import Layout
from seg_data.factory import dataset_factory
from seg_data.labels import build_lut, defined_values
from seg_data.metadata import DatasetMetadata, default_palette

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_data.base import DatasetOptions, SegmentationDataset, Transform

__all__ = ["ADE20K_LABELS", "LAYOUT", "ade20k", "ade20k_metadata"]

LAYOUT = Layout(
    "ade20k",
    tree="""\
<root>/                                  (or <root>/ADEChallengeData2016/)
├── images/{training,validation}/ADE_train_00000001.jpg ...
└── annotations/{training,validation}/ADE_train_00000001.png ...   (0 = other, 1..150 = classes)
""",
    nestings=("", "ADEChallengeData2016"),
    marker="images",
    splits=("training", "validation"),
    aliases={"train": "training", "val": "validation"},
)

#: The 150 SceneParsing classes; mask value ``k`` (1..150) is ``ADE20K_LABELS[k - 1]``, 0 is "other".
ADE20K_LABELS: tuple[str, ...] = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass", "cabinet",
    "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair", "car", "water",
    "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair", "seat", "fence", "desk",
    "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box", "column", "signboard",
    "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace", "refrigerator", "grandstand", "path",
    "stairs", "runway", "case", "pool table", "pillow", "screen door", "stairway", "river", "bridge", "bookcase",
    "blind", "coffee table", "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm",
    "kitchen island", "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel",
    "light", "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver", "airplane",
    "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster",
    "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything", "swimming pool", "stool",
    "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle", "oven", "ball", "food", "step", "tank",
    "trade name", "microwave", "pot", "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture",
    "hood", "sconce", "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip


def ade20k_metadata(keep_zero: bool = False) -> DatasetMetadata:
    """Return ADE20K's metadata.

    Args:
        keep_zero: Keep value 0 as class 0 "other" (151 classes) instead of ignoring it (150 classes).

    Returns:
        The metadata, 255 ignored.

    Example:
        >>> ade20k_metadata().num_classes, ade20k_metadata(keep_zero=True).labels[0]
        (150, 'other')
    """
    if keep_zero:
        return DatasetMetadata("ade20k", 151, ["other", *ADE20K_LABELS], 255)
    return DatasetMetadata("ade20k", 150, list(ADE20K_LABELS), 255, default_palette(151)[1:])


@dataset_factory
def ade20k(
    root: str | Path,
    split: str = "training",
    transforms: Transform | None = None,
    *,
    keep_zero: bool = False,
    **options: Unpack[DatasetOptions],
) -> SegmentationDataset:
    """ADE20K scene parsing from ``ADEChallengeData2016``.

    Args:
        root: Folder holding ``images/`` and ``annotations/`` (or the ``ADEChallengeData2016`` parent).
        split: ``training``/``train`` or ``validation``/``val``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        keep_zero: Keep value 0 ("other") as class 0 (151 classes) instead of ignoring it (150 classes,
            1..150 -> 0..149).
        **options: ``seed``, ``check`` (see :class:`~seg_data.base.DatasetOptions`).

    Returns:
        The dataset, samples sorted by stem; masks hold 0..149 and 255 (or 0..150 with ``keep_zero``).

    Raises:
        ConfigError: Unknown split or option.
        LayoutError: No ``images/<split>`` or ``annotations/<split>`` folder, or no image in it.
        DatasetError: An image without its annotation PNG or the reverse; when a sample is read (``check``), an
            annotation value other than 0..150 (and 255).

    Example:
        >>> ds = ade20k("/data/ADEChallengeData2016", "val")  # doctest: +SKIP
    """
    found = LAYOUT.locate(root, split)
    pairs = found.pair(found.folder(f"images/{found.split}"), found.folder(f"annotations/{found.split}"))
    mapping = {i: i for i in range(151)} if keep_zero else {i: i - 1 for i in range(1, 151)}
    lut = build_lut(mapping)
    return found.dataset(
        pairs, ade20k_metadata(keep_zero), transforms, lut=lut, raw_values=defined_values(lut, void=(0,)),
        mapping_id=f"ade20k-keep_zero={keep_zero}", **options,
    )  # fmt: skip
