"""Mapillary Vistas v1.2 / v2.0: classes, names and colors from the official config json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seg_data._files import first_existing, index_by_stem, layout_error, list_files, locate, pair_by_stem
from seg_data.base import SegmentationDataset
from seg_data.datasets._common import resolve_split
from seg_data.labels import apply_lut, build_lut, palette_decode
from seg_data.metadata import mapillary_metadata

TREE = """\
<root>/
├── config_v1.2.json, config_v2.0.json
├── {training,validation,testing}/images/<stem>.jpg
└── {training,validation}/{v1.2,v2.0}/labels/<stem>.png    (palette PNG: index = label id in the config;
                                                           v1.2-only releases: <split>/labels/<stem>.png)
"""


def find_config(root: Path, version: str) -> Path:
    """Return ``config_<version>.json`` under ``root`` (or one folder below it).

    Raises:
        LayoutError: Not found.
    """
    name = f"config_{version}.json"
    found = first_existing(root, [name])
    if found is None:
        found = next(iter(sorted(root.glob(f"*/{name}"))), None)
    if found is None:
        raise layout_error("mapillary", root, TREE, f"{name} not found")
    return found


class MapillaryDataset(SegmentationDataset):
    """Mapillary: palette-index masks (or RGB masks decoded with the config colors)."""

    colors: list[tuple[int, int, int]]

    def map_mask(self, raw: NDArray[np.integer], path: Path) -> NDArray[np.int64]:
        """Map label ids (palette indices, or colors for RGB files) to the evaluated classes."""
        assert self.lut is not None
        if raw.ndim == 3:
            raw = palette_decode(raw, self.colors, ignore_index=len(self.lut) - 1, source=str(path))
        return apply_lut(raw, self.lut, source=str(path))


def mapillary(
    root: str | Path,
    split: str = "training",
    transforms: Any = None,
    *,
    version: str = "v2.0",
    evaluated_only: bool = True,
    seed: int | None = None,
    check: bool = True,
) -> SegmentationDataset:
    """Mapillary Vistas.

    Args:
        root: Folder holding the config json and the split folders.
        split: ``training``/``train`` or ``validation``/``val``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        version: ``"v1.2"`` (65 evaluated classes + unlabeled) or ``"v2.0"`` (124 labels).
        evaluated_only: Classes are the labels with ``"evaluate": true`` (others ignored); False keeps all.
        seed: Per-sample seed for the transforms.
        check: Verify label ranges.

    Raises:
        LayoutError: Unexpected layout. DatasetError: missing partner.

    Example:
        >>> ds = mapillary("/data/mapillary", "validation", version="v1.2")  # doctest: +SKIP
    """
    from seg_core.errors import ConfigError

    if version not in ("v1.2", "v2.0"):
        raise ConfigError(f"mapillary: version={version!r} is unknown; use 'v1.2' or 'v2.0'")
    split = resolve_split("mapillary", split, ("training", "validation"), {"train": "training", "val": "validation"})
    base = locate(root, "mapillary", TREE, ["", "mapillary", "mapillary-vistas"], split)
    config_path = find_config(base, version)
    config = json.loads(config_path.read_text())
    meta = mapillary_metadata(config, evaluated_only=evaluated_only)
    labels = config["labels"]
    kept = [i for i, lab in enumerate(labels) if lab.get("evaluate", True) or not evaluated_only]
    lut = build_lut({raw: k for k, raw in enumerate(kept)}, size=max(256, len(labels) + 1))
    img_dir = base / split / "images"
    mask_dir = first_existing(base, [f"{split}/{version}/labels", f"{split}/labels"] if version == "v1.2" else [
        f"{split}/{version}/labels"])  # fmt: skip
    if not img_dir.is_dir() or mask_dir is None:
        raise layout_error("mapillary", Path(root), TREE, f"{img_dir} or {base / split / version / 'labels'} missing")
    images = index_by_stem(list_files(img_dir), what="image")
    masks = index_by_stem(list_files(mask_dir, (".png",)), what="mask")
    pairs = pair_by_stem(images, masks, name="mapillary", mask_hint=lambda s: f"{mask_dir}/{s}.png")
    ds = MapillaryDataset(
        pairs, meta, transforms, split=split, lut=lut, mapping_id=f"mapillary-{version}-eval={evaluated_only}",
        root=base, seed=seed, check=check,
    )  # fmt: skip
    ds.colors = [tuple(lab["color"]) for lab in labels]
    return ds
