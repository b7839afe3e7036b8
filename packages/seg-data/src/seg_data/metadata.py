"""Dataset metadata: class names, colors, ``num_classes`` and ``ignore_index`` in one object.

The same :class:`DatasetMetadata` travels to the model (``num_classes``), the losses and metrics
(``ignore_index``) and the visualization (``colors``), so these values cannot drift apart.
Nothing here imports torch.

Example:
    >>> from seg_data.metadata import resolve_metadata
    >>> meta = resolve_metadata("voc")
    >>> meta.num_classes, meta.ignore_index, meta.labels[1]
    (21, 255, 'aeroplane')
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seg_core.errors import ConfigError

__all__ = [
    "ADE20K_LABELS",
    "CITYSCAPES_CATEGORIES",
    "CITYSCAPES_LABELS",
    "COCO_STUFF_LABELS",
    "COCO_STUFF_UNUSED_IDS",
    "LIP_LABELS",
    "VOC_LABELS",
    "CityscapesLabel",
    "DatasetMetadata",
    "default_palette",
    "list_metadata",
    "mapillary_metadata",
    "register_metadata",
    "resolve_metadata",
]

Color = tuple[int, int, int]


def default_palette(n: int) -> list[Color]:
    """Return ``n`` distinct colors, the PASCAL VOC bit-interleaved palette (index 0 is black).

    Args:
        n: Number of colors.

    Returns:
        A list of ``(r, g, b)`` tuples; entry ``i`` is VOC's color for class ``i``.
    """
    colors: list[Color] = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colors.append((r, g, b))
    return colors


@dataclass(frozen=True)
class DatasetMetadata:
    """What every consumer needs to know about a dataset's classes.

    Args:
        name: Dataset name (registry name or user-chosen).
        num_classes: Number of trained classes; labels are ``0 .. num_classes - 1``.
        labels: One name per class (defaults to ``"class_<i>"``).
        ignore_index: Mask value for pixels that are not trained or evaluated.
        colors: One ``(r, g, b)`` per class (defaults to :func:`default_palette`).

    Raises:
        ConfigError: ``num_classes`` < 1, wrong number of labels or colors, color values outside 0..255,
            or ``ignore_index`` inside ``[0, num_classes)``.

    Example:
        >>> DatasetMetadata("toy", 2, labels=["bg", "fg"]).colors
        ((0, 0, 0), (128, 0, 0))
    """

    name: str
    num_classes: int
    labels: Sequence[str] = field(default=())
    ignore_index: int = 255
    colors: Sequence[Color] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ConfigError(f"num_classes must be a positive int, got {self.num_classes!r}")
        labels = tuple(self.labels) or tuple(f"class_{i}" for i in range(self.num_classes))
        colors = tuple(tuple(int(v) for v in c) for c in self.colors) or tuple(default_palette(self.num_classes))
        if len(labels) != self.num_classes:
            raise ConfigError(
                f"metadata {self.name!r}: labels has {len(labels)} names but num_classes={self.num_classes}"
            )
        if len(colors) != self.num_classes:
            raise ConfigError(
                f"metadata {self.name!r}: colors has {len(colors)} entries but num_classes={self.num_classes}"
            )
        for c in colors:
            if len(c) != 3 or any(not 0 <= v <= 255 for v in c):
                raise ConfigError(f"metadata {self.name!r}: color {c!r} is not an (r, g, b) triple in 0..255")
        if 0 <= self.ignore_index < self.num_classes:
            raise ConfigError(
                f"metadata {self.name!r}: ignore_index={self.ignore_index} is a class index "
                f"(num_classes={self.num_classes}); use 255 or -100"
            )
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "colors", colors)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (inverse of :meth:`from_dict`)."""
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "labels": list(self.labels),
            "ignore_index": self.ignore_index,
            "colors": [list(c) for c in self.colors],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, name: str | None = None) -> DatasetMetadata:
        """Build metadata from a dict such as a parsed json/toml file.

        ``num_classes`` may be omitted when ``labels`` is given.

        Raises:
            ConfigError: Unknown keys or inconsistent values.
        """
        allowed = {"name", "num_classes", "labels", "ignore_index", "colors"}
        extra = set(data) - allowed
        if extra:
            raise ConfigError(f"metadata has unknown keys {sorted(extra)}; allowed: {sorted(allowed)}")
        labels = list(data.get("labels", []))
        num_classes = data.get("num_classes", len(labels))
        return cls(
            name=str(data.get("name", name or "custom")),
            num_classes=int(num_classes),
            labels=labels,
            ignore_index=int(data.get("ignore_index", 255)),
            colors=[tuple(c) for c in data.get("colors", [])],
        )


# --------------------------------------------------------------------------------------------------
# Cityscapes
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

VOC_LABELS: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip

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

LIP_LABELS: tuple[str, ...] = (
    "background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress", "coat", "socks", "pants",
    "jumpsuits", "scarf", "skirt", "face", "left-arm", "right-arm", "left-leg", "right-leg", "left-shoe",
    "right-shoe",
)  # fmt: skip


def _cityscapes(variant: str = "train") -> DatasetMetadata:
    if variant == "train":
        rows = sorted((r for r in CITYSCAPES_LABELS if r.train_id != 255), key=lambda r: r.train_id)
        return DatasetMetadata("cityscapes", 19, [r.name for r in rows], 255, [r.color for r in rows])
    if variant == "category":
        return DatasetMetadata("cityscapes", 7, list(CITYSCAPES_CATEGORIES), 255, list(_CS_CATEGORY_COLORS))
    if variant == "full":
        rows = list(CITYSCAPES_LABELS)
        colors = [r.color if r.id >= 7 else default_palette(34)[r.id] for r in rows]
        return DatasetMetadata("cityscapes", 34, [r.name for r in rows], 255, colors)
    raise ConfigError(f"cityscapes variant={variant!r} is unknown; use 'train' (19), 'category' (7) or 'full' (34)")


def _ade20k(keep_zero: bool = False) -> DatasetMetadata:
    if keep_zero:
        return DatasetMetadata("ade20k", 151, ["other", *ADE20K_LABELS], 255)
    return DatasetMetadata("ade20k", 150, list(ADE20K_LABELS), 255, default_palette(151)[1:])


def _voc() -> DatasetMetadata:
    return DatasetMetadata("voc", 21, list(VOC_LABELS), 255)


def _sbd() -> DatasetMetadata:
    return DatasetMetadata("sbd", 21, list(VOC_LABELS), 255)


def _coco_stuff() -> DatasetMetadata:
    return DatasetMetadata("coco_stuff", 171, list(COCO_STUFF_LABELS), 255)


def _bdd100k() -> DatasetMetadata:
    cs = _cityscapes("train")
    return DatasetMetadata("bdd100k", 19, cs.labels, 255, cs.colors)


def _lip() -> DatasetMetadata:
    return DatasetMetadata("lip", 20, list(LIP_LABELS), 255)


def _synthetic(num_classes: int = 4, ignore_index: int = 255) -> DatasetMetadata:
    names = ["background", "square", "disc", "triangle", "stripe"]
    labels = [names[i] if i < len(names) else f"shape_{i}" for i in range(num_classes)]
    return DatasetMetadata("synthetic", num_classes, labels, ignore_index)


def mapillary_metadata(config: str | Path | dict[str, Any], *, evaluated_only: bool = True) -> DatasetMetadata:
    """Build Mapillary Vistas metadata from the official ``config_v1.2.json`` / ``config_v2.0.json``.

    Args:
        config: Path to the config json, or its parsed content.
        evaluated_only: Keep only labels with ``"evaluate": true`` (the benchmark classes); the others are
            ignored. With False every label in the config is a class.

    Returns:
        Metadata with the config's readable names and colors, ``ignore_index`` 255.

    Raises:
        ConfigError: The config has no ``labels`` list.
    """
    data = json.loads(Path(config).read_text()) if not isinstance(config, dict) else config
    labels = data.get("labels")
    if not isinstance(labels, list) or not labels:
        raise ConfigError(f"mapillary config {config!s:.200} has no 'labels' list")
    kept = [lab for lab in labels if lab.get("evaluate", True) or not evaluated_only]
    return DatasetMetadata(
        "mapillary",
        len(kept),
        [str(lab.get("readable", lab.get("name"))) for lab in kept],
        255,
        [tuple(lab["color"]) for lab in kept],
    )


def _mapillary(root: str | Path | None = None, version: str = "v2.0", evaluated_only: bool = True) -> DatasetMetadata:
    if root is None:
        raise ConfigError(
            "mapillary metadata is read from the official config json: pass root=<dataset root> "
            "(containing config_v1.2.json / config_v2.0.json), or use seg_data.metadata.mapillary_metadata(path)"
        )
    from seg_data.datasets.mapillary import find_config

    return mapillary_metadata(find_config(Path(root), version), evaluated_only=evaluated_only)


_BUILDERS: dict[str, Callable[..., DatasetMetadata]] = {
    "cityscapes": _cityscapes,
    "ade20k": _ade20k,
    "voc": _voc,
    "sbd": _sbd,
    "coco_stuff": _coco_stuff,
    "bdd100k": _bdd100k,
    "mapillary": _mapillary,
    "lip": _lip,
    "synthetic": _synthetic,
}


def register_metadata(name: str, metadata: DatasetMetadata | Callable[..., DatasetMetadata]) -> None:
    """Make ``resolve_metadata(name)`` return ``metadata`` (for user or plugin datasets).

    Args:
        name: Dataset name (case-insensitive).
        metadata: A metadata object, or a callable taking the same options as the dataset.

    Raises:
        ConfigError: ``name`` is already known.
    """
    key = name.lower()
    if key in _BUILDERS:
        raise ConfigError(f"metadata for {name!r} is already registered")
    if isinstance(metadata, DatasetMetadata):
        fixed = metadata

        def _fixed(**_: Any) -> DatasetMetadata:
            return fixed

        _BUILDERS[key] = _fixed
    else:
        _BUILDERS[key] = metadata


def list_metadata() -> list[str]:
    """Return the names :func:`resolve_metadata` knows."""
    return sorted(_BUILDERS)


def resolve_metadata(name: str, **options: Any) -> DatasetMetadata:
    """Return the metadata of dataset ``name``.

    Args:
        name: Registry name (``"cityscapes"``, ``"voc"``, ...).
        **options: Options that change the classes: ``variant`` (cityscapes: ``"train"``, ``"category"``,
            ``"full"``), ``keep_zero`` (ade20k), ``root``/``version`` (mapillary), ``num_classes`` (synthetic).
            Other dataset options (``root``, ``split``...) are accepted and ignored.

    Returns:
        The :class:`DatasetMetadata`.

    Raises:
        ConfigError: Unknown name (with the known names) or bad option value.

    Example:
        >>> resolve_metadata("cityscapes").num_classes
        19
        >>> resolve_metadata("cityscapes", variant="category").labels[0]
        'flat'
    """
    builder = _BUILDERS.get(name.lower())
    if builder is None:
        raise ConfigError(f"no metadata for dataset {name!r}; known: {', '.join(sorted(_BUILDERS))}")
    import inspect

    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return builder(**options)
    return builder(**{k: v for k, v in options.items() if k in params})
