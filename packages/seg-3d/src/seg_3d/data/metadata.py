"""Volume dataset metadata: classes, palette, ignore index, and the voxel spacing and modalities.

:class:`VolumeMetadata` has the fields and methods of seg-data's ``DatasetMetadata`` (``name``, ``num_classes``,
``labels``, ``ignore_index``, ``colors``, ``to_dict``), which is what seg-train's trainer, losses, metrics and
loggers read, plus what volumes add: the dataset's ``spacing`` (when every case shares one) and its channel
``modalities``. seg-3d does not depend on seg-data, so this is its own class with the same protocol.
Nothing here imports torch.

Example:
    >>> meta = VolumeMetadata("toy", 3, labels=["background", "liver", "tumour"], spacing=(2.5, 0.8, 0.8))
    >>> meta.colors[1], meta.ignore_index, meta.modalities
    ((128, 0, 0), 255, ('image',))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from seg_core.errors import ConfigError

__all__ = ["Color", "VolumeMetadata", "default_palette"]

Color = tuple[int, int, int]


def default_palette(n: int) -> list[Color]:
    """Return ``n`` distinct colors, the PASCAL VOC bit-interleaved palette (index 0 is black), as seg-data.

    Args:
        n: Number of colors.

    Returns:
        A list of ``(r, g, b)`` tuples.

    Example:
        >>> default_palette(3)
        [(0, 0, 0), (128, 0, 0), (0, 128, 0)]
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


def _spacing(value: Any, owner: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    try:
        spacing = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        spacing = ()
    if len(spacing) != 3 or not all(v > 0 for v in spacing):
        raise ConfigError(f"{owner}: spacing must be three positive numbers (D, H, W) in mm, got {value!r}")
    return spacing


@dataclass(frozen=True)
class VolumeMetadata:
    """What every consumer needs to know about a volume dataset's classes and voxels.

    Args:
        name: Dataset name.
        num_classes: Number of trained classes; labels are ``0 .. num_classes - 1``.
        labels: One name per class (default ``"class_<i>"``).
        ignore_index: Label value of voxels that are not trained or evaluated (outside the volume after a
            patch or a resampling, unannotated cases).
        colors: One ``(r, g, b)`` per class (default :func:`default_palette`).
        spacing: The voxel spacing ``(D, H, W)`` in mm when every case shares it (synthetic data, a declared
            value); None when it varies per case (each case's ``VolumeMeta.spacing`` then holds it).
        modalities: One name per image channel (MSD's ``modality`` / nnU-Net's ``channel_names``).

    Raises:
        ConfigError: ``num_classes`` < 1, wrong number of labels or colors, colors outside 0..255, an
            ``ignore_index`` inside ``[0, num_classes)``, or a spacing that is not three positive numbers.
    """

    name: str
    num_classes: int
    labels: Sequence[str] = field(default=())
    ignore_index: int = 255
    colors: Sequence[Color] = field(default=())
    spacing: tuple[float, ...] | None = None
    modalities: Sequence[str] = ("image",)

    def __post_init__(self) -> None:
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ConfigError(f"metadata {self.name!r}: num_classes must be a positive int, got {self.num_classes!r}")
        labels = tuple(str(v) for v in self.labels) or tuple(f"class_{i}" for i in range(self.num_classes))
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
        modalities = tuple(str(m) for m in self.modalities)
        if not modalities:
            raise ConfigError(f"metadata {self.name!r}: modalities needs one name per image channel, got none")
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "colors", colors)
        object.__setattr__(self, "spacing", _spacing(self.spacing, f"metadata {self.name!r}"))
        object.__setattr__(self, "modalities", modalities)

    @property
    def in_channels(self) -> int:
        """Number of image channels (one per modality): the model's ``in_channels``."""
        return len(self.modalities)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (inverse of :meth:`from_dict`)."""
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "labels": list(self.labels),
            "ignore_index": self.ignore_index,
            "colors": [list(c) for c in self.colors],
            "spacing": None if self.spacing is None else list(self.spacing),
            "modalities": list(self.modalities),
        }

    @classmethod
    def from_dict(cls, data: Any, *, name: str = "volumes") -> VolumeMetadata:
        """Build metadata from a dict such as a parsed ``metadata.json``.

        ``num_classes`` may be omitted when ``labels`` is given.

        Args:
            data: Keys ``num_classes``, ``labels``, ``ignore_index``, ``colors``, ``spacing``, ``modalities``,
                ``name`` (all optional but one of ``num_classes`` / ``labels``).
            name: The name when ``data`` has none.

        Raises:
            ConfigError: Not a dict, unknown keys, or invalid values (names the key).

        Example:
            >>> VolumeMetadata.from_dict({"labels": ["bg", "organ"], "spacing": [3, 1, 1]}).num_classes
            2
        """
        if not isinstance(data, dict):
            raise ConfigError(f"volume metadata must be a mapping, got {type(data).__name__}")
        allowed = {"name", "num_classes", "labels", "ignore_index", "colors", "spacing", "modalities"}
        extra = set(data) - allowed
        if extra:
            raise ConfigError(f"volume metadata has unknown keys {sorted(extra, key=str)}; allowed: {sorted(allowed)}")
        labels = data.get("labels", [])
        if not isinstance(labels, (list, tuple)) or not all(isinstance(v, str) for v in labels):
            raise ConfigError(f"volume metadata 'labels' must be a list of class names, got {labels!r:.200}")
        num_classes = data.get("num_classes", len(labels))
        if isinstance(num_classes, float) and num_classes.is_integer():
            num_classes = int(num_classes)
        modalities = data.get("modalities", ["image"])
        if isinstance(modalities, str) or not isinstance(modalities, (list, tuple)):
            raise ConfigError(f"volume metadata 'modalities' must be a list of channel names, got {modalities!r}")
        return cls(
            name=str(data.get("name", name)),
            num_classes=num_classes,
            labels=labels,
            ignore_index=int(data.get("ignore_index", 255)),
            colors=[tuple(c) for c in data.get("colors", [])],
            spacing=data.get("spacing"),
            modalities=modalities,
        )
