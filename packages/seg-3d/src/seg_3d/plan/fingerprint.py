"""A dataset fingerprint: the voxel spacing and shape of every training case (nnU-Net's ``dataset_fingerprint.json``).

The planner needs nothing else: the target spacing, the patch size, the topology and the
batch size all follow from these numbers (`seg_3d.plan.planner`). A fingerprint is built from
lists, read from a JSON file (ours, or nnU-Net's own ``dataset_fingerprint.json``: its
``spacings`` and ``shapes_after_crop``), or read from a folder of volumes (`Fingerprint.from_folder`,
which reads headers only).

Axis order: spacings and shapes are given in the arrays' own axis order (the order the training
crop and the strides use), e.g. ``(depth, height, width)``.

Example:
    >>> fp = Fingerprint.from_lists([(3.6, 0.6, 0.6), (3.6, 0.6, 0.6)], [(20, 320, 320), (22, 300, 320)])
    >>> fp.num_cases, fp.spatial_dims
    (2, 3)
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seg_core.errors import ConfigError

__all__ = ["DATASET_KINDS", "Fingerprint"]

#: The dataset names a fingerprint can come from (seg-3d's registered volume datasets).
DATASET_KINDS = ("volume_folder", "msd")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _spacing(value: Any, index: int) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ConfigError(
            f"spacings[{index}]={value!r} must be a list of positive numbers, one per axis, e.g. [3.6, 0.6, 0.6]"
        )
    if not all(_is_number(v) and math.isfinite(float(v)) and float(v) > 0 for v in value):
        raise ConfigError(
            f"spacings[{index}]={list(value)!r}: every spacing must be a finite number > 0 (mm per voxel)"
        )
    return tuple(float(v) for v in value)


def _shape(value: Any, index: int) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise ConfigError(
            f"shapes[{index}]={value!r} must be a list of voxel counts, one per axis, e.g. [20, 320, 320]"
        )
    if not all(_is_number(v) and float(v) == int(v) and int(v) >= 1 for v in value):
        raise ConfigError(f"shapes[{index}]={list(value)!r}: every size must be an integer >= 1 (voxels)")
    return tuple(int(v) for v in value)


@dataclass(frozen=True)
class Fingerprint:
    """The spacing and shape of each training case, and what else is known about the dataset.

    Attributes:
        spacings: One spacing per case, one value per axis (mm per voxel).
        shapes: One shape per case (voxels per axis), in the same axis order.
        num_classes: The number of label classes, background included (None: unknown).
        in_channels: The image channels (modalities) (None: unknown).
        modalities: The name of each channel (e.g. ``("CT",)``, from a Decathlon ``dataset.json``), or None.
        intensity: Optional intensity statistics (e.g. nnU-Net's per-channel foreground mean, std,
            percentiles), carried along for the record; the planner does not use them.
        dataset: The registered dataset the cases come from (``"volume_folder"`` or ``"msd"``), or None.
        root: The dataset's folder, or None.

    Raises:
        ConfigError: No cases, different counts of spacings and shapes, mixed axis counts, or a
            non-positive spacing or size.
    """

    spacings: tuple[tuple[float, ...], ...]
    shapes: tuple[tuple[int, ...], ...]
    num_classes: int | None = None
    in_channels: int | None = None
    modalities: tuple[str, ...] | None = None
    intensity: Mapping[str, Any] | None = field(default=None, compare=False)
    dataset: str | None = None
    root: str | None = None

    def __post_init__(self) -> None:
        spacings = self.spacings
        shapes = self.shapes
        for name, value in (("spacings", spacings), ("shapes", shapes)):
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise ConfigError(f"{name} must be a list with one entry per case, got {value!r}")
        if not spacings:
            raise ConfigError("a fingerprint needs at least one case: spacings and shapes are empty")
        if len(spacings) != len(shapes):
            raise ConfigError(
                f"spacings has {len(spacings)} entries but shapes has {len(shapes)}: give one spacing and one shape per case"
            )
        checked_spacings = tuple(_spacing(s, i) for i, s in enumerate(spacings))
        checked_shapes = tuple(_shape(s, i) for i, s in enumerate(shapes))
        dims = {len(s) for s in (*checked_spacings, *checked_shapes)}
        if len(dims) != 1:
            raise ConfigError(
                f"every spacing and shape must have the same number of axes, got {sorted(dims)}; "
                "give e.g. [3.6, 0.6, 0.6] and [20, 320, 320] for every case"
            )
        for key, count in (("num_classes", self.num_classes), ("in_channels", self.in_channels)):
            if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
                raise ConfigError(f"{key} must be an integer >= 1 or None, got {count!r}")
        if self.modalities is not None:
            if (
                isinstance(self.modalities, (str, bytes))
                or not isinstance(self.modalities, Sequence)
                or not all(isinstance(m, str) for m in self.modalities)
            ):
                raise ConfigError(f"modalities must be a list of channel names, e.g. ['CT'], got {self.modalities!r}")
            object.__setattr__(self, "modalities", tuple(self.modalities))
        if self.dataset is not None and self.dataset not in DATASET_KINDS:
            raise ConfigError(f"dataset must be one of {', '.join(DATASET_KINDS)} or None, got {self.dataset!r}")
        object.__setattr__(self, "spacings", checked_spacings)
        object.__setattr__(self, "shapes", checked_shapes)

    @property
    def num_cases(self) -> int:
        """The number of cases."""
        return len(self.spacings)

    @property
    def spatial_dims(self) -> int:
        """The number of axes (3 for volumes)."""
        return len(self.spacings[0])

    @classmethod
    def from_lists(
        cls,
        spacings: Sequence[Sequence[float]],
        shapes: Sequence[Sequence[int]],
        **info: Any,
    ) -> Fingerprint:
        """A fingerprint from one spacing and one shape per case.

        Args:
            spacings: Per case, per axis spacing (mm).
            shapes: Per case, per axis size (voxels).
            **info: ``num_classes``, ``in_channels``, ``modalities``, ``intensity``, ``dataset``, ``root``.

        Returns:
            The fingerprint.

        Example:
            >>> Fingerprint.from_lists([(1, 1, 1)], [(64, 64, 64)], num_classes=3).num_classes
            3
        """
        return cls(tuple(tuple(s) for s in spacings), tuple(tuple(s) for s in shapes), **info)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "fingerprint") -> Fingerprint:
        """A fingerprint from a mapping: ours (`to_dict`) or nnU-Net's ``dataset_fingerprint.json``.

        Accepted keys: ``spacings``, ``shapes`` (or nnU-Net's ``shapes_after_crop``), ``num_classes``,
        ``in_channels``, ``modalities``, ``intensity`` (or nnU-Net's ``foreground_intensity_properties_per_channel``),
        ``dataset`` and ``root``; nnU-Net's other keys are ignored.

        Raises:
            ConfigError: A missing ``spacings`` or ``shapes`` key, or invalid values (naming ``source``).
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: a fingerprint must be a JSON object with 'spacings' and 'shapes'")
        shapes = data.get("shapes", data.get("shapes_after_crop"))
        if "spacings" not in data or shapes is None:
            raise ConfigError(
                f"{source}: a fingerprint needs 'spacings' and 'shapes' (or nnU-Net's 'shapes_after_crop'), "
                f"got keys {sorted(data)}"
            )
        intensity = data.get("intensity", data.get("foreground_intensity_properties_per_channel"))
        try:
            return cls(
                tuple(data["spacings"]),
                tuple(shapes),
                num_classes=data.get("num_classes"),
                in_channels=data.get("in_channels"),
                modalities=data.get("modalities"),
                intensity=intensity,
                dataset=data.get("dataset"),
                root=data.get("root"),
            )
        except (TypeError, ConfigError) as error:
            raise ConfigError(f"{source}: {error}") from None

    @classmethod
    def from_json(cls, path: str | Path) -> Fingerprint:
        """Read a fingerprint JSON file (see `from_dict` for the keys).

        Raises:
            ConfigError: The file is missing, not JSON, or not a fingerprint.
        """
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"fingerprint file {str(path)!r} does not exist")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path} is not valid JSON: {error}") from None
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_folder(cls, root: str | Path) -> Fingerprint:
        """Read the spacing and shape of every training case of a volume folder (headers only).

        See `seg_3d.plan.folder` for the layouts it reads.

        Raises:
            ConfigError: A missing folder, no volumes, or an unreadable header (naming the file).
        """
        from seg_3d.plan.folder import read_folder

        return cls.from_dict(read_folder(root), source=str(root))

    def to_dict(self) -> dict[str, Any]:
        """The fingerprint as plain JSON-ready data (`from_dict` reads it back)."""
        out: dict[str, Any] = {
            "spacings": [list(s) for s in self.spacings],
            "shapes": [list(s) for s in self.shapes],
        }
        for key in ("num_classes", "in_channels", "dataset", "root"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.modalities is not None:
            out["modalities"] = list(self.modalities)
        if self.intensity is not None:
            out["intensity"] = dict(self.intensity)
        return out

    def to_json(self, path: str | Path) -> Path:
        """Write `to_dict` as JSON; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path
