"""A generic folder of images and masks paired by stem, with metadata from the user or a json/toml file."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from seg_data._files import escapes, resolves_inside
from seg_data.datasets._layout import Layout
from seg_data.errors import ConfigError, MetadataFileError
from seg_data.factory import dataset_factory
from seg_data.labels import as_label_array, palette_decode, reduce_zero_label
from seg_data.metadata import Color, DatasetMetadata

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_data.base import DatasetOptions, SegmentationDataset, Transform

__all__ = ["LAYOUT", "folder", "folder_metadata"]

LAYOUT = Layout(
    "folder",
    tree="""\
<root>/
├── images/[<split>/]<stem>.{jpg,png,...}
├── masks/[<split>/]<stem>.png          (index PNG: value = class, or palette/RGB PNG: color = class color)
├── [<split>.txt | splits/<split>.txt]  (optional: one stem per line)
└── [metadata.json | metadata.toml]     (optional: {"num_classes", "labels", "colors", "ignore_index"})
""",
)

_MASK_DIRS = ("masks", "labels", "annotations")
_MASK_SUFFIXES = (".png", ".bmp", ".tif", ".tiff")
_MODES = ("auto", "index", "color")


def _load_metadata_file(base: Path) -> DatasetMetadata | None:
    """The metadata of ``base/metadata.json`` (else ``metadata.toml``), None when neither exists.

    Raises:
        MetadataFileError: The file cannot be read or decoded, or holds invalid metadata (names the file).
    """
    for name in ("metadata.json", "metadata.toml"):
        path = base / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            if name.endswith(".json"):
                data = json.loads(text)
            else:
                if sys.version_info >= (3, 11):
                    import tomllib
                else:  # pragma: no cover
                    import tomli as tomllib
                data = tomllib.loads(text)
        except (OSError, ValueError) as exc:  # JSONDecodeError, TOMLDecodeError, UnicodeDecodeError
            raise MetadataFileError(
                f"folder: cannot decode {path}: {type(exc).__name__}: {exc}; fix the file (e.g. "
                '{"num_classes": 3, "labels": [...], "colors": [[r, g, b], ...], "ignore_index": 255}) or remove it '
                "and pass metadata=... or num_classes=..."
            ) from exc
        try:
            return DatasetMetadata.from_dict(data, name=base.name)
        except ConfigError as exc:
            raise MetadataFileError(f"{path}: {exc}") from exc
    return None


def folder_metadata(
    root: str | Path | None = None,
    *,
    metadata: DatasetMetadata | dict[str, Any] | None = None,
    num_classes: int | None = None,
) -> DatasetMetadata:
    """Return the metadata of a folder dataset: ``metadata``, else the root's metadata file, else ``num_classes``.

    ``resolve_metadata("folder", root=..., num_classes=...)`` calls this with the dataset's options.

    Args:
        root: The dataset folder (its ``metadata.json`` / ``metadata.toml`` is read); names the metadata.
        metadata: Explicit metadata (object or dict).
        num_classes: Shortcut without metadata: names ``class_<i>``, VOC palette, 255 ignored.

    Returns:
        The metadata.

    Raises:
        ConfigError: None of the three.
        MetadataFileError: The metadata file cannot be decoded or is invalid (names it; also a ConfigError).

    Example:
        >>> folder_metadata(num_classes=2).labels
        ('class_0', 'class_1')
    """
    name = Path(root).name if root is not None else "folder"
    if isinstance(metadata, dict):
        return DatasetMetadata.from_dict(metadata, name=name)
    if metadata is not None:
        return metadata
    found = _load_metadata_file(Path(root)) if root is not None else None
    if found is not None:
        return found
    if num_classes is None:
        raise ConfigError(
            f"folder: no metadata for {root if root is not None else 'the folder dataset'}: pass metadata=..., "
            'num_classes=..., or add metadata.json ({"num_classes": 3, "labels": [...], "colors": [[r, g, b], ...], '
            '"ignore_index": 255}) to the root'
        )
    return DatasetMetadata(name, int(num_classes))


def _map_folder_mask(
    raw: NDArray[np.integer],
    path: Path,
    *,
    colors: Sequence[Color],
    ignore_index: int,
    mask_mode: str,
    reduce_zero: bool,
) -> NDArray[np.int64]:
    """Decode colors (RGB masks or ``mask_mode="color"``) or keep index values; optional reduce-zero-label."""
    if raw.ndim == 3 or mask_mode == "color":
        if raw.ndim != 3:
            raise ConfigError(f"{path}: mask_mode='color' but the mask has one channel")
        out = palette_decode(raw, colors, ignore_index=ignore_index, source=str(path), strict=True)
    else:
        out = as_label_array(raw, source=str(path))
    if reduce_zero:
        out = reduce_zero_label(out, ignore_index=ignore_index)
    return out


@dataset_factory
def folder(
    root: str | Path,
    split: str | None = None,
    transforms: Transform | None = None,
    *,
    metadata: DatasetMetadata | dict[str, Any] | None = None,
    num_classes: int | None = None,
    images_dir: str = "images",
    masks_dir: str | None = None,
    mask_mode: str = "auto",
    reduce_zero: bool = False,
    **options: Unpack[DatasetOptions],
) -> SegmentationDataset:
    """Images and masks from two folders, paired by file stem.

    Args:
        root: Folder holding ``images/`` and ``masks/`` (``labels/`` and ``annotations/`` are accepted too).
        split: Optional split: a sub-folder ``images/<split>/`` or a list ``<split>.txt`` / ``splits/<split>.txt``.
        transforms: ``(image, mask) -> (image, mask)`` callable.
        metadata: Class metadata (object or dict); default: ``metadata.json``/``.toml`` in root, else
            ``num_classes`` (see :func:`folder_metadata`).
        num_classes: Shortcut when no metadata is given (names ``class_<i>``, VOC palette, ignore 255).
        images_dir: Name of the image folder.
        masks_dir: Name of the mask folder (default: first of masks/labels/annotations that exists).
        mask_mode: ``"auto"`` (RGB files decoded by color, single-channel/palette files by index), ``"index"``
            or ``"color"``.
        reduce_zero: Treat 0 as ignore and shift the other labels down by one.
        **options: ``seed``, ``check`` (see :class:`~seg_data.base.DatasetOptions`; ``check`` makes values
            outside the classes an error naming the file).

    Returns:
        The dataset, in split-list order when a list is used, else sorted by stem.

    Raises:
        LayoutError: Missing folders, or no image (an empty split; names the folder searched).
        ConfigError: No metadata, unknown ``mask_mode`` or option, or a ``split``, ``images_dir`` or ``masks_dir``
            that leaves the root (absolute, ``..``, or a split folder that is a symlink out of its parent).
        MetadataFileError: An undecodable or invalid metadata file (names it).
        DatasetError: A missing partner; when a sample is read (``check``), a value outside the classes and
            ``ignore_index`` (before and after ``reduce_zero``).

    Example:
        >>> ds = folder("my_data", "train", num_classes=3)  # doctest: +SKIP
    """
    if mask_mode not in _MODES:
        raise ConfigError(f"folder: mask_mode={mask_mode!r} is unknown; use 'auto', 'index' or 'color'")
    for arg, value in (("images_dir", images_dir), ("masks_dir", masks_dir)):
        if value is not None and (not isinstance(value, str) or escapes(value)):
            raise ConfigError(
                f"folder: {arg}={value!r} leaves the dataset root (absolute path, drive or '..'); name a folder "
                "inside the root"
            )
    found = LAYOUT.locate(root, split, marker=images_dir)
    masks = found.folder(*([masks_dir] if masks_dir else _MASK_DIRS))
    meta = folder_metadata(found.base, metadata=metadata, num_classes=num_classes)
    images, keys = found.base / images_dir, None
    if split is not None:
        if (images / split).is_dir():
            for parent in (images, masks):
                if (parent / split).exists() and not resolves_inside(parent / split, parent):
                    raise ConfigError(
                        f"folder: split={split!r}: {parent / split} resolves outside {parent} (a symlink out of the "
                        "dataset); a split folder must lie inside its images/masks folder, like split list entries"
                    )
            images, masks = images / split, found.folder(str((masks / split).relative_to(found.base)))
        else:
            keys = found.split_list(f"{split}.txt", f"splits/{split}.txt", required=False)
            if keys is None:
                raise LAYOUT.error(found.base, f"split {split!r}: neither {images / split} nor a list")
    pairs = found.pair(images, masks, keys=keys, mask_suffixes=_MASK_SUFFIXES)
    mapper = functools.partial(
        _map_folder_mask, colors=meta.colors, ignore_index=meta.ignore_index, mask_mode=mask_mode,
        reduce_zero=reduce_zero,
    )  # fmt: skip
    mapping_id = f"folder-{mask_mode}-rz={reduce_zero}"
    raw_values = None
    if mask_mode != "color":  # index masks: stored values are the classes (+1 with reduce_zero), 0 and ignore
        stored = meta.num_classes + int(reduce_zero)
        raw_values = np.zeros(max(stored, meta.ignore_index + 1), dtype=bool)
        raw_values[:stored] = True
        if meta.ignore_index >= 0:
            raw_values[meta.ignore_index] = True
    return found.dataset(
        pairs, meta, transforms, mask_mapper=mapper, raw_values=raw_values, mapping_id=mapping_id, **options
    )
