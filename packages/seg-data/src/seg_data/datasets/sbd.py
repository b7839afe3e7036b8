"""Semantic Boundaries Dataset (benchmark_RELEASE): 21 VOC classes from ``GTcls.Segmentation`` (.mat)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from seg_data.datasets._layout import Layout
from seg_data.datasets.voc import VOC_LABELS
from seg_data.errors import DatasetError
from seg_data.factory import dataset_factory
from seg_data.labels import as_label_array, identity_lut
from seg_data.metadata import DatasetMetadata

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from seg_data.base import DatasetOptions, SegmentationDataset, Transform

__all__ = ["LAYOUT", "read_mat_mask", "sbd", "sbd_metadata"]

LAYOUT = Layout(
    "sbd",
    tree="""\
<root>/                                  (or <root>/benchmark_RELEASE/dataset/, <root>/dataset/)
├── img/2008_000002.jpg ...
├── cls/2008_000002.mat ...              (struct GTcls with field Segmentation: uint8 HxW, 0..20)
└── {train,val}.txt                      (one stem per line)
""",
    nestings=("", "dataset", "benchmark_RELEASE/dataset"),
    marker="cls",
)


def sbd_metadata() -> DatasetMetadata:
    """Return SBD's metadata: the 21 VOC classes, 255 ignored.

    Returns:
        The metadata.

    Example:
        >>> sbd_metadata().labels[1]
        'aeroplane'
    """
    return DatasetMetadata("sbd", 21, VOC_LABELS, 255)


def read_mat_mask(path: Path) -> NDArray[np.integer]:
    """Read ``GTcls.Segmentation`` from an SBD ``.mat`` file (needs scipy: the ``sbd`` extra).

    Args:
        path: The ``cls/<stem>.mat`` file.

    Returns:
        The stored class indices (H, W), int64.

    Raises:
        ImportError: scipy is missing.
        DatasetError: The file is corrupt, has no ``GTcls.Segmentation``, or it is not a 2-D array of whole numbers
            (fractional values are an error, never truncated; names the file).
    """
    try:
        import scipy.io
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'the sbd dataset reads .mat files with scipy: pip install "./packages/seg-data[sbd]" '
            "(from a seg checkout), or pip install scipy"
        ) from exc
    try:
        mat = scipy.io.loadmat(str(path), struct_as_record=False, squeeze_me=True)
        seg = mat["GTcls"].Segmentation
    except Exception as exc:  # scipy raises many types for corrupt files
        raise DatasetError(f"cannot read GTcls.Segmentation from {path}: {type(exc).__name__}: {exc}") from exc
    arr = np.asarray(seg)
    if arr.ndim != 2:
        raise DatasetError(f"{path}: GTcls.Segmentation has shape {arr.shape}, expected a 2-D (H, W) label array")
    return as_label_array(arr, source=f"{path} (GTcls.Segmentation)")


@dataset_factory
def sbd(
    root: str | Path,
    split: str = "train",
    transforms: Transform | None = None,
    **options: Unpack[DatasetOptions],
) -> SegmentationDataset:
    """SBD segmentation masks (needs the ``sbd`` extra: scipy).

    Args:
        root: ``benchmark_RELEASE/dataset`` or a parent of it.
        split: ``train`` or ``val`` (a ``<split>.txt`` list next to ``img/``).
        transforms: ``(image, mask) -> (image, mask)`` callable.
        **options: ``seed``, ``check`` (see :class:`~seg_data.base.DatasetOptions`).

    Returns:
        The dataset, samples in split-list order.

    Raises:
        ConfigError: A split that leaves the root (absolute, ``..``), or an unknown option.
        LayoutError: No ``cls/`` folder or no ``<split>.txt`` list.
        DatasetError: A listed stem without image or ``.mat`` mask, an unsafe or empty list, or an unreadable .mat;
            when a sample is read, fractional values, or (``check``) values other than 0..20 and 255.

    Example:
        >>> ds = sbd("/data/benchmark_RELEASE", "train")  # doctest: +SKIP
    """
    found = LAYOUT.locate(root, split)
    keys = found.split_list(f"{split}.txt")
    pairs = found.pair(found.base / "img", found.base / "cls", keys=keys, mask_suffixes=(".mat",))
    lut, meta = identity_lut(21), sbd_metadata()
    return found.dataset(pairs, meta, transforms, lut=lut, mask_reader=read_mat_mask, mapping_id="sbd", **options)
