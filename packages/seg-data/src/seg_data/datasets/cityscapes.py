"""Cityscapes (fine or coarse): the official label table, labelIds mapped to 19 trainIds, 7 categories or 34 ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from seg_core.errors import ConfigError
from seg_data.datasets._layout import Layout
from seg_data.factory import dataset_factory
from seg_data.labels import build_lut, defined_values
from seg_data.metadata import Color, DatasetMetadata, default_palette

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_data.base import DatasetOptions, SegmentationDataset, Transform

__all__ = [
    "CITYSCAPES_CATEGORIES",
    "CITYSCAPES_LABELS",
    "LAYOUT",
    "CityscapesLabel",
    "cityscapes",
    "cityscapes_lut",
    "cityscapes_metadata",
]

LAYOUT = Layout(
    "cityscapes",
    tree="""\
<root>/                                  (or <root>/cityscapes/)
├── leftImg8bit/{train,val,test}/<city>/<stem>_leftImg8bit.png
├── gtFine/{train,val,test}/<city>/<stem>_gtFine_labelIds.png
└── gtCoarse/{train,train_extra,val}/<city>/<stem>_gtCoarse_labelIds.png   (mode="coarse")
""",
    nestings=("", "cityscapes", "Cityscapes"),
    marker="leftImg8bit",
    splits=("train", "val", "test"),
)

_VARIANTS = "use 'train' (19), 'category' (7) or 'full' (34)"


@dataclass(frozen=True)
class CityscapesLabel:
    """One row of the official Cityscapes label table (``cityscapesscripts/helpers/labels.py``)."""

    name: str
    id: int
    train_id: int
    category: str
    category_id: int
    color: Color


CITYSCAPES_CATEGORIES: tuple[str, ...] = ("flat", "construction", "object", "nature", "sky", "human", "vehicle")

_CS = CityscapesLabel
#: The 34 labelIds (0..33) as stored in ``*_gtFine_labelIds.png``; ``train_id`` 255 = ignored.
CITYSCAPES_LABELS: tuple[CityscapesLabel, ...] = (
    _CS("unlabeled", 0, 255, "void", 0, (0, 0, 0)),
    _CS("ego vehicle", 1, 255, "void", 0, (0, 0, 0)),
    _CS("rectification border", 2, 255, "void", 0, (0, 0, 0)),
    _CS("out of roi", 3, 255, "void", 0, (0, 0, 0)),
    _CS("static", 4, 255, "void", 0, (0, 0, 0)),
    _CS("dynamic", 5, 255, "void", 0, (111, 74, 0)),
    _CS("ground", 6, 255, "void", 0, (81, 0, 81)),
    _CS("road", 7, 0, "flat", 1, (128, 64, 128)),
    _CS("sidewalk", 8, 1, "flat", 1, (244, 35, 232)),
    _CS("parking", 9, 255, "flat", 1, (250, 170, 160)),
    _CS("rail track", 10, 255, "flat", 1, (230, 150, 140)),
    _CS("building", 11, 2, "construction", 2, (70, 70, 70)),
    _CS("wall", 12, 3, "construction", 2, (102, 102, 156)),
    _CS("fence", 13, 4, "construction", 2, (190, 153, 153)),
    _CS("guard rail", 14, 255, "construction", 2, (180, 165, 180)),
    _CS("bridge", 15, 255, "construction", 2, (150, 100, 100)),
    _CS("tunnel", 16, 255, "construction", 2, (150, 120, 90)),
    _CS("pole", 17, 5, "object", 3, (153, 153, 153)),
    _CS("polegroup", 18, 255, "object", 3, (153, 153, 153)),
    _CS("traffic light", 19, 6, "object", 3, (250, 170, 30)),
    _CS("traffic sign", 20, 7, "object", 3, (220, 220, 0)),
    _CS("vegetation", 21, 8, "nature", 4, (107, 142, 35)),
    _CS("terrain", 22, 9, "nature", 4, (152, 251, 152)),
    _CS("sky", 23, 10, "sky", 5, (70, 130, 180)),
    _CS("person", 24, 11, "human", 6, (220, 20, 60)),
    _CS("rider", 25, 12, "human", 6, (255, 0, 0)),
    _CS("car", 26, 13, "vehicle", 7, (0, 0, 142)),
    _CS("truck", 27, 14, "vehicle", 7, (0, 0, 70)),
    _CS("bus", 28, 15, "vehicle", 7, (0, 60, 100)),
    _CS("caravan", 29, 255, "vehicle", 7, (0, 0, 90)),
    _CS("trailer", 30, 255, "vehicle", 7, (0, 0, 110)),
    _CS("train", 31, 16, "vehicle", 7, (0, 80, 100)),
    _CS("motorcycle", 32, 17, "vehicle", 7, (0, 0, 230)),
    _CS("bicycle", 33, 18, "vehicle", 7, (119, 11, 32)),
)
del _CS

_CS_CATEGORY_COLORS: tuple[Color, ...] = (
    (128, 64, 128),
    (70, 70, 70),
    (153, 153, 153),
    (107, 142, 35),
    (70, 130, 180),
    (220, 20, 60),
    (0, 0, 142),
)


def cityscapes_metadata(variant: str = "train") -> DatasetMetadata:
    """Return Cityscapes' metadata for a label ``variant``.

    Args:
        variant: ``"train"`` (19 trainIds), ``"category"`` (7 categories) or ``"full"`` (the 34 labelIds).

    Returns:
        The metadata (official names and colors, 255 ignored).

    Raises:
        ConfigError: Unknown variant.

    Example:
        >>> cityscapes_metadata("category").labels[0]
        'flat'
    """
    if variant == "train":
        rows = sorted((r for r in CITYSCAPES_LABELS if r.train_id != 255), key=lambda r: r.train_id)
        return DatasetMetadata("cityscapes", 19, [r.name for r in rows], 255, [r.color for r in rows])
    if variant == "category":
        return DatasetMetadata("cityscapes", 7, list(CITYSCAPES_CATEGORIES), 255, list(_CS_CATEGORY_COLORS))
    if variant == "full":
        rows = list(CITYSCAPES_LABELS)
        colors = [r.color if r.id >= 7 else default_palette(34)[r.id] for r in rows]
        return DatasetMetadata("cityscapes", 34, [r.name for r in rows], 255, colors)
    raise ConfigError(f"cityscapes variant={variant!r} is unknown; {_VARIANTS}")


def cityscapes_lut(variant: str = "train", *, ignore_index: int = 255) -> NDArray[np.int64]:
    """Lookup table for Cityscapes ``labelIds`` (0..33; also -1/255 as stored in some files).

    Args:
        variant: ``"train"`` (19 trainIds), ``"category"`` (7 categories, void ignored) or ``"full"`` (34 ids).
        ignore_index: Value for ignored ids.

    Returns:
        A 256-entry table: ``lut[label_id]`` is the class index or ``ignore_index``.

    Raises:
        ConfigError: Unknown variant.

    Example:
        >>> int(cityscapes_lut()[26])  # car
        13
    """
    if variant == "train":
        mapping = {r.id: r.train_id for r in CITYSCAPES_LABELS if r.train_id != 255}
    elif variant == "category":
        mapping = {r.id: r.category_id - 1 for r in CITYSCAPES_LABELS if r.category_id > 0}
    elif variant == "full":
        mapping = {r.id: r.id for r in CITYSCAPES_LABELS}
    else:
        raise ConfigError(f"cityscapes variant={variant!r} is unknown; {_VARIANTS}")
    return build_lut(mapping, ignore_index=ignore_index)


@dataset_factory
def cityscapes(
    root: str | Path,
    split: str = "train",
    transforms: Transform | None = None,
    *,
    mode: str = "fine",
    variant: str = "train",
    **options: Unpack[DatasetOptions],
) -> SegmentationDataset:
    """Cityscapes from its official layout.

    Args:
        root: Folder holding ``leftImg8bit/`` and ``gtFine/`` (or one extra ``cityscapes/`` level).
        split: ``train``, ``val``, ``test`` (or ``train_extra`` with ``mode="coarse"``).
        transforms: ``(image, mask) -> (image, mask)`` callable, see :class:`~seg_data.base.SegmentationDataset`.
        mode: ``"fine"`` (gtFine) or ``"coarse"`` (gtCoarse).
        variant: ``"train"`` (19 trainIds, other ids ignored), ``"category"`` (7 categories) or ``"full"`` (34).
        **options: ``seed``, ``check`` (see :class:`~seg_data.base.DatasetOptions`).

    Returns:
        The dataset; ``dataset.metadata`` matches ``resolve_metadata("cityscapes", variant=variant)``.

    Raises:
        ConfigError: Unknown mode, split, variant or option.
        LayoutError: Missing root or unexpected layout (the message shows the expected tree), or no image.
        DatasetError: An image without its labelIds mask; when a sample is read (``check``), a stored value that
            is no labelId (0..33, 255).

    Example:
        >>> ds = cityscapes("/data/cityscapes", "val")  # doctest: +SKIP
    """
    if mode not in ("fine", "coarse"):
        raise ConfigError(f"cityscapes: mode={mode!r} is unknown; use 'fine' or 'coarse'")
    meta = cityscapes_metadata(variant)
    found = LAYOUT.locate(root, split, splits=(*LAYOUT.splits, "train_extra") if mode == "coarse" else None)
    gt, split = ("gtFine" if mode == "fine" else "gtCoarse"), found.split
    masks = found.folder(f"{gt}/{split}", f"{gt}_trainvaltest/{gt}/{split}", required=split != "test")
    pairs = found.pair(
        found.folder(f"leftImg8bit/{split}"), masks, image_pattern="*/*_leftImg8bit.png",
        mask_pattern=f"*/*_{gt}_labelIds.png",
    )  # fmt: skip
    lut = cityscapes_lut(variant)
    # every labelId of the official table is defined (those its trainId table sends to 255 are void), and 255
    # (license plate's -1 as stored by some tools); any other stored value is an error with check=True
    raw_values = defined_values(lut, void=[r.id for r in CITYSCAPES_LABELS])
    return found.dataset(
        pairs, meta, transforms, lut=lut, raw_values=raw_values, mapping_id=f"cityscapes-{mode}-{variant}", **options
    )
