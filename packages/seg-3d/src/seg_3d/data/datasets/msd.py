"""The Medical Segmentation Decathlon layout (``imagesTr/``, ``labelsTr/``, ``dataset.json``), nnU-Net's too.

Two flavours of ``dataset.json`` are read:

* MSD (``Task01_BrainTumour`` ...): ``"labels": {"0": "background", "1": "edema", ...}``, ``"modality":
  {"0": "FLAIR", ...}``, ``"training": [{"image": "./imagesTr/x.nii.gz", "label": "./labelsTr/x.nii.gz"}]``,
  ``"test": ["./imagesTs/y.nii.gz"]``; a multi-modal case is one 4D NIfTI whose last axis is the channels.
* nnU-Net v2 raw (``Dataset001_...``): ``"labels": {"background": 0, "edema": 1}``, ``"channel_names":
  {"0": "FLAIR"}``, ``"file_ending": ".nii.gz"``; the cases are found in ``imagesTr/``, one file per channel
  (``<case>_0000``, ``<case>_0001``...), labels ``labelsTr/<case>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seg_3d.data.datasets._layout import channel_groups, holdout, inside, layout_error, list_volumes
from seg_3d.data.errors import VolumeError
from seg_3d.data.metadata import VolumeMetadata
from seg_core.errors import ConfigError

if TYPE_CHECKING:
    from seg_3d.data.dataset import Case, Transform, VolumeDataset

__all__ = ["TREE", "msd", "msd_metadata", "read_dataset_json"]

TREE = """\
<root>/                       (e.g. Task02_Heart/ or Dataset002_Heart/)
├── dataset.json              labels, modality / channel_names, training (MSD) or file_ending (nnU-Net v2)
├── imagesTr/<case>.nii.gz    one 4D file (channels last) or <case>_0000.nii.gz, <case>_0001.nii.gz...
├── labelsTr/<case>.nii.gz
└── [imagesTs/]               test cases, without labels
"""

_SPLITS = ("train", "val", "all", "test")


def _find_root(root: Path) -> Path:
    """``root`` itself, or its only sub-folder holding a ``dataset.json`` (an extracted ``TaskXX`` archive)."""
    if (root / "dataset.json").is_file():
        return root
    if root.is_dir():
        nested = [p for p in sorted(root.iterdir()) if p.is_dir() and (p / "dataset.json").is_file()]
        if len(nested) == 1:
            return nested[0]
    raise layout_error("msd", root, "no dataset.json in the root (nor in exactly one sub-folder)", TREE)


def read_dataset_json(root: str | Path) -> dict[str, Any]:
    """Read and check ``dataset.json`` of an MSD / nnU-Net dataset.

    Returns:
        The parsed file, with ``labels`` as ``{index: name}`` sorted by index and ``modalities`` as a list of
        channel names in channel order (from ``modality`` or ``channel_names``).

    Raises:
        VolumeLayoutError: No ``dataset.json``.
        ConfigError: Undecodable JSON, labels that are not ``0 .. K-1`` (or nnU-Net region labels), or no
            ``modality`` / ``channel_names``; the message names the file.

    Example:
        >>> read_dataset_json("Task02_Heart")["labels"]  # doctest: +SKIP
        {0: 'background', 1: 'left atrium'}
    """
    base = _find_root(Path(root))
    path = base / "dataset.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"msd: cannot decode {path}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"msd: {path} must hold a JSON object, got {type(data).__name__}")
    raw = data.get("labels")
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f'msd: {path} needs "labels": {{"0": "background", "1": ...}} (or nnU-Net\'s name -> index)')
    labels: dict[int, str] = {}
    for key, value in raw.items():
        if isinstance(value, str) and str(key).strip().lstrip("-").isdigit():  # MSD: "1": "edema"
            index, name = int(key), value
        elif isinstance(value, int) and not isinstance(value, bool):  # nnU-Net v2: "edema": 1
            index, name = value, str(key)
        else:
            raise ConfigError(
                f"msd: {path}: label entry {key!r}: {value!r} is neither MSD's index -> name nor nnU-Net's name -> "
                "index (region-based labels, lists of indices, are not supported)"
            )
        labels[index] = name
    if sorted(labels) != list(range(len(labels))):
        raise ConfigError(f"msd: {path}: label indices must be 0 .. {len(labels) - 1}, got {sorted(labels)}")
    channels = data.get("channel_names", data.get("modality"))
    if not isinstance(channels, dict) or not channels:
        raise ConfigError(f'msd: {path} needs "modality" (MSD) or "channel_names" (nnU-Net): {{"0": "CT"}}')
    try:
        order = sorted(channels, key=lambda k: int(k))
    except ValueError as exc:
        raise ConfigError(f"msd: {path}: channel keys must be 0, 1, ..., got {sorted(channels)}") from exc
    if [int(k) for k in order] != list(range(len(order))):
        raise ConfigError(f"msd: {path}: channel keys must be 0 .. {len(order) - 1}, got {order}")
    return {
        **data,
        "root": str(base),
        "labels": dict(sorted(labels.items())),
        "modalities": [str(channels[k]) for k in order],
    }


def msd_metadata(root: str | Path | None = None, *, ignore_index: int = 255) -> VolumeMetadata:
    """Return the metadata of an MSD / nnU-Net dataset from its ``dataset.json``.

    Args:
        root: The dataset folder (required: the classes are in its ``dataset.json``).
        ignore_index: Label of ignored voxels.

    Returns:
        Classes and modalities from the file; the name is its ``name`` (else the folder's); spacing None
        (it varies per case).

    Raises:
        ConfigError: No root, or an invalid ``dataset.json`` (names it).
        VolumeLayoutError: No ``dataset.json``.
    """
    if root is None:
        raise ConfigError("msd: root=... is required (the folder holding dataset.json)")
    info = read_dataset_json(root)
    labels = info["labels"]
    name = str(info.get("name") or Path(info["root"]).name)
    return VolumeMetadata(name, len(labels), list(labels.values()), ignore_index, modalities=info["modalities"])


def _listed(base: Path, entry: Any, what: str) -> Path:
    if not isinstance(entry, str):
        raise ConfigError(f"msd: {base / 'dataset.json'}: {what} entries must be paths, got {entry!r}")
    path = base / entry
    if not inside(path, base):
        raise ConfigError(f"msd: {base / 'dataset.json'}: {what} path {entry!r} leaves the dataset folder")
    return path


def _training_cases(base: Path, info: dict[str, Any]) -> list[Case]:
    from seg_3d.data.dataset import Case
    from seg_3d.data.io import volume_stem

    cases: list[Case] = []
    if isinstance(info.get("training"), list) and info["training"]:  # MSD: the file lists the pairs
        for entry in info["training"]:
            if not isinstance(entry, dict) or "image" not in entry or "label" not in entry:
                raise ConfigError(f"msd: {base / 'dataset.json'}: training entries are {{'image': ..., 'label': ...}}")
            image = _listed(base, entry["image"], "training image")
            label = _listed(base, entry["label"], "training label")
            for path, partner in ((image, label), (label, image)):
                if not path.is_file():
                    raise VolumeError(f"{path} does not exist (listed in dataset.json with its partner {partner})")
            cases.append(Case(volume_stem(image) or image.name, (image,), label))
        return cases
    images, labels = base / "imagesTr", base / "labelsTr"
    for folder in (images, labels):
        if not folder.is_dir():
            raise layout_error("msd", base, f"no {folder.name}/ folder", TREE)
    files = list_volumes(images)
    grouped = channel_groups(files) or {stem: (path,) for stem, path in files.items()}
    label_files = list_volumes(labels)
    for stem in sorted(set(label_files) - set(grouped)):
        raise VolumeError(f"label {label_files[stem]} has no image in {images} (expected {stem}_0000.<suffix>)")
    for stem, paths in grouped.items():
        if stem not in label_files:
            raise VolumeError(f"image {paths[0]} has no label: no {labels / stem}.<suffix>")
        cases.append(Case(stem, paths, label_files[stem]))
    return cases


def _test_cases(base: Path, info: dict[str, Any]) -> list[Case]:
    from seg_3d.data.dataset import Case
    from seg_3d.data.io import volume_stem

    if isinstance(info.get("test"), list) and info["test"]:
        paths = [_listed(base, e, "test") for e in info["test"]]
        return [Case(volume_stem(p) or p.name, (p,)) for p in paths]
    folder = base / "imagesTs"
    if not folder.is_dir():
        raise layout_error("msd", base, "split 'test': no imagesTs/ folder", TREE)
    files = list_volumes(folder)
    grouped = channel_groups(files) or {stem: (path,) for stem, path in files.items()}
    return [Case(stem, paths) for stem, paths in grouped.items()]


def msd(
    root: str | Path,
    split: str = "train",
    transforms: Transform | None = None,
    *,
    fold: int = 0,
    folds: int = 5,
    ignore_index: int = 255,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    seed: int | None = None,
    check: bool = True,
) -> VolumeDataset:
    """A Medical Segmentation Decathlon task (or an nnU-Net v2 raw dataset).

    Args:
        root: The task folder (``Task02_Heart/``), or a folder holding exactly one.
        split: ``"train"`` / ``"val"``: fold ``fold`` of a deterministic ``folds``-fold split of the training
            cases is ``val``, the rest ``train``; ``"all"``: every training case; ``"test"``: ``imagesTs``
            (no labels: all ``ignore_index``).
        transforms: ``(image, label) -> (image, label)`` callable.
        fold: The validation fold.
        folds: Number of folds.
        ignore_index: Label of ignored voxels.
        spacing: Spacing of files that store none (``.npy`` cases).
        seed: Per-sample seed for the transforms.
        check: Verify the labels against the classes of ``dataset.json``.

    Returns:
        A :class:`~seg_3d.data.dataset.VolumeDataset` whose images have one channel per modality.

    Raises:
        VolumeLayoutError: No ``dataset.json`` or missing folders.
        VolumeError: A listed or found image without its label (or the reverse), naming both.
        ConfigError: An invalid ``dataset.json`` or an unknown split.

    Example:
        >>> ds = msd("Task01_BrainTumour", "train")  # doctest: +SKIP
        >>> ds.metadata.modalities  # doctest: +SKIP
        ('FLAIR', 'T1w', 't1gd', 'T2w')
    """
    from seg_3d.data.dataset import VolumeDataset

    if split not in _SPLITS:
        raise ConfigError(f"msd: split={split!r} is unknown; use one of {', '.join(_SPLITS)}")
    info = read_dataset_json(root)
    base = Path(info["root"])
    meta = msd_metadata(base, ignore_index=ignore_index)
    if split == "test":
        cases = _test_cases(base, info)
    else:
        cases = _training_cases(base, info)
        if split in ("train", "val"):
            keep = set(holdout([c.stem for c in cases], split, fold=fold, folds=folds, owner="msd"))
            cases = [c for c in cases if c.stem in keep]
    return VolumeDataset(
        cases, meta, transforms, split=split, root=base, seed=seed, check=check,
        spacing=(float(spacing[0]), float(spacing[1]), float(spacing[2])),
    )  # fmt: skip
