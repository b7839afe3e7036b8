"""Reading and writing volumes: axis order, spacing, affine round trips, corrupt files, missing extras."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from seg_3d.data.errors import VolumeError
from seg_3d.data.io import axis_codes, read_image, read_label, volume_stem, write_prediction
from seg_core.errors import ConfigError, InputShapeError

RNG = np.random.default_rng(0)


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def test_stems_strip_the_double_suffix() -> None:
    assert volume_stem("a/la_003.nii.gz") == "la_003"
    assert volume_stem("b.nii") == "b" and volume_stem("c.npz") == "c" and volume_stem("d.mha") == "d"
    assert volume_stem("e.png") is None


def test_npy_is_taken_as_d_h_w_with_the_default_spacing(tmp_path: Path) -> None:
    volume = RNG.random((3, 4, 5)).astype(np.float32)
    np.save(tmp_path / "v.npy", volume)
    image, meta = read_image(tmp_path / "v.npy", spacing=(2.0, 1.0, 0.5))
    assert image.shape == (1, 3, 4, 5) and np.array_equal(image[0], volume)
    assert meta.spacing == (2.0, 1.0, 0.5) and not meta.has_geometry
    assert np.allclose(meta.affine, np.diag([0.5, 1.0, 2.0, 1.0]))  # voxel (i, j, k) = (W, H, D)
    multi = RNG.random((2, 3, 4, 5)).astype(np.float32)
    np.save(tmp_path / "m.npy", multi)
    assert np.array_equal(read_image(tmp_path / "m.npy")[0], multi)


def test_npz_spacing_and_affine_keys(tmp_path: Path) -> None:
    data = RNG.integers(0, 3, (3, 4, 5))
    np.savez(tmp_path / "s.npz", data=data, spacing=np.array([3.0, 0.8, 0.7]))
    label, meta = read_label(tmp_path / "s.npz")
    assert np.array_equal(label, data) and label.dtype == np.int64
    assert meta.spacing == (3.0, 0.8, 0.7) and meta.has_geometry
    affine = np.eye(4)
    affine[:3, :3] = _rotation(0.3) @ np.diag([0.7, 0.8, 3.0])
    np.savez(tmp_path / "a.npz", volume=data, affine=affine)  # the only array, any name
    _, meta = read_label(tmp_path / "a.npz")
    assert np.allclose(meta.spacing, (3.0, 0.8, 0.7))  # from the affine's column lengths
    np.savez(tmp_path / "two.npz", a=data, b=data)
    with pytest.raises(VolumeError, match=r"two\.npz.*'data'"):
        read_image(tmp_path / "two.npz")


def test_label_values_must_be_whole_numbers(tmp_path: Path) -> None:
    np.save(tmp_path / "f.npy", np.full((2, 2, 2), 1.5))
    with pytest.raises(VolumeError, match=r"f\.npy.*whole numbers"):
        read_label(tmp_path / "f.npy")
    np.save(tmp_path / "ok.npy", np.full((2, 2, 2), 2.0))
    assert read_label(tmp_path / "ok.npy")[0].dtype == np.int64


@pytest.mark.parametrize("name", ["bad.npy", "bad.npz", "bad.nii.gz", "bad.nii", "bad.nrrd"])
def test_a_corrupt_file_is_an_error_naming_it(tmp_path: Path, name: str) -> None:
    if name.endswith((".nii", ".nii.gz")):
        pytest.importorskip("nibabel", reason="NIfTI needs the optional nibabel")
    if name.endswith(".nrrd"):
        pytest.importorskip("SimpleITK", reason="NRRD needs the optional SimpleITK")
    path = tmp_path / name
    path.write_bytes(b"this is not a volume" * 10)
    with pytest.raises(VolumeError, match=name.replace(".", r"\.")):
        read_image(path)


def test_a_truncated_nifti_is_an_error_naming_it(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel", reason="NIfTI needs the optional nibabel")
    path = tmp_path / "cut.nii.gz"
    nib.save(nib.Nifti1Image(RNG.random((16, 16, 16)).astype(np.float32), np.eye(4)), str(path))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(VolumeError, match=r"cut\.nii\.gz"):
        read_image(path)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a volume file"):
        read_image(tmp_path / "x.png")
    with pytest.raises(VolumeError, match=r"nothere\.npy"):
        read_image(tmp_path / "nothere.npy")


def test_missing_nibabel_names_the_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.nii.gz"
    path.write_bytes(b"0")
    monkeypatch.setitem(sys.modules, "nibabel", None)  # import nibabel now raises ImportError
    with pytest.raises(ConfigError, match="pip install nibabel"):
        read_image(path)


def test_axis_codes_match_nibabel() -> None:
    nib = pytest.importorskip("nibabel", reason="the reference is nibabel's aff2axcodes")
    for angle in (0.0, 0.4, 2.0, -2.5):
        affine = np.eye(4)
        affine[:3, :3] = _rotation(angle) @ np.diag([-1.0, 2.0, -3.0])
        assert axis_codes(affine) == tuple(nib.aff2axcodes(affine))


def _nifti(nib: object, data: np.ndarray, zooms: tuple[float, float, float]) -> object:
    affine = np.eye(4)
    affine[:3, :3] = _rotation(0.35) @ np.diag(zooms)
    affine[:3, 3] = (12.0, -40.5, 7.25)
    image = nib.Nifti1Image(data, affine)  # type: ignore[attr-defined]
    image.header.set_qform(affine, code=1)
    image.header.set_sform(affine, code=2)
    image.header["descrip"] = b"source scan"
    return image


def test_nifti_axes_become_d_h_w_and_spacing_follows(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel", reason="NIfTI needs the optional nibabel")
    data = RNG.random((4, 5, 6)).astype(np.float32)  # (i, j, k)
    nib.save(_nifti(nib, data, (0.5, 0.8, 3.0)), str(tmp_path / "ct.nii.gz"))
    image, meta = read_image(tmp_path / "ct.nii.gz")
    assert image.shape == (1, 6, 5, 4) and meta.shape == (6, 5, 4)
    assert np.array_equal(image[0], data.transpose(2, 1, 0))  # image[0, k, j, i] == data[i, j, k]
    assert np.allclose(meta.spacing, (3.0, 0.8, 0.5))
    assert meta.orientation == tuple(nib.aff2axcodes(meta.affine))


def test_multimodal_4d_nifti_gives_channels(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel", reason="NIfTI needs the optional nibabel")
    data = RNG.random((4, 5, 6, 3)).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(tmp_path / "mm.nii.gz"))
    image, meta = read_image(tmp_path / "mm.nii.gz")
    assert image.shape == (3, 6, 5, 4) and meta.shape == (6, 5, 4)
    for c in range(3):
        assert np.array_equal(image[c], data[..., c].transpose(2, 1, 0))
    with pytest.raises(VolumeError, match=r"mm\.nii\.gz.*one channel"):
        read_label(tmp_path / "mm.nii.gz")


def test_write_prediction_keeps_the_nifti_affine_and_header(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel", reason="NIfTI needs the optional nibabel")
    # a scaled int16 source: the prediction must not inherit its slope
    source = _nifti(nib, RNG.integers(-100, 100, (4, 5, 6)).astype(np.int16), (0.5, 0.8, 3.0))
    source.header.set_slope_inter(2.0, 10.0)  # type: ignore[attr-defined]
    nib.save(source, str(tmp_path / "in.nii.gz"))
    _, meta = read_image(tmp_path / "in.nii.gz")
    labels = RNG.integers(0, 4, meta.shape)
    out = write_prediction(labels, meta, tmp_path / "out" / "pred.nii.gz")
    written = nib.load(str(out))
    assert np.allclose(written.affine, nib.load(str(tmp_path / "in.nii.gz")).affine)
    assert int(written.header["sform_code"]) == 2 and int(written.header["qform_code"]) == 1
    assert written.header["descrip"].tobytes().rstrip(b"\0") == b"source scan"
    stored = np.asanyarray(written.dataobj)
    assert stored.dtype == np.uint8 and np.array_equal(stored, labels.transpose(2, 1, 0))
    again, again_meta = read_label(out)
    assert np.array_equal(again, labels) and np.allclose(again_meta.affine, meta.affine)


def test_write_prediction_refuses_another_shape(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros((3, 4, 5), np.float32))
    _, meta = read_image(tmp_path / "v.npy")
    with pytest.raises(InputShapeError, match=r"\(3, 4, 5\)"):
        write_prediction(np.zeros((3, 4, 6), np.int64), meta, tmp_path / "p.npy")
    with pytest.raises(InputShapeError, match="integer"):
        write_prediction(np.zeros((3, 4, 5), np.float32), meta, tmp_path / "p.npy")


def test_write_prediction_npz_and_npy(tmp_path: Path) -> None:
    np.savez(tmp_path / "v.npz", data=np.zeros((3, 4, 5)), spacing=np.array([2.0, 1.0, 1.0]))
    _, meta = read_image(tmp_path / "v.npz")
    labels = RNG.integers(0, 300, meta.shape)  # needs int16
    label, back = read_label(write_prediction(labels, meta, tmp_path / "p.npz"))
    assert np.array_equal(label, labels) and back.spacing == (2.0, 1.0, 1.0)
    assert np.allclose(back.affine, meta.affine)
    assert np.array_equal(np.load(write_prediction(labels, meta, tmp_path / "p.npy")), labels)


def test_itk_geometry_is_converted_to_ras_and_back(tmp_path: Path) -> None:
    sitk = pytest.importorskip("SimpleITK", reason="NRRD / MetaImage need the optional SimpleITK")
    nib = pytest.importorskip("nibabel", reason="the cross-format check writes NIfTI")
    data = RNG.random((6, 5, 4)).astype(np.float32)  # ITK arrays are (z, y, x)
    source = sitk.GetImageFromArray(data)
    source.SetSpacing((0.7, 0.9, 2.5))
    source.SetOrigin((10.0, -20.0, 30.0))
    source.SetDirection(tuple(_rotation(0.5).ravel()))
    sitk.WriteImage(source, str(tmp_path / "scan.nrrd"))
    image, meta = read_image(tmp_path / "scan.nrrd")
    assert np.array_equal(image[0], data) and np.allclose(meta.spacing, (2.5, 0.9, 0.7))
    # every voxel lands where ITK puts it (LPS), flipped to RAS
    for index in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
        lps = np.array(source.TransformIndexToPhysicalPoint(index))
        ras = meta.affine @ np.array([*index, 1.0])
        assert np.allclose(ras[:3], lps * np.array([-1.0, -1.0, 1.0]))
    labels = RNG.integers(0, 3, meta.shape)
    back = sitk.ReadImage(str(write_prediction(labels, meta, tmp_path / "pred.nrrd")))
    assert np.array_equal(sitk.GetArrayFromImage(back), labels)
    assert np.allclose(back.GetSpacing(), source.GetSpacing()) and np.allclose(back.GetOrigin(), source.GetOrigin())
    assert np.allclose(back.GetDirection(), source.GetDirection())
    as_nifti = nib.load(str(write_prediction(labels, meta, tmp_path / "pred.nii.gz")))
    assert np.allclose(as_nifti.affine, meta.affine)
    assert np.array_equal(np.asanyarray(as_nifti.dataobj), labels.transpose(2, 1, 0))
