"""A folder of image and label volumes (NIfTI, ``.npy`` / ``.npz``, NRRD / MetaImage) paired by stem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seg_3d.data.datasets._layout import holdout, inside, layout_error, list_volumes, read_split_list
from seg_3d.data.errors import VolumeError
from seg_3d.data.metadata import VolumeMetadata
from seg_core.errors import ConfigError

if TYPE_CHECKING:
    from seg_3d.data.dataset import Transform, VolumeDataset

__all__ = ["TREE", "volume_folder", "volume_folder_metadata"]

TREE = """\
<root>/
├── images/[<split>/]<stem>.{nii.gz,nii,npy,npz,nrrd,mha}   (C, D, H, W) or (D, H, W); 4D NIfTI: channels last
├── labels/[<split>/]<stem>.{...}                           (D, H, W) class indices, same stem and shape
├── [<split>.txt | splits/<split>.txt]                      (optional: one stem per line)
└── [metadata.json]                                         (optional: num_classes, labels, colors,
                                                             ignore_index, spacing, modalities)
"""

_LABEL_DIRS = ("labels", "masks", "labelsTr")


def volume_folder_metadata(
    root: str | Path | None = None,
    *,
    metadata: VolumeMetadata | dict[str, Any] | None = None,
    num_classes: int | None = None,
) -> VolumeMetadata:
    """Return a volume folder's metadata: ``metadata``, else ``<root>/metadata.json``, else ``num_classes``.

    Args:
        root: The dataset folder (its ``metadata.json`` is read; its name names the dataset).
        metadata: Explicit metadata (object or dict).
        num_classes: Shortcut without metadata (classes ``class_<i>``, ignore 255, one channel).

    Returns:
        The metadata.

    Raises:
        ConfigError: None of the three, or an invalid ``metadata.json`` (names the file).

    Example:
        >>> volume_folder_metadata(num_classes=2).labels
        ('class_0', 'class_1')
    """
    name = Path(root).name if root is not None else "volume_folder"
    if isinstance(metadata, dict):
        return VolumeMetadata.from_dict(metadata, name=name)
    if metadata is not None:
        return metadata
    path = Path(root) / "metadata.json" if root is not None else None
    if path is not None and path.is_file():
        try:
            return VolumeMetadata.from_dict(json.loads(path.read_text(encoding="utf-8")), name=name)
        except (OSError, ValueError) as exc:  # JSONDecodeError and ConfigError are ValueErrors
            raise ConfigError(f"volume_folder: {path}: {exc}") from exc
    if num_classes is None:
        raise ConfigError(
            f"volume_folder: no metadata for {root if root is not None else 'the folder'}: pass num_classes=..., "
            'metadata=..., or add metadata.json ({"labels": ["background", ...], "spacing": [3, 1, 1]}) to the root'
        )
    return VolumeMetadata(name, int(num_classes))


def _split_folders(
    base: Path, images: Path, labels: Path | None, split: str | None, fold: int, folds: int
) -> tuple[Path, Path | None, list[str] | None]:
    """The image and label folders of ``split`` and, for list or fold splits, the stems it keeps."""
    if split is None or split == "all":
        return images, labels, None
    if (images / split).is_dir():
        if not inside(images / split, images):
            raise ConfigError(f"volume_folder: split={split!r} resolves outside {images}")
        split_labels = labels / split if labels is not None and (labels / split).is_dir() else None
        return images / split, split_labels, None
    for listed in (base / f"{split}.txt", base / "splits" / f"{split}.txt"):
        if listed.is_file() and inside(listed, base):
            return images, labels, read_split_list(listed)
    if split in ("train", "val"):
        stems = list(list_volumes(images))
        return images, labels, holdout(stems, split, fold=fold, folds=folds, owner="volume_folder")
    raise layout_error("volume_folder", base, f"split {split!r}: neither {images / split}/ nor {split}.txt", TREE)


def volume_folder(
    root: str | Path,
    split: str | None = None,
    transforms: Transform | None = None,
    *,
    metadata: VolumeMetadata | dict[str, Any] | None = None,
    num_classes: int | None = None,
    images_dir: str = "images",
    labels_dir: str | None = None,
    spacing: float | tuple[float, float, float] = 1.0,
    fold: int = 0,
    folds: int = 5,
    seed: int | None = None,
    check: bool = True,
) -> VolumeDataset:
    """Image and label volumes from two folders, paired by stem (``case_01.nii.gz`` with ``case_01.nii.gz``).

    Args:
        root: Folder holding ``images/`` and ``labels/`` (``masks/`` and ``labelsTr/`` are accepted too).
        split: None or ``"all"``: every case; a sub-folder ``images/<split>/``; a list ``<split>.txt`` /
            ``splits/<split>.txt``; else ``"train"`` / ``"val"`` are a deterministic ``folds``-fold holdout.
        transforms: ``(image, label) -> (image, label)`` callable.
        metadata: Class metadata (object or dict); default ``metadata.json`` in root, else ``num_classes``.
        num_classes: Shortcut when there is no metadata.
        images_dir: Name of the image folder.
        labels_dir: Name of the label folder (default: the first of labels/masks/labelsTr that exists). A split
            without a label folder is unannotated (labels all ``ignore_index``).
        spacing: Spacing ``(D, H, W)`` of files that store none (``.npy``, ``.npz`` without ``spacing``).
        fold: The validation fold of the holdout.
        folds: Number of folds of the holdout.
        seed: Per-sample seed for the transforms.
        check: Verify the labels against the classes (an error naming the file).

    Returns:
        A :class:`~seg_3d.data.dataset.VolumeDataset`, cases sorted by stem (list order for a split list).

    Raises:
        VolumeLayoutError: Missing folders, an unknown split, or no image.
        VolumeError: An image without its label or a label without its image (names both paths); when a case is
            read: image and label of different shapes or geometry (names both files), corrupt files.
        ConfigError: No metadata, bad options, a folder name that leaves the root.

    Example:
        >>> ds = volume_folder("my_volumes", "train", num_classes=3)  # doctest: +SKIP
    """
    from seg_3d.data.dataset import Case, VolumeDataset

    base = Path(root)
    if not base.is_dir():
        raise layout_error("volume_folder", base, "the root is not a folder", TREE)
    images = base / images_dir
    if not images.is_dir() or not inside(images, base):
        raise layout_error("volume_folder", base, f"no image folder {images_dir}/", TREE)
    labels = next((base / d for d in _LABEL_DIRS if (base / d).is_dir()), None)
    if labels_dir is not None:
        labels = base / labels_dir
        if not labels.is_dir() or not inside(labels, base):
            raise layout_error("volume_folder", base, f"no label folder {labels_dir}/", TREE)
    meta = volume_folder_metadata(base, metadata=metadata, num_classes=num_classes)
    image_dir, label_dir, keep = _split_folders(base, images, labels, split, fold, folds)
    image_files = list_volumes(image_dir)
    label_files = list_volumes(label_dir) if label_dir is not None else {}
    if label_dir is not None:
        orphans = sorted(set(label_files) - set(image_files))
        if orphans:
            raise VolumeError(
                f"label {label_files[orphans[0]]} has no image: no {image_dir / orphans[0]}.<suffix> "
                f"({len(orphans)} label(s) without an image)"
            )
    stems = list(image_files) if keep is None else keep
    if not stems:
        raise layout_error("volume_folder", base, f"no image volume in {image_dir}", TREE)
    cases = []
    for stem in stems:
        if stem not in image_files:
            raise VolumeError(f"split {split!r} lists {stem!r} but {image_dir} has no volume with that stem")
        label = label_files.get(stem)
        if label is None and label_dir is not None:
            raise VolumeError(
                f"image {image_files[stem]} has no label: no {label_dir / stem}.<suffix> (same stem in {label_dir})"
            )
        cases.append(Case(stem, (image_files[stem],), label))
    spacing3 = (float(spacing),) * 3 if isinstance(spacing, (int, float)) else tuple(float(s) for s in spacing)
    if len(spacing3) != 3 or min(spacing3) <= 0:
        raise ConfigError(f"volume_folder: spacing must be one or three positive numbers, got {spacing!r}")
    return VolumeDataset(
        cases, meta, transforms, split=split or "all", root=base, seed=seed, check=check,
        spacing=(spacing3[0], spacing3[1], spacing3[2]),
    )  # fmt: skip
