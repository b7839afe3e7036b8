"""The volume datasets on small trees the tests write: pairing, errors naming files, MSD, synthetic, registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from seg_3d.data.datasets.msd import msd, read_dataset_json
from seg_3d.data.datasets.synthetic_volumes import synthetic_volumes
from seg_3d.data.datasets.volume_folder import volume_folder
from seg_3d.data.errors import VolumeError, VolumeLayoutError
from seg_3d.data.io import read_image
from seg_core.errors import ConfigError

RNG = np.random.default_rng(1)


def _pair(root: Path, stem: str, shape: tuple[int, int, int] = (4, 6, 8), *, fmt: str = "npy", classes: int = 3
          ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    image = RNG.random(shape).astype(np.float32)
    label = RNG.integers(0, classes, shape)
    for folder, array in (("images", image), ("labels", label)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        if fmt == "npy":
            np.save(root / folder / f"{stem}.npy", array)
        else:
            np.savez(root / folder / f"{stem}.npz", data=array, spacing=np.array([3.0, 1.0, 1.0]))
    return image, label


def test_volume_folder_pairs_by_stem_and_returns_tensors(tmp_path: Path) -> None:
    expected = {s: _pair(tmp_path, s, fmt="npy" if i % 2 else "npz") for i, s in enumerate(["c", "a", "b"])}
    ds = volume_folder(tmp_path, num_classes=3)
    assert [c.stem for c in ds.cases] == ["a", "b", "c"] and len(ds) == 3
    for i, stem in enumerate(["a", "b", "c"]):
        image, label = ds[i]
        assert image.dtype == torch.float32 and label.dtype == torch.int64
        assert torch.equal(image[0], torch.from_numpy(expected[stem][0]))
        assert torch.equal(label, torch.from_numpy(expected[stem][1]))
    assert ds.load_case(2)[2].spacing == (3.0, 1.0, 1.0)  # "c" is an npz with a spacing key
    assert ds.load_case(0)[2].spacing == (1.0, 1.0, 1.0)  # "a" an npy: the default


def test_volume_folder_metadata_file(tmp_path: Path) -> None:
    _pair(tmp_path, "a")
    meta = {"labels": ["background", "liver", "tumour"], "spacing": [2.5, 0.8, 0.8], "ignore_index": -100}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    ds = volume_folder(tmp_path)
    assert ds.metadata.labels == ("background", "liver", "tumour") and ds.metadata.ignore_index == -100
    assert ds.metadata.spacing == (2.5, 0.8, 0.8) and ds.metadata.num_classes == 3
    (tmp_path / "metadata.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"metadata\.json"):
        volume_folder(tmp_path)


def test_a_missing_partner_names_both_paths(tmp_path: Path) -> None:
    _pair(tmp_path, "a")
    _pair(tmp_path, "b")
    (tmp_path / "labels" / "b.npy").unlink()
    with pytest.raises(VolumeError, match=r"images/b\.npy has no label.*labels/b"):
        volume_folder(tmp_path, num_classes=3)
    np.save(tmp_path / "labels" / "b.npy", np.zeros((4, 6, 8), np.int64))
    np.save(tmp_path / "labels" / "z.npy", np.zeros((4, 6, 8), np.int64))
    with pytest.raises(VolumeError, match=r"labels/z\.npy has no image.*images/z"):
        volume_folder(tmp_path, num_classes=3)


def test_a_shape_mismatch_names_both_files(tmp_path: Path) -> None:
    _pair(tmp_path, "a")
    np.save(tmp_path / "labels" / "a.npy", np.zeros((4, 6, 7), np.int64))
    ds = volume_folder(tmp_path, num_classes=3)
    with pytest.raises(VolumeError, match=r"labels/a\.npy is \(4, 6, 7\).*images/a\.npy is \(4, 6, 8\)"):
        ds[0]


def test_a_geometry_mismatch_is_refused(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel", reason="NIfTI needs the optional nibabel")
    for folder, zooms in (("images", (1.0, 1.0, 3.0)), ("labels", (1.0, 1.0, 5.0))):
        (tmp_path / folder).mkdir()
        data = np.zeros((8, 6, 4), np.float32 if folder == "images" else np.uint8)
        nib.save(nib.Nifti1Image(data, np.diag([*zooms, 1.0])), str(tmp_path / folder / "case.nii.gz"))
    ds = volume_folder(tmp_path, num_classes=2)
    with pytest.raises(VolumeError, match=r"labels/case\.nii\.gz lies elsewhere.*images/case\.nii\.gz"):
        ds.load_case(0)


def test_labels_outside_the_classes_name_the_file(tmp_path: Path) -> None:
    _pair(tmp_path, "a")
    np.save(tmp_path / "labels" / "a.npy", np.full((4, 6, 8), 7, np.int64))
    with pytest.raises(VolumeError, match=r"labels/a\.npy: label values \[7\]"):
        volume_folder(tmp_path, num_classes=3)[0]
    _, label = volume_folder(tmp_path, num_classes=3, check=False)[0]
    assert set(label.unique().tolist()) == {255}


def test_nifti_folder_reads_in_d_h_w(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel", reason="NIfTI needs the optional nibabel")
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    image = RNG.random((8, 6, 4)).astype(np.float32)  # (i, j, k)
    label = (image > 0.5).astype(np.uint8)
    affine = np.diag([0.8, 0.8, 3.0, 1.0])
    nib.save(nib.Nifti1Image(image, affine), str(tmp_path / "images" / "s1.nii.gz"))
    nib.save(nib.Nifti1Image(label, affine), str(tmp_path / "labels" / "s1.nii.gz"))
    x, y = volume_folder(tmp_path, num_classes=2)[0]
    assert tuple(x.shape) == (1, 4, 6, 8)
    assert torch.equal(y, torch.from_numpy(label.transpose(2, 1, 0).astype(np.int64)))
    assert torch.equal(y, (x[0] > 0.5).long())  # the label derived from the image stays on it


def test_splits_folder_list_and_holdout(tmp_path: Path) -> None:
    for s in [f"case_{i:02d}" for i in range(10)]:
        _pair(tmp_path, s)
    train = volume_folder(tmp_path, "train", num_classes=3)
    val = volume_folder(tmp_path, "val", num_classes=3)
    assert len(train) == 8 and len(val) == 2
    assert {c.stem for c in train.cases}.isdisjoint(c.stem for c in val.cases)
    other = volume_folder(tmp_path, "val", num_classes=3, fold=1)
    assert {c.stem for c in other.cases} != {c.stem for c in val.cases}
    (tmp_path / "mine.txt").write_text("case_03\ncase_01\n")
    assert [c.stem for c in volume_folder(tmp_path, "mine", num_classes=3).cases] == ["case_03", "case_01"]
    with pytest.raises(VolumeLayoutError, match="split 'nope'"):
        volume_folder(tmp_path, "nope", num_classes=3)
    with pytest.raises(VolumeLayoutError, match="expected"):
        volume_folder(tmp_path / "missing", num_classes=3)


def _msd_tree(
    root: Path, nib: object, *, channels: int = 2, cases: int = 5
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    (root / "imagesTs").mkdir()
    training, data = [], {}
    for i in range(cases):
        image = RNG.random((6, 5, 4, channels)).astype(np.float32)
        label = RNG.integers(0, 3, (6, 5, 4)).astype(np.uint8)
        nib.save(nib.Nifti1Image(image, np.eye(4)), str(root / "imagesTr" / f"hrt_{i:03d}.nii.gz"))  # type: ignore[attr-defined]
        nib.save(nib.Nifti1Image(label, np.eye(4)), str(root / "labelsTr" / f"hrt_{i:03d}.nii.gz"))  # type: ignore[attr-defined]
        training.append({"image": f"./imagesTr/hrt_{i:03d}.nii.gz", "label": f"./labelsTr/hrt_{i:03d}.nii.gz"})
        data[f"hrt_{i:03d}"] = (image, label)
    (root / "imagesTr" / "._hrt_000.nii.gz").write_bytes(b"macOS resource fork")  # as in the MSD archives
    test_image = RNG.random((6, 5, 4, channels)).astype(np.float32)
    nib.save(nib.Nifti1Image(test_image, np.eye(4)), str(root / "imagesTs" / "hrt_100.nii.gz"))  # type: ignore[attr-defined]
    info = {
        "name": "Heart",
        "labels": {"0": "background", "1": "left atrium", "2": "scar"},
        "modality": {str(c): m for c, m in enumerate(["MRI", "T2", "FLAIR"][:channels])},
        "numTraining": cases,
        "training": training,
        "test": ["./imagesTs/hrt_100.nii.gz"],
    }
    (root / "dataset.json").write_text(json.dumps(info))
    return data


def test_msd_dataset_json_labels_modalities_and_4d_channels(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel", reason="MSD volumes are NIfTI (optional nibabel)")
    data = _msd_tree(tmp_path / "Task02_Heart", nib)
    info = read_dataset_json(tmp_path)  # the root may hold the task folder
    assert info["labels"] == {0: "background", 1: "left atrium", 2: "scar"} and info["modalities"] == ["MRI", "T2"]
    ds = msd(tmp_path, "all")
    assert ds.metadata.name == "Heart" and ds.metadata.labels == ("background", "left atrium", "scar")
    assert ds.metadata.modalities == ("MRI", "T2") and ds.metadata.in_channels == 2
    assert [c.stem for c in ds.cases] == sorted(data)
    image, label = ds[1]
    source_image, source_label = data["hrt_001"]
    assert tuple(image.shape) == (2, 4, 5, 6)
    for c in range(2):
        assert torch.equal(image[c], torch.from_numpy(source_image[..., c].transpose(2, 1, 0)))
    assert torch.equal(label, torch.from_numpy(source_label.transpose(2, 1, 0).astype(np.int64)))
    train, val = msd(tmp_path, "train"), msd(tmp_path, "val")
    assert len(train) == 4 and len(val) == 1 and {c.stem for c in train.cases}.isdisjoint(c.stem for c in val.cases)
    test = msd(tmp_path, "test")
    _, unlabelled = test[0]
    assert len(test) == 1 and set(unlabelled.unique().tolist()) == {255}


def test_msd_refuses_a_missing_listed_label_and_bad_json(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel", reason="MSD volumes are NIfTI (optional nibabel)")
    _msd_tree(tmp_path, nib)
    (tmp_path / "labelsTr" / "hrt_002.nii.gz").unlink()
    with pytest.raises(VolumeError, match=r"labelsTr/hrt_002\.nii\.gz does not exist.*imagesTr/hrt_002"):
        msd(tmp_path, "all")
    info = json.loads((tmp_path / "dataset.json").read_text())
    info["labels"] = {"0": "background", "2": "scar"}
    (tmp_path / "dataset.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match=r"dataset\.json: label indices must be 0 \.\. 1"):
        msd(tmp_path, "all")
    with pytest.raises(VolumeLayoutError, match="dataset.json"):
        msd(tmp_path / "imagesTr", "all")


def test_msd_declared_modalities_must_match_the_channels(tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel", reason="MSD volumes are NIfTI (optional nibabel)")
    _msd_tree(tmp_path, nib, channels=2)
    info = json.loads((tmp_path / "dataset.json").read_text())
    info["modality"] = {"0": "CT"}
    (tmp_path / "dataset.json").write_text(json.dumps(info))
    with pytest.raises(VolumeError, match=r"hrt_000.*2 image channel\(s\).*1 modalities \['CT'\]"):
        msd(tmp_path, "all")[0]


def test_nnunet_v2_layout_with_channel_files(tmp_path: Path) -> None:
    for folder in ("imagesTr", "labelsTr"):
        (tmp_path / folder).mkdir()
    cases = {}
    for i in range(5):
        channels = [RNG.random((3, 4, 5)).astype(np.float32) for _ in range(2)]
        for c, array in enumerate(channels):
            np.save(tmp_path / "imagesTr" / f"brain_{i:03d}_{c:04d}.npy", array)
        label = RNG.integers(0, 2, (3, 4, 5))
        np.save(tmp_path / "labelsTr" / f"brain_{i:03d}.npy", label)
        cases[f"brain_{i:03d}"] = (np.stack(channels), label)
    info = {"channel_names": {"0": "T1", "1": "T2"}, "labels": {"background": 0, "lesion": 1}, "file_ending": ".npy"}
    (tmp_path / "dataset.json").write_text(json.dumps(info))
    ds = msd(tmp_path, "all")
    assert ds.metadata.labels == ("background", "lesion") and ds.metadata.modalities == ("T1", "T2")
    image, label = ds[2]
    assert torch.equal(image, torch.from_numpy(cases["brain_002"][0]))
    assert torch.equal(label, torch.from_numpy(cases["brain_002"][1]))
    (tmp_path / "imagesTr" / "brain_004_0001.npy").unlink()
    with pytest.raises(VolumeError, match="different numbers of channel files"):
        msd(tmp_path, "all")


def test_synthetic_volumes_are_deterministic_per_index_and_split() -> None:
    a = synthetic_volumes(num_samples=3, size=(8, 12, 16), num_classes=4, channels=2, spacing=(3.0, 1.0, 1.0))
    b = synthetic_volumes(num_samples=3, size=(8, 12, 16), num_classes=4, channels=2, spacing=(3.0, 1.0, 1.0))
    for i in (2, 0, 1):  # any order
        xa, ya = a[i]
        xb, yb = b[i]
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert tuple(xa.shape) == (2, 8, 12, 16) and tuple(ya.shape) == (8, 12, 16)
    assert not torch.equal(a[0][1], a[1][1])
    other_split = synthetic_volumes("ignored", "val", num_samples=1, size=(8, 12, 16), num_classes=4)
    other_seed = synthetic_volumes(num_samples=1, size=(8, 12, 16), num_classes=4, data_seed=1)
    assert not torch.equal(other_split[0][0], a[0][0][:1]) and not torch.equal(other_seed[0][0], a[0][0][:1])
    assert a.metadata.spacing == (3.0, 1.0, 1.0) and a.metadata.modalities == ("channel_0", "channel_1")
    assert a.metadata.labels == ("background", "sphere", "cube", "ellipsoid")


def test_synthetic_classes_are_learnable_from_intensity() -> None:
    ds = synthetic_volumes(num_samples=4, size=24, num_classes=3, noise=0.0)
    for i in range(len(ds)):
        image, label = ds[i]
        assert set(label.unique().tolist()) >= {0} and int(label.max()) >= 1
        for cls in label.unique().tolist():  # each class sits at its own level (plus a small background wave)
            level = cls / 2
            assert (image[0][label == cls] - level).abs().max() <= 0.1 + 1e-6


def test_synthetic_rejects_bad_sizes() -> None:
    with pytest.raises(ConfigError, match="size"):
        synthetic_volumes(size=2)


def test_read_image_of_a_dataset_case_matches(tmp_path: Path) -> None:
    image, _ = _pair(tmp_path, "a")
    ds = volume_folder(tmp_path, num_classes=3)
    loaded, _, meta = ds.load_case(0)
    assert np.array_equal(loaded, read_image(tmp_path / "images" / "a.npy")[0]) and meta.shape == image.shape
