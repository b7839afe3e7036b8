"""Fingerprints from lists, JSON (ours and nnU-Net's) and folders of volumes (headers only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from seg_3d.plan import Fingerprint
from seg_3d.plan.folder import volume_geometry
from seg_core.errors import ConfigError


def test_lists_are_checked() -> None:
    fp = Fingerprint.from_lists([(3.6, 0.6, 0.6), [3, 0.6, 0.6]], [(20, 320, 320), [24.0, 300, 320]], num_classes=3)
    assert fp.spacings == ((3.6, 0.6, 0.6), (3.0, 0.6, 0.6))
    assert fp.shapes == ((20, 320, 320), (24, 300, 320))
    assert (fp.num_cases, fp.spatial_dims, fp.num_classes) == (2, 3, 3)
    with pytest.raises(ConfigError, match="at least one case"):
        Fingerprint.from_lists([], [])
    with pytest.raises(ConfigError, match="2 entries but shapes has 1"):
        Fingerprint.from_lists([(1, 1, 1)] * 2, [(8, 8, 8)])
    with pytest.raises(ConfigError, match=r"spacings\[0\]"):
        Fingerprint.from_lists([(1, 0, 1)], [(8, 8, 8)])
    with pytest.raises(ConfigError, match=r"shapes\[0\]"):
        Fingerprint.from_lists([(1, 1, 1)], [(8, 8.5, 8)])
    with pytest.raises(ConfigError, match="same number of axes"):
        Fingerprint.from_lists([(1, 1, 1)], [(8, 8)])
    with pytest.raises(ConfigError, match="dataset"):
        Fingerprint.from_lists([(1, 1, 1)], [(8, 8, 8)], dataset="cityscapes")


def test_json_round_trip(tmp_path: Path) -> None:
    fp = Fingerprint.from_lists([(1, 1, 1)], [(8, 8, 8)], num_classes=2, in_channels=4, root="/data/x")
    path = fp.to_json(tmp_path / "fp.json")
    assert Fingerprint.from_json(path) == fp


def test_reads_nnunet_dataset_fingerprint_json(tmp_path: Path) -> None:
    nnunet = {
        "spacings": [[5.0, 0.8, 0.8], [5.0, 0.8, 0.8]],
        "shapes_after_crop": [[80, 512, 512], [78, 500, 512]],
        "foreground_intensity_properties_per_channel": {"0": {"mean": 10.0}},
        "median_relative_size_after_cropping": 1.0,
    }
    path = tmp_path / "dataset_fingerprint.json"
    path.write_text(json.dumps(nnunet))
    fp = Fingerprint.from_json(path)
    assert fp.shapes[1] == (78, 500, 512)
    assert fp.intensity == {"0": {"mean": 10.0}}
    path.write_text(json.dumps({"spacings": [[1, 1, 1]]}))
    with pytest.raises(ConfigError, match="shapes_after_crop"):
        Fingerprint.from_json(path)
    path.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Fingerprint.from_json(path)


def test_numpy_headers(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", data=np.zeros((2, 4, 5, 6), np.float32), spacing=np.array([3.0, 0.8, 0.7]))
    np.save(tmp_path / "b.npy", np.zeros((4, 5, 6), np.int16))
    affine = np.diag([0.5, 0.6, 2.0, 1.0])  # columns (i, j, k) = (W, H, D)
    np.savez_compressed(tmp_path / "c.npz", data=np.zeros((3, 3, 3)), affine=affine)
    assert volume_geometry(tmp_path / "a.npz") == ((3.0, 0.8, 0.7), (4, 5, 6), 2)
    assert volume_geometry(tmp_path / "b.npy", (2.0, 1.0, 1.0)) == ((2.0, 1.0, 1.0), (4, 5, 6), 1)
    spacing, shape, channels = volume_geometry(tmp_path / "c.npz")
    assert spacing == pytest.approx((2.0, 0.6, 0.5))
    assert (shape, channels) == ((3, 3, 3), 1)
    with pytest.raises(ConfigError, match="not a volume file"):
        volume_geometry(tmp_path / "notes.txt")


def test_volume_folder_of_npz(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for i, depth in enumerate((10, 12, 14)):
        np.savez(tmp_path / "images" / f"case{i}.npz", data=np.zeros((depth, 8, 9)), spacing=np.array([4.0, 1.0, 1.0]))
        np.savez(tmp_path / "labels" / f"case{i}.npz", data=np.zeros((depth, 8, 9), np.uint8))
    fp = Fingerprint.from_folder(tmp_path)
    assert fp.shapes == ((10, 8, 9), (12, 8, 9), (14, 8, 9))
    assert fp.spacings == ((4.0, 1.0, 1.0),) * 3
    assert (fp.dataset, fp.root, fp.in_channels, fp.num_classes) == ("volume_folder", str(tmp_path), 1, None)
    with pytest.raises(ConfigError, match="no volumes"):
        Fingerprint.from_folder(_empty(tmp_path))
    with pytest.raises(ConfigError, match="does not exist"):
        Fingerprint.from_folder(tmp_path / "missing")


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_decathlon_folder_reads_nifti_headers_in_d_h_w_order(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    (tmp_path / "imagesTr").mkdir()
    (tmp_path / "labelsTr").mkdir()
    info = {"labels": {"0": "background", "1": "liver", "2": "tumour"}, "modality": {"0": "CT"}, "numTraining": 2}
    (tmp_path / "dataset.json").write_text(json.dumps(info))
    for name, slices in (("la_001", 10), ("la_002", 12)):
        image = nib.Nifti1Image(np.zeros((16, 14, slices), np.float32), np.diag([0.7, 0.8, 5.0, 1.0]))
        nib.save(image, str(tmp_path / "imagesTr" / f"{name}.nii.gz"))
    (tmp_path / "imagesTr" / "._la_001.nii.gz").write_bytes(b"macOS metadata")  # in the real archives
    fp = Fingerprint.from_folder(tmp_path)
    # NIfTI (i, j, k) = (16, 14, slices) at (0.7, 0.8, 5) mm -> (D, H, W) = (slices, 14, 16) at (5, 0.8, 0.7)
    assert fp.shapes == ((10, 14, 16), (12, 14, 16))
    for spacing in fp.spacings:
        assert spacing == pytest.approx((5.0, 0.8, 0.7))  # float32 zooms in the header
    assert (fp.dataset, fp.num_classes, fp.in_channels, fp.modalities) == ("msd", 3, 1, ("CT",))
    assert fp.root == str(tmp_path)


def test_nested_task_folder_and_nnunet_channel_files(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    task = tmp_path / "Task01_BrainTumour"
    (task / "imagesTr").mkdir(parents=True)
    info = {"labels": {"background": 0, "edema": 1}, "channel_names": {"0": "T1", "1": "FLAIR"}}
    (task / "dataset.json").write_text(json.dumps(info))
    for case in ("b_001", "b_002"):
        for channel in ("0000", "0001"):
            image = nib.Nifti1Image(np.zeros((8, 9, 10), np.float32), np.eye(4))
            nib.save(image, str(task / "imagesTr" / f"{case}_{channel}.nii.gz"))
    fp = Fingerprint.from_folder(tmp_path)  # the parent holding exactly one task
    assert fp.root == str(task)
    assert fp.num_cases == 2  # one file per channel: only channel 0 counts as a case
    assert fp.shapes == ((10, 9, 8), (10, 9, 8))
    assert (fp.num_classes, fp.in_channels, fp.modalities) == (2, 2, ("T1", "FLAIR"))


def test_volume_folder_metadata_json(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    np.save(tmp_path / "images" / "a.npy", np.zeros((2, 6, 7, 8), np.float32))
    (tmp_path / "metadata.json").write_text(json.dumps({"labels": ["bg", "a", "b", "c"], "modalities": ["T1", "T2"]}))
    fp = Fingerprint.from_folder(tmp_path)
    assert (fp.num_classes, fp.in_channels, fp.modalities, fp.shapes) == (4, 2, ("T1", "T2"), ((6, 7, 8),))
