"""Read and write volumes: NIfTI (nibabel), ``.npy`` / ``.npz`` (numpy), NRRD / MetaImage (SimpleITK).

Arrays are channel-first and in seg-3d's axis order ``(D, H, W)``: for NIfTI that is the file's voxel axes
reversed, ``(k, j, i)``, as SimpleITK gives them (so the slice axis of a thick-slice scan is ``D``, the axis
the encoders' ``(1, 2, 2)`` strides leave alone). Images come back as float32 ``(C, D, H, W)`` (a 4D NIfTI's
last axis becomes the channels), labels as int64 ``(D, H, W)``. ``.npy`` / ``.npz`` arrays are taken as already
in that order.

Each read returns a :class:`VolumeMeta` with the spacing (``(D, H, W)``, mm), the affine (4x4, RAS+, voxel
``(i, j, k) = (W, H, D)`` to world, the NIfTI convention, whatever the format) and orientation codes;
:func:`write_prediction` writes a label map back with the input's affine (and its NIfTI header).

nibabel and SimpleITK are optional (``pip install './packages/seg-3d[nifti]'`` / ``'seg-3d[itk]'``), imported when a file
needs them. A file that cannot be decoded is a :class:`~seg_3d.data.errors.VolumeError` naming it.

Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "case.npz")
    >>> np.savez(path, data=np.zeros((4, 5, 6), np.float32), spacing=np.array([3.0, 0.8, 0.8]))
    >>> image, meta = read_image(path)
    >>> image.shape, meta.spacing, meta.orientation
    ((1, 4, 5, 6), (3.0, 0.8, 0.8), ('R', 'A', 'S'))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seg_3d.data.errors import VolumeError
from seg_core.errors import ConfigError, InputShapeError

__all__ = [
    "ITK_SUFFIXES",
    "NIFTI_SUFFIXES",
    "NUMPY_SUFFIXES",
    "VOLUME_SUFFIXES",
    "VolumeMeta",
    "axis_codes",
    "default_affine",
    "read_image",
    "read_label",
    "volume_format",
    "volume_stem",
    "write_prediction",
]

NIFTI_SUFFIXES = (".nii.gz", ".nii")
NUMPY_SUFFIXES = (".npy", ".npz")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
#: Every suffix a volume dataset reads (longest first, so ``.nii.gz`` wins over ``.gz``-less ``.nii``).
VOLUME_SUFFIXES = (*NIFTI_SUFFIXES, *NUMPY_SUFFIXES, *ITK_SUFFIXES)

#: ``.npz`` keys that hold geometry, not the volume.
_NPZ_GEOMETRY = ("spacing", "affine")
#: LPS (ITK) <-> RAS (NIfTI) world frames.
_LPS_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _suffix(path: Path) -> str | None:
    name = path.name.lower()
    return next((s for s in VOLUME_SUFFIXES if name.endswith(s)), None)


def volume_stem(path: str | Path) -> str | None:
    """Return the file name without its volume suffix (``case_01.nii.gz`` -> ``case_01``); None if not a volume.

    Example:
        >>> volume_stem("imagesTr/la_003.nii.gz"), volume_stem("notes.txt")
        ('la_003', None)
    """
    p = Path(path)
    suffix = _suffix(p)
    return None if suffix is None else p.name[: len(p.name) - len(suffix)]


def volume_format(path: str | Path) -> str:
    """Return ``"nifti"``, ``"numpy"`` or ``"itk"`` from the file's suffix.

    Raises:
        ConfigError: Not a supported suffix (names the file and the supported ones).
    """
    suffix = _suffix(Path(path))
    if suffix in NIFTI_SUFFIXES:
        return "nifti"
    if suffix in NUMPY_SUFFIXES:
        return "numpy"
    if suffix in ITK_SUFFIXES:
        return "itk"
    raise ConfigError(f"{path}: not a volume file; supported suffixes: {', '.join(VOLUME_SUFFIXES)}")


def axis_codes(affine: NDArray[np.floating]) -> tuple[str, str, str]:
    """Orientation codes of the voxel axes ``(i, j, k)`` of a RAS+ affine (nibabel's ``aff2axcodes``).

    Each axis is named by the world direction it points to most: ``R``/``L``, ``A``/``P``, ``S``/``I``.

    Example:
        >>> axis_codes(np.diag([-1.0, 1.0, 2.0, 1.0]))
        ('L', 'A', 'S')
    """
    linear = np.asarray(affine, dtype=np.float64)[:3, :3]
    codes = []
    for column in linear.T:
        world = int(np.argmax(np.abs(column)))
        codes.append(("R", "A", "S")[world] if column[world] >= 0 else ("L", "P", "I")[world])
    return codes[0], codes[1], codes[2]


@dataclass(frozen=True, eq=False)
class VolumeMeta:
    """Where a volume lies in the world: what :func:`write_prediction` needs to write labels back.

    Attributes:
        shape: Spatial shape ``(D, H, W)``.
        spacing: Voxel size ``(D, H, W)`` in mm.
        affine: 4x4 voxel-to-world matrix, RAS+, voxel axes ``(i, j, k) = (W, H, D)`` (the NIfTI convention,
            for every format).
        source: The file read.
        format: ``"nifti"``, ``"numpy"``, ``"itk"`` or ``"generated"``.
        header: The source's NIfTI header (kept so that predictions are written with it), or None.
        has_geometry: Whether the file stored its geometry (NIfTI, ITK, an ``.npz`` with ``spacing`` /
            ``affine``); False when spacing and affine are defaults.
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    affine: NDArray[np.float64]
    source: str
    format: str
    header: Any = None
    has_geometry: bool = True

    @property
    def orientation(self) -> tuple[str, str, str]:
        """Orientation codes of the voxel axes ``(i, j, k) = (W, H, D)``, e.g. ``('R', 'A', 'S')``."""
        return axis_codes(self.affine)

    def __repr__(self) -> str:
        return (
            f"VolumeMeta(shape={self.shape}, spacing={tuple(round(s, 4) for s in self.spacing)}, "
            f"orientation={''.join(self.orientation)}, format={self.format!r}, source={self.source!r})"
        )


def default_affine(spacing: tuple[float, float, float]) -> NDArray[np.float64]:
    """The affine of a volume without stored geometry: axis-aligned, origin 0, ``spacing`` as ``(D, H, W)``."""
    return np.diag([spacing[2], spacing[1], spacing[0], 1.0])


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError as exc:
        raise ConfigError(
            "reading or writing NIfTI files (.nii, .nii.gz) needs nibabel: pip install nibabel "
            "(or pip install './packages/seg-3d[nifti]')"
        ) from exc
    return nibabel


def _sitk() -> Any:
    try:
        import SimpleITK
    except ImportError as exc:
        raise ConfigError(
            f"reading or writing {', '.join(ITK_SUFFIXES)} files needs SimpleITK: pip install SimpleITK "
            "(or pip install './packages/seg-3d[itk]')"
        ) from exc
    return SimpleITK


def _read_nifti(path: Path) -> tuple[NDArray[Any], VolumeMeta]:
    """The array in ``(D, H, W[, C])`` order, i.e. the file's ``(i, j, k[, c])`` with the spatial axes reversed."""
    nib = _nibabel()
    image = nib.load(str(path))
    data = np.asanyarray(image.dataobj)
    if data.ndim < 3:
        raise VolumeError(f"{path}: a volume needs 3 spatial axes, the file holds shape {data.shape}")
    if data.ndim > 4:
        data = data.reshape(*data.shape[:3], -1)
    array = np.ascontiguousarray(np.moveaxis(data[:, :, :, None] if data.ndim == 3 else data, (0, 1, 2), (2, 1, 0)))
    zooms = tuple(float(z) for z in image.header.get_zooms()[:3])
    affine = np.asarray(image.affine, dtype=np.float64)
    spacing = (zooms[2], zooms[1], zooms[0])
    shape = (array.shape[0], array.shape[1], array.shape[2])
    return array, VolumeMeta(shape, spacing, affine, str(path), "nifti", image.header.copy())


def _read_numpy(path: Path, default_spacing: tuple[float, float, float]) -> tuple[NDArray[Any], VolumeMeta]:
    """The array as stored (``(D, H, W)`` or ``(C, D, H, W)``), moved to ``(D, H, W, C)``."""
    spacing, affine = default_spacing, None
    if path.name.lower().endswith(".npz"):
        with np.load(path, allow_pickle=False) as archive:
            keys = [k for k in archive.files if k not in _NPZ_GEOMETRY]
            key = "data" if "data" in keys else (keys[0] if len(keys) == 1 else None)
            if key is None:
                raise VolumeError(
                    f"{path}: an .npz volume holds one array (best named 'data') besides 'spacing' / 'affine'; "
                    f"found {sorted(keys)}"
                )
            data = archive[key]
            if "spacing" in archive.files:
                values = np.asarray(archive["spacing"], dtype=np.float64).ravel()
                if values.size != 3 or not np.all(values > 0):
                    raise VolumeError(f"{path}: 'spacing' must be three positive numbers (D, H, W), got {values}")
                spacing = (float(values[0]), float(values[1]), float(values[2]))
            stored = "spacing" in archive.files or "affine" in archive.files
            if "affine" in archive.files:
                affine = np.asarray(archive["affine"], dtype=np.float64)
                if affine.shape != (4, 4):
                    raise VolumeError(f"{path}: 'affine' must be a 4x4 matrix, got shape {affine.shape}")
                if "spacing" not in archive.files:  # the voxel sizes are the lengths of the affine's columns
                    zooms = np.linalg.norm(affine[:3, :3], axis=0)
                    spacing = (float(zooms[2]), float(zooms[1]), float(zooms[0]))
        has_geometry = stored
    else:
        data = np.load(path, allow_pickle=False)
        has_geometry = False
    if data.ndim not in (3, 4):
        raise VolumeError(f"{path}: expected a (D, H, W) or (C, D, H, W) array, got shape {data.shape}")
    array = np.ascontiguousarray(np.moveaxis(data, 0, -1)) if data.ndim == 4 else data[..., None]
    if affine is None:
        affine = default_affine(spacing)
    shape = (array.shape[0], array.shape[1], array.shape[2])
    return array, VolumeMeta(shape, spacing, affine, str(path), "numpy", None, has_geometry)


def _read_itk(path: Path) -> tuple[NDArray[Any], VolumeMeta]:
    sitk = _sitk()
    image = sitk.ReadImage(str(path))
    if image.GetDimension() != 3:
        raise VolumeError(f"{path}: a volume needs 3 spatial axes, the file has {image.GetDimension()}")
    data = sitk.GetArrayFromImage(image)  # (z, y, x[, components]) = (D, H, W[, C])
    array = data[..., None] if data.ndim == 3 else data
    sx, sy, sz = (float(v) for v in image.GetSpacing())
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    lps = np.eye(4)
    lps[:3, :3] = direction * np.array([sx, sy, sz])
    lps[:3, 3] = image.GetOrigin()
    shape = (array.shape[0], array.shape[1], array.shape[2])
    return np.ascontiguousarray(array), VolumeMeta(shape, (sz, sy, sx), _LPS_RAS @ lps, str(path), "itk")


def _read(path: str | Path, default_spacing: tuple[float, float, float]) -> tuple[NDArray[Any], VolumeMeta]:
    """Decode ``path`` to a ``(D, H, W, C)`` array and its meta; every decoding failure names the file."""
    p = Path(path)
    fmt = volume_format(p)
    if not p.is_file():
        raise VolumeError(f"{p}: no such volume file")
    try:
        if fmt == "nifti":
            return _read_nifti(p)
        if fmt == "numpy":
            return _read_numpy(p, default_spacing)
        return _read_itk(p)
    except (VolumeError, ConfigError):
        raise
    except Exception as exc:  # nibabel/numpy/zlib/ITK raise many types for a corrupt file
        raise VolumeError(f"{p}: cannot read the volume ({fmt}): {type(exc).__name__}: {exc}") from exc


def _check_spacing(spacing: Any) -> tuple[float, float, float]:
    values = tuple(float(v) for v in spacing)
    if len(values) != 3 or min(values) <= 0:
        raise ConfigError(f"spacing must be three positive numbers (D, H, W) in mm, got {spacing!r}")
    return values[0], values[1], values[2]


def read_image(
    path: str | Path, *, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> tuple[NDArray[np.float32], VolumeMeta]:
    """Read an image volume as float32 ``(C, D, H, W)`` with its :class:`VolumeMeta`.

    Args:
        path: A ``.nii`` / ``.nii.gz`` (3D, or 4D with the channels last), ``.npy`` / ``.npz`` (``(D, H, W)`` or
            ``(C, D, H, W)``), ``.nrrd`` / ``.nhdr`` / ``.mha`` / ``.mhd`` file.
        spacing: The spacing of files that do not store one (``.npy``, an ``.npz`` without ``spacing``).

    Returns:
        ``(image, meta)``.

    Raises:
        VolumeError: Missing, corrupt or non-volume file (names it).
        ConfigError: Unsupported suffix, or nibabel / SimpleITK missing for the format (names the install).
    """
    array, meta = _read(path, _check_spacing(spacing))
    return np.ascontiguousarray(np.moveaxis(array, -1, 0), dtype=np.float32), meta


def read_label(
    path: str | Path, *, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> tuple[NDArray[np.int64], VolumeMeta]:
    """Read a label volume as int64 ``(D, H, W)`` with its :class:`VolumeMeta`.

    Args:
        path: A volume file (see :func:`read_image`) with one channel of whole-number labels.
        spacing: The spacing of files that do not store one.

    Returns:
        ``(label, meta)``.

    Raises:
        VolumeError: Missing or corrupt file, more than one channel, or values that are not whole numbers (names
            the file).
        ConfigError: Unsupported suffix, or nibabel / SimpleITK missing.
    """
    array, meta = _read(path, _check_spacing(spacing))
    if array.shape[-1] != 1:
        raise VolumeError(f"{path}: a label volume has one channel, the file holds {array.shape[-1]}")
    data = array[..., 0]
    if not np.issubdtype(data.dtype, np.integer):
        if np.issubdtype(data.dtype, np.bool_):
            data = data.astype(np.int64)
        elif not np.issubdtype(data.dtype, np.floating) or not np.all(np.isfinite(data)):
            raise VolumeError(f"{path}: label values must be whole numbers, the file holds {data.dtype} values")
        elif not np.array_equal(data, np.round(data)):
            bad = data[data != np.round(data)].ravel()[:3].tolist()
            raise VolumeError(f"{path}: label values must be whole numbers, found {bad}")
    return np.ascontiguousarray(data, dtype=np.int64), meta


def _label_dtype(labels: NDArray[Any]) -> type[np.integer[Any]]:
    low, high = (int(labels.min()), int(labels.max())) if labels.size else (0, 0)
    for dtype in (np.uint8, np.int16, np.int32):
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return dtype
    return np.int64


def write_prediction(labels: Any, meta: VolumeMeta, path: str | Path) -> Path:
    """Write a label map with the geometry of the volume it was predicted from.

    NIfTI output keeps the input's affine and, for a NIfTI input, its header (qform/sform codes, units,
    description; data type and scaling set for labels). ``.npz`` stores ``data``, ``spacing`` and ``affine``;
    ``.npy`` the array only; ITK formats their spacing, origin and direction.

    Args:
        labels: Integer ``(D, H, W)`` array or tensor, in seg-3d's axis order (as read).
        meta: The :class:`VolumeMeta` of the input volume.
        path: Output file; its suffix picks the format. Parent folders are created.

    Returns:
        The path written.

    Raises:
        InputShapeError: ``labels`` is not ``(D, H, W)`` of ``meta.shape`` (resample a prediction made at another
            spacing back first), or not integer.
        ConfigError: Unsupported suffix, or nibabel / SimpleITK missing.

    Example:
        >>> import tempfile, os
        >>> folder = tempfile.mkdtemp()
        >>> np.savez(os.path.join(folder, "ct.npz"), data=np.zeros((2, 3, 4)), spacing=np.array([5.0, 1.0, 1.0]))
        >>> image, meta = read_image(os.path.join(folder, "ct.npz"))
        >>> out = write_prediction(np.ones((2, 3, 4), np.int64), meta, os.path.join(folder, "pred.npz"))
        >>> read_label(out)[1].spacing
        (5.0, 1.0, 1.0)
    """
    out = Path(path)
    fmt = volume_format(out)
    array = labels.detach().cpu().numpy() if hasattr(labels, "detach") else np.asarray(labels)
    if tuple(array.shape) != tuple(meta.shape):
        raise InputShapeError(
            f"write_prediction: labels {tuple(array.shape)} do not match the input volume {meta.shape} (D, H, W) of "
            f"{meta.source}; a prediction made after resampling must be resampled back to the input's shape first"
        )
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.bool_)):
        raise InputShapeError(f"write_prediction: labels must be an integer array, got {array.dtype}")
    array = array.astype(_label_dtype(array))
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "nifti":
        nib = _nibabel()
        header = meta.header.copy() if isinstance(meta.header, nib.Nifti1Header) else None
        image = nib.Nifti1Image(np.ascontiguousarray(np.transpose(array, (2, 1, 0))), meta.affine, header=header)
        image.header.set_data_dtype(array.dtype)
        image.header.set_slope_inter(1.0, 0.0)
        image.header.set_intent("label")
        nib.save(image, str(out))
    elif out.name.lower().endswith(".npz"):
        np.savez_compressed(out, data=array, spacing=np.asarray(meta.spacing), affine=meta.affine)
    elif fmt == "numpy":
        np.save(out, array)
    else:
        sitk = _sitk()
        image = sitk.GetImageFromArray(array)
        lps = _LPS_RAS @ meta.affine
        sizes = np.linalg.norm(lps[:3, :3], axis=0)
        image.SetSpacing([float(s) for s in sizes])
        image.SetDirection([float(v) for v in (lps[:3, :3] / sizes).ravel()])
        image.SetOrigin([float(v) for v in lps[:3, 3]])
        sitk.WriteImage(image, str(out), True)
    return out
