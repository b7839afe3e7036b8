"""A generic folder of images and masks paired by stem, with metadata from the user or a json/toml file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seg_data._files import index_by_stem, layout_error, list_files, locate, pair_by_stem, read_split_list
from seg_data.base import SegmentationDataset
from seg_data.errors import ConfigError
from seg_data.labels import palette_decode, reduce_zero_label
from seg_data.metadata import DatasetMetadata

TREE = """\
<root>/
├── images/[<split>/]<stem>.{jpg,png,...}
├── masks/[<split>/]<stem>.png          (index PNG: value = class, or palette/RGB PNG: color = class color)
├── [<split>.txt | splits/<split>.txt]  (optional: one stem per line)
└── [metadata.json | metadata.toml]     (optional: {"num_classes", "labels", "colors", "ignore_index"})
"""

_MASK_DIRS = ("masks", "labels", "annotations")


def _load_metadata_file(base: Path) -> DatasetMetadata | None:
    for name in ("metadata.json", "metadata.toml"):
        path = base / name
        if not path.is_file():
            continue
        if name.endswith(".json"):
            data = json.loads(path.read_text())
        else:
            if sys.version_info >= (3, 11):
                import tomllib
            else:  # pragma: no cover
                import tomli as tomllib
            data = tomllib.loads(path.read_text())
        try:
            return DatasetMetadata.from_dict(data, name=base.name)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    return None


class FolderDataset(SegmentationDataset):
    """Folder masks: index values, or colors decoded with the metadata palette."""

    mask_mode: str = "auto"
    zero_is_ignore: bool = False

    def map_mask(self, raw: NDArray[np.integer], path: Path) -> NDArray[np.int64]:
        """Decode colors (RGB masks or ``mask_mode="color"``) or keep index values; optional reduce-zero-label."""
        if raw.ndim == 3 or self.mask_mode == "color":
            if raw.ndim != 3:
                raise ConfigError(f"{path}: mask_mode='color' but the mask has one channel")
            out = palette_decode(raw, self.metadata.colors, ignore_index=self.ignore_index, source=str(path),
                                 strict=True)  # fmt: skip
        else:
            out = raw.astype(np.int64)
        if self.zero_is_ignore:
            out = reduce_zero_label(out, ignore_index=self.ignore_index)
        return out


def folder(
    root: str | Path,
    split: str | None = None,
    transforms: Any = None,
    *,
    metadata: DatasetMetadata | dict[str, Any] | None = None,
    num_classes: int | None = None,
    images_dir: str = "images",
    masks_dir: str | None = None,
    mask_mode: str = "auto",
    reduce_zero: bool = False,
    seed: int | None = None,
    check: bool = True,
) -> SegmentationDataset:
    """Images and masks from two folders, paired by file stem.

    Args:
        root: Folder holding ``images/`` and ``masks/`` (``labels/`` and ``annotations/`` are accepted too).
        split: Optional split: a sub-folder ``images/<split>/`` or a list ``<split>.txt`` / ``splits/<split>.txt``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        metadata: Class metadata (object or dict); default: ``metadata.json``/``.toml`` in root, else
            ``num_classes``.
        num_classes: Shortcut when no metadata is given (names ``class_<i>``, VOC palette, ignore 255).
        images_dir: Name of the image folder.
        masks_dir: Name of the mask folder (default: first of masks/labels/annotations that exists).
        mask_mode: ``"auto"`` (RGB files decoded by color, single-channel/palette files by index), ``"index"``
            or ``"color"``.
        reduce_zero: Treat 0 as ignore and shift the other labels down by one.
        seed: Per-sample seed for the transforms.
        check: Verify label ranges (values outside the classes are an error naming the file).

    Raises:
        LayoutError: Missing folders. ConfigError: no metadata. DatasetError: missing partner.

    Example:
        >>> ds = folder("my_data", "train", num_classes=3)  # doctest: +SKIP
    """
    if mask_mode not in ("auto", "index", "color"):
        raise ConfigError(f"folder: mask_mode={mask_mode!r} is unknown; use 'auto', 'index' or 'color'")
    base = locate(root, "folder", TREE, [""], images_dir)
    mdir = masks_dir or next((d for d in _MASK_DIRS if (base / d).is_dir()), None)
    if mdir is None or not (base / mdir).is_dir():
        raise layout_error("folder", base, TREE, f"no mask folder ({masks_dir or ' / '.join(_MASK_DIRS)})")
    if isinstance(metadata, dict):
        meta = DatasetMetadata.from_dict(metadata, name=base.name)
    elif metadata is not None:
        meta = metadata
    else:
        found = _load_metadata_file(base)
        if found is None and num_classes is None:
            raise ConfigError(
                f"folder: no metadata for {base}: pass metadata=..., num_classes=..., or add metadata.json "
                '({"num_classes": 3, "labels": [...], "colors": [[r, g, b], ...], "ignore_index": 255})'
            )
        meta = found if found is not None else DatasetMetadata(base.name, int(num_classes or 0))
    img_dir, msk_dir, keys = base / images_dir, base / mdir, None
    if split is not None:
        if (img_dir / split).is_dir():
            img_dir, msk_dir = img_dir / split, msk_dir / split
            if not msk_dir.is_dir():
                raise layout_error("folder", base, TREE, f"{msk_dir} does not exist")
        else:
            lst = next((p for p in (base / f"{split}.txt", base / "splits" / f"{split}.txt") if p.is_file()), None)
            if lst is None:
                raise layout_error("folder", base, TREE, f"split {split!r}: neither {img_dir / split} nor a list")
            keys = read_split_list(lst, base, name="folder")
    images = index_by_stem(list_files(img_dir), what="image")
    masks = index_by_stem(list_files(msk_dir, (".png", ".bmp", ".tif", ".tiff")), what="mask")
    pairs = pair_by_stem(images, masks, name="folder", keys=keys, mask_hint=lambda s: f"{msk_dir}/{s}.png")
    ds = FolderDataset(
        pairs, meta, transforms, split=split or "", lut=None, mapping_id=f"folder-{mask_mode}-rz={reduce_zero}",
        root=base, seed=seed, check=check,
    )  # fmt: skip
    ds.mask_mode = mask_mode
    ds.zero_is_ignore = reduce_zero
    return ds
