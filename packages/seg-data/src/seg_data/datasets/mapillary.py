"""Mapillary Vistas v1.2 / v2.0: classes, names and colors from the official config json."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from seg_core.errors import ConfigError
from seg_data.datasets._layout import Layout
from seg_data.errors import MetadataFileError
from seg_data.factory import dataset_factory
from seg_data.labels import apply_lut, build_lut, defined_values, palette_decode
from seg_data.metadata import Color, DatasetMetadata

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_data.base import DatasetOptions, SegmentationDataset, Transform

__all__ = ["LAYOUT", "find_config", "mapillary", "mapillary_lut", "mapillary_metadata", "read_config"]

LAYOUT = Layout(
    "mapillary",
    tree="""\
<root>/
├── config_v1.2.json, config_v2.0.json
├── {training,validation,testing}/images/<stem>.jpg
└── {training,validation}/{v1.2,v2.0}/labels/<stem>.png    (palette PNG: index = label id in the config;
                                                           v1.2-only releases: <split>/labels/<stem>.png)
""",
    nestings=("", "mapillary", "mapillary-vistas"),
    splits=("training", "validation"),
    aliases={"train": "training", "val": "validation"},
)

_VERSIONS = ("v1.2", "v2.0")


def _check_version(version: str) -> None:
    if version not in _VERSIONS:
        raise ConfigError(f"mapillary: version={version!r} is unknown; use 'v1.2' or 'v2.0'")


def find_config(root: Path, version: str) -> Path:
    """Return ``config_<version>.json`` under ``root`` (or one folder below it).

    Args:
        root: The dataset root.
        version: ``"v1.2"`` or ``"v2.0"``.

    Returns:
        The config file.

    Raises:
        LayoutError: Not found.
    """
    name = f"config_{version}.json"
    found = root / name if (root / name).exists() else next(iter(sorted(root.glob(f"*/{name}"))), None)
    if found is None:
        raise LAYOUT.error(root, f"{name} not found")
    return found


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and validate a Mapillary config json (``config_v1.2.json`` / ``config_v2.0.json``).

    Args:
        path: The file.

    Returns:
        The parsed config; every label has a ``color`` (r, g, b) and a ``readable`` or ``name``.

    Raises:
        MetadataFileError: The file cannot be read or decoded as json, or lacks a key (names the file, the label
            and the key).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MetadataFileError(
            f"mapillary: cannot decode config {path}: {type(exc).__name__}: {exc}; it must be the official json "
            "(re-extract it from the release archive)"
        ) from exc
    _labels(data, Path(path))
    return cast("dict[str, Any]", data)


def _labels(config: object, source: object, *, names: bool = True) -> list[dict[str, Any]]:
    """The validated ``labels`` list (``names``: each needs ``readable`` or ``name``); a problem is a
    MetadataFileError for a file, a ConfigError for a dict."""
    error = MetadataFileError if isinstance(source, Path) else ConfigError
    where = f"mapillary config {source!s:.200}"
    labels = config.get("labels") if isinstance(config, dict) else None
    if not isinstance(labels, list) or not labels:
        raise error(f"{where} has no 'labels' list (the official config json holds one entry per label id)")
    for i, lab in enumerate(labels):
        if not isinstance(lab, dict):
            raise error(f"{where}: labels[{i}] is {type(lab).__name__}, not an object with 'color' and 'readable'")
        color = lab.get("color")
        if color is None:
            raise error(f"{where}: labels[{i}] has no 'color' key (an [r, g, b] list)")
        if (
            not isinstance(color, (list, tuple))
            or len(color) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in color)
        ):
            raise error(f"{where}: labels[{i}]['color'] is {color!r}, not an [r, g, b] list of ints in 0..255")
        if names and not isinstance(lab.get("readable", lab.get("name")), str):
            raise error(f"{where}: labels[{i}] has no 'readable' or 'name' key (a string)")
        if not isinstance(lab.get("evaluate", True), bool):
            raise error(f"{where}: labels[{i}]['evaluate'] is {lab['evaluate']!r}, not true or false")
    return labels


def _kept(labels: list[dict[str, Any]], evaluated_only: bool) -> list[int]:
    """Label ids that are classes: the evaluated ones, or all."""
    return [i for i, lab in enumerate(labels) if lab.get("evaluate", True) or not evaluated_only]


def mapillary_metadata(
    config: str | Path | dict[str, Any] | None = None,
    *,
    root: str | Path | None = None,
    version: str = "v2.0",
    evaluated_only: bool = True,
) -> DatasetMetadata:
    """Build Mapillary Vistas metadata from the official ``config_v1.2.json`` / ``config_v2.0.json``.

    Args:
        config: Path to the config json, or its parsed content.
        root: Without ``config``: the dataset root holding ``config_<version>.json`` (what
            ``resolve_metadata("mapillary", root=..., version=...)`` passes).
        version: ``"v1.2"`` or ``"v2.0"`` (with ``root``).
        evaluated_only: Keep only labels with ``"evaluate": true`` (the benchmark classes); the others are
            ignored. With False every label in the config is a class.

    Returns:
        Metadata with the config's readable names and colors, ``ignore_index`` 255.

    Raises:
        ConfigError: Neither ``config`` nor ``root``, an unknown version, or a config dict without a valid
            ``labels`` list.
        LayoutError: No config json under ``root``.
        MetadataFileError: The config file cannot be decoded or a label lacks a key (names the file).

    Example:
        >>> cfg = {"labels": [{"readable": "Car", "color": [0, 0, 142], "evaluate": True}]}
        >>> mapillary_metadata(cfg).labels
        ('Car',)
    """
    if config is None:
        if root is None:
            raise ConfigError(
                "mapillary metadata is read from the official config json: pass root=<dataset root> "
                "(containing config_v1.2.json / config_v2.0.json), or config=<path to the json>"
            )
        _check_version(version)
        config = find_config(Path(root), version)
    data = config if isinstance(config, dict) else read_config(config)
    labels = _labels(data, config if isinstance(config, dict) else Path(config))
    kept = [labels[i] for i in _kept(labels, evaluated_only)]
    return DatasetMetadata(
        "mapillary",
        len(kept),
        [str(lab.get("readable", lab.get("name"))) for lab in kept],
        255,
        [tuple(lab["color"]) for lab in kept],
    )


def mapillary_lut(config: dict[str, Any], *, evaluated_only: bool = True) -> NDArray[np.int64]:
    """Lookup table from label ids (palette indices) to the classes of :func:`mapillary_metadata`.

    Args:
        config: The parsed config json.
        evaluated_only: As in :func:`mapillary_metadata`; the other labels map to 255.

    Returns:
        A table of at least 256 entries; its last entry is an id of no label (ignored).

    Raises:
        ConfigError: The config has no valid ``labels`` list.

    Example:
        >>> cfg = {"labels": [{"color": [1, 1, 1], "evaluate": False}, {"color": [2, 2, 2], "evaluate": True}]}
        >>> mapillary_lut(cfg)[:2].tolist()
        [255, 0]
    """
    labels = _labels(config, "config", names=False)
    kept = _kept(labels, evaluated_only)
    return build_lut({raw: k for k, raw in enumerate(kept)}, size=max(256, len(labels) + 1))


def _map_label_ids(
    raw: NDArray[np.integer], path: Path, *, colors: list[Color], lut: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Palette-index masks through ``lut``; RGB masks are first decoded with the config colors (a color of no
    label is an error, never ignore)."""
    if raw.ndim == 3:
        raw = palette_decode(raw, colors, ignore_index=len(lut) - 1, source=str(path), strict=True)
    return apply_lut(raw, lut, source=str(path))


@dataset_factory
def mapillary(
    root: str | Path,
    split: str = "training",
    transforms: Transform | None = None,
    *,
    version: str = "v2.0",
    evaluated_only: bool = True,
    **options: Unpack[DatasetOptions],
) -> SegmentationDataset:
    """Mapillary Vistas.

    Args:
        root: Folder holding the config json and the split folders.
        split: ``training``/``train`` or ``validation``/``val``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        version: ``"v1.2"`` (65 evaluated classes + unlabeled) or ``"v2.0"`` (124 labels).
        evaluated_only: Classes are the labels with ``"evaluate": true`` (others ignored); False keeps all.
        **options: ``seed``, ``check`` (see :class:`~seg_data.base.DatasetOptions`).

    Returns:
        The dataset, samples sorted by stem.

    Raises:
        ConfigError: Unknown version, split or option.
        LayoutError: No ``<split>`` folder, config json, images or labels folder of ``version``, or no image.
        MetadataFileError: The config json cannot be decoded or a label lacks a key (names the file).
        DatasetError: A label PNG without its image or the reverse; when a sample is read (``check``), a label id
            the config does not list or an RGB color of no label.

    Example:
        >>> ds = mapillary("/data/mapillary", "validation", version="v1.2")  # doctest: +SKIP
    """
    _check_version(version)
    found = LAYOUT.locate(root, split, marker="{split}")
    split = found.split
    config = read_config(find_config(found.base, version))
    lut = mapillary_lut(config, evaluated_only=evaluated_only)
    masks = found.folder(f"{split}/{version}/labels", *([f"{split}/labels"] if version == "v1.2" else []))
    colors = [tuple(lab["color"]) for lab in config["labels"]]
    raw_values = defined_values(lut, void=range(len(config["labels"])))  # labels not evaluated are void
    return found.dataset(
        found.pair(found.folder(f"{split}/images"), masks), mapillary_metadata(config, evaluated_only=evaluated_only),
        transforms, lut=lut, raw_values=raw_values,
        mask_mapper=functools.partial(_map_label_ids, colors=colors, lut=lut),
        mapping_id=f"mapillary-{version}-eval={evaluated_only}", **options,
    )  # fmt: skip
