"""Semantic Boundaries Dataset (benchmark_RELEASE): 21 VOC classes from ``GTcls.Segmentation`` (.mat)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seg_data._files import index_by_stem, layout_error, list_files, locate, pair_by_stem, read_split_list
from seg_data.base import SegmentationDataset
from seg_data.errors import DatasetError
from seg_data.labels import identity_lut
from seg_data.metadata import resolve_metadata

TREE = """\
<root>/                                  (or <root>/benchmark_RELEASE/dataset/, <root>/dataset/)
├── img/2008_000002.jpg ...
├── cls/2008_000002.mat ...              (struct GTcls with field Segmentation: uint8 HxW, 0..20)
└── {train,val}.txt                      (one stem per line)
"""


def _loadmat(path: Path) -> NDArray[np.integer]:
    try:
        import scipy.io
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the sbd dataset reads .mat files with scipy: pip install 'seg-data[sbd]'") from exc
    try:
        mat = scipy.io.loadmat(str(path), struct_as_record=False, squeeze_me=True)
        seg = mat["GTcls"].Segmentation
    except Exception as exc:  # scipy raises many types for corrupt files
        raise DatasetError(f"cannot read GTcls.Segmentation from {path}: {type(exc).__name__}: {exc}") from exc
    return np.asarray(seg)


class SBDDataset(SegmentationDataset):
    """SBD: masks are MATLAB files (``GTcls.Segmentation``)."""

    def read_raw_mask(self, path: Path) -> NDArray[np.integer]:
        """Read ``GTcls.Segmentation`` from the .mat file."""
        return _loadmat(path)


def sbd(
    root: str | Path,
    split: str = "train",
    transforms: Any = None,
    *,
    seed: int | None = None,
    check: bool = True,
) -> SegmentationDataset:
    """SBD segmentation masks (needs the ``sbd`` extra: scipy).

    Args:
        root: ``benchmark_RELEASE/dataset`` or a parent of it.
        split: ``train`` or ``val`` (a ``<split>.txt`` list next to ``img/``).
        transforms: ``(image, mask) -> (image, mask)`` callable.
        seed: Per-sample seed for the transforms.
        check: Verify label ranges.

    Raises:
        LayoutError: Unexpected layout. DatasetError: missing mask or unreadable .mat.

    Example:
        >>> ds = sbd("/data/benchmark_RELEASE", "train")  # doctest: +SKIP
    """
    base = locate(root, "sbd", TREE, ["", "dataset", "benchmark_RELEASE/dataset"], "cls")
    list_file = base / f"{split}.txt"
    if not list_file.is_file():
        raise layout_error("sbd", Path(root), TREE, f"split list {list_file} does not exist")
    keys = read_split_list(list_file, base, name="sbd")
    images = index_by_stem(list_files(base / "img"), what="image")
    masks = index_by_stem(list_files(base / "cls", (".mat",)), what="mask")
    pairs = pair_by_stem(images, masks, name="sbd", keys=keys, mask_hint=lambda s: f"cls/{s}.mat")
    return SBDDataset(
        pairs, resolve_metadata("sbd"), transforms, split=split, lut=identity_lut(21), mapping_id="sbd",
        root=base, seed=seed, check=check,
    )  # fmt: skip
