"""Fingerprint a folder of volumes from their headers: the spacing and shape of every training image.

Only headers are read (NIfTI through nibabel, ``.npy`` / ``.npz`` array headers through numpy,
NRRD / MetaImage through SimpleITK's ``ReadImageInformation``), so a large dataset is fingerprinted in
seconds. Axis order and spacing follow seg-3d's volume readers (`seg_3d.data.io`): ``(D, H, W)``,
which for NIfTI and ITK files is the file's ``(i, j, k)`` reversed; ``.npy`` / ``.npz`` arrays are
``(D, H, W)`` or ``(C, D, H, W)`` as stored, and their spacing is an ``.npz``'s ``spacing`` array (or
the column lengths of its ``affine``), else ``default_spacing``.

Layouts:

- Medical Segmentation Decathlon (or nnU-Net v2 raw): ``dataset.json`` and ``imagesTr/``, in the
  folder or in its only sub-folder that has them (``Task02_Heart/``); the classes and channel names
  come from ``dataset.json`` (``labels``; ``modality`` or nnU-Net v2's ``channel_names``). Files
  starting with ``._`` (macOS metadata in the Decathlon archives) are skipped; with nnU-Net v2's one
  file per channel (``case_0000.nii.gz``, ``case_0001.nii.gz``) only channel 0 is read per case.
- Any other folder (seg-3d's ``volume_folder``): the volumes in ``images/`` (else the folder itself;
  label folders are not read); the classes and channel names from its optional ``metadata.json``.

Unlike nnU-Net, the shapes are not cropped to the non-zero region first (that needs the voxels).
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seg_core.errors import ConfigError

__all__ = ["VOLUME_SUFFIXES", "read_folder", "volume_geometry"]

#: The suffixes read (longest first).
VOLUME_SUFFIXES = (".nii.gz", ".nii", ".npy", ".npz", ".nrrd", ".nhdr", ".mha", ".mhd")
_NPZ_GEOMETRY = ("spacing", "affine")

Geometry = tuple[tuple[float, float, float], tuple[int, int, int], int]


def _is_volume(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and not path.name.startswith(".") and name.endswith(VOLUME_SUFFIXES)


def _nifti(path: Path) -> Geometry:
    try:
        import nibabel
    except ImportError as exc:
        raise ConfigError(
            f"{path}: reading NIfTI headers needs nibabel: pip install nibabel (or pip install './packages/seg-3d[nifti]' from a seg checkout)"
        ) from exc
    header: Any = nibabel.load(str(path)).header  # a Nifti1Header / Nifti2Header
    shape = tuple(int(s) for s in header.get_data_shape())
    zooms = tuple(float(z) for z in header.get_zooms())
    if len(shape) < 3:
        raise ConfigError(f"{path}: a volume needs 3 spatial axes, the header says shape {shape}")
    channels = 1 if len(shape) == 3 else int(math.prod(shape[3:]))
    return (zooms[2], zooms[1], zooms[0]), (shape[2], shape[1], shape[0]), channels


def _itk(path: Path) -> Geometry:
    try:
        import SimpleITK
    except ImportError as exc:
        raise ConfigError(
            f"{path}: reading NRRD / MetaImage headers needs SimpleITK: pip install SimpleITK "
            "(or pip install './packages/seg-3d[itk]' from a seg checkout)"
        ) from exc
    reader = SimpleITK.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    size = tuple(int(s) for s in reader.GetSize())
    spacing = tuple(float(s) for s in reader.GetSpacing())
    if len(size) != 3:
        raise ConfigError(f"{path}: a volume needs 3 spatial axes, the file has {len(size)}")
    return (spacing[2], spacing[1], spacing[0]), (size[2], size[1], size[0]), int(reader.GetNumberOfComponents())


def _array_shape(shape: Sequence[int], path: Path) -> tuple[tuple[int, int, int], int]:
    if len(shape) == 3:
        return (int(shape[0]), int(shape[1]), int(shape[2])), 1
    if len(shape) == 4:
        return (int(shape[1]), int(shape[2]), int(shape[3])), int(shape[0])
    raise ConfigError(f"{path}: expected a (D, H, W) or (C, D, H, W) array, got shape {tuple(shape)}")


def _npz_header(archive: zipfile.ZipFile, member: str) -> tuple[int, ...]:
    import numpy as np

    with archive.open(member) as stream:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, _ = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, _, _ = np.lib.format.read_array_header_2_0(stream)
    return tuple(shape)


def _numpy(path: Path, default_spacing: tuple[float, float, float]) -> Geometry:
    import numpy as np

    if path.name.lower().endswith(".npy"):
        shape, channels = _array_shape(np.load(path, mmap_mode="r", allow_pickle=False).shape, path)
        return default_spacing, shape, channels
    with zipfile.ZipFile(path) as archive:
        members = {Path(n).stem: n for n in archive.namelist() if n.endswith(".npy")}
        keys = [k for k in members if k not in _NPZ_GEOMETRY]
        key = "data" if "data" in keys else (keys[0] if len(keys) == 1 else None)
        if key is None:
            raise ConfigError(
                f"{path}: an .npz volume holds one array (best named 'data') besides 'spacing' / 'affine'; "
                f"found {sorted(keys)}"
            )
        shape, channels = _array_shape(_npz_header(archive, members[key]), path)
    spacing = default_spacing
    if "spacing" in members or "affine" in members:
        with np.load(path, allow_pickle=False) as stored:
            if "spacing" in members:
                values = [float(v) for v in np.asarray(stored["spacing"]).ravel()]
                if len(values) != 3 or min(values) <= 0:
                    raise ConfigError(f"{path}: 'spacing' must be three positive numbers (D, H, W), got {values}")
                spacing = (values[0], values[1], values[2])
            else:
                zooms = np.linalg.norm(np.asarray(stored["affine"], dtype=np.float64)[:3, :3], axis=0)
                spacing = (float(zooms[2]), float(zooms[1]), float(zooms[0]))
    return spacing, shape, channels


def volume_geometry(
    path: str | Path, default_spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> tuple[tuple[float, float, float], tuple[int, int, int], int]:
    """The spacing ``(D, H, W)``, the shape ``(D, H, W)`` and the channel count of one volume file, from its header.

    Args:
        path: A ``.nii`` / ``.nii.gz``, ``.npy`` / ``.npz``, ``.nrrd`` / ``.nhdr`` / ``.mha`` / ``.mhd`` file.
        default_spacing: The spacing of arrays that store none.

    Raises:
        ConfigError: An unsupported or unreadable file (naming it), or nibabel / SimpleITK missing.
    """
    p = Path(path)
    name = p.name.lower()
    try:
        if name.endswith((".nii", ".nii.gz")):
            return _nifti(p)
        if name.endswith((".npy", ".npz")):
            return _numpy(p, default_spacing)
        if name.endswith((".nrrd", ".nhdr", ".mha", ".mhd")):
            return _itk(p)
    except ConfigError:
        raise
    except Exception as exc:  # nibabel, numpy, zipfile and ITK raise many types for a bad file
        raise ConfigError(f"{p}: cannot read the volume header: {type(exc).__name__}: {exc}") from exc
    raise ConfigError(f"{p}: not a volume file; supported suffixes: {', '.join(VOLUME_SUFFIXES)}")


_CHANNEL_FILE = re.compile(r"_(\d{4})$")


def _msd_info(root: Path) -> tuple[int | None, tuple[str, ...] | None]:
    """The number of classes and the channel names from ``dataset.json``."""
    try:
        info = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{root / 'dataset.json'}: cannot read it: {error}") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{root / 'dataset.json'}: expected a JSON object with 'labels' and 'modality'")
    labels = info.get("labels")
    channels = info.get("modality", info.get("channel_names"))
    names = None
    if isinstance(channels, dict) and channels:
        keys = sorted(channels, key=lambda k: int(k) if str(k).isdigit() else str(k))
        names = tuple(str(channels[k]) for k in keys)
    return (len(labels) if isinstance(labels, dict) and labels else None), names


def _folder_info(root: Path) -> tuple[int | None, tuple[str, ...] | None]:
    """The number of classes and the channel names from a volume folder's optional ``metadata.json``."""
    path = root / "metadata.json"
    if not path.is_file():
        return None, None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it: {error}") from None
    if not isinstance(info, dict):
        raise ConfigError(f"{path}: expected a JSON object (num_classes, labels, modalities...)")
    labels = info.get("labels")
    classes = info.get("num_classes", len(labels) if isinstance(labels, list) and labels else None)
    names = info.get("modalities")
    return (
        classes if isinstance(classes, int) and not isinstance(classes, bool) else None,
        tuple(str(n) for n in names) if isinstance(names, list) and names else None,
    )


def _is_msd(folder: Path) -> bool:
    return (folder / "dataset.json").is_file() and (folder / "imagesTr").is_dir()


def _msd_root(folder: Path) -> Path | None:
    """The task folder: ``folder`` itself, or its only sub-folder with ``dataset.json`` and ``imagesTr/``."""
    if _is_msd(folder):
        return folder
    tasks = [p for p in sorted(folder.iterdir()) if p.is_dir() and _is_msd(p)]
    return tasks[0] if len(tasks) == 1 else None


def _image_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for sub in ("imagesTr", "images"):
        if (root / sub).is_dir():
            files = sorted(p for p in (root / sub).iterdir() if _is_volume(p))
            break
    else:
        files = sorted(p for p in root.iterdir() if _is_volume(p))
    stems = [_stem(p) for p in files]
    if files and all(_CHANNEL_FILE.search(s) for s in stems):  # nnU-Net v2: one file per channel
        files = [p for p, s in zip(files, stems) if s.endswith("_0000")]
    return files


def _stem(path: Path) -> str:
    name = path.name
    suffix = next(s for s in VOLUME_SUFFIXES if name.lower().endswith(s))
    return name[: len(name) - len(suffix)]


def read_folder(root: str | Path, default_spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> dict[str, Any]:
    """The fingerprint data of a folder of training volumes (see the module docstring for the layouts).

    Args:
        root: The dataset folder.
        default_spacing: The spacing of arrays that store none (``.npy``, an ``.npz`` without ``spacing``).

    Returns:
        `seg_3d.plan.Fingerprint.from_dict` data: ``spacings`` and ``shapes``, ``dataset``
        (``"msd"`` or ``"volume_folder"``), ``root`` (the task folder for a Decathlon task), and the
        classes, channels and channel names where ``dataset.json`` / ``metadata.json`` give them.

    Raises:
        ConfigError: A missing folder, no volumes in it, or an unreadable header.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise ConfigError(f"dataset folder {str(folder)!r} does not exist")
    task = _msd_root(folder)
    msd = task is not None
    folder = task if task is not None else folder
    files = _image_files(folder)
    if not files:
        raise ConfigError(
            f"{folder}: no volumes found (looked in imagesTr/, images/ and the folder itself for "
            f"{', '.join(VOLUME_SUFFIXES)})"
        )
    spacings, shapes, channels = [], [], set()
    for path in files:
        spacing, shape, count = volume_geometry(path, default_spacing)
        spacings.append(spacing)
        shapes.append(shape)
        channels.add(count)
    classes, names = _msd_info(folder) if msd else _folder_info(folder)
    if names is not None:
        in_channels: int | None = len(names)
    else:
        in_channels = channels.pop() if len(channels) == 1 else None
    return {
        "spacings": [list(s) for s in spacings],
        "shapes": [list(s) for s in shapes],
        "num_classes": classes,
        "in_channels": in_channels,
        "modalities": names,
        "dataset": "msd" if msd else "volume_folder",
        "root": str(folder),
    }
