"""seg-data's plugin hook module (light: imports neither torch nor heavy dependencies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from seg_core.registry import Registrar

_DATASETS: tuple[tuple[str, str, str], ...] = (
    ("cityscapes", "seg_data.datasets.cityscapes:cityscapes", "Cityscapes fine/coarse, 19 trainIds (or 7 / 34)"),
    ("ade20k", "seg_data.datasets.ade20k:ade20k", "ADE20K SceneParsing, 150 classes (0 ignored)"),
    ("voc", "seg_data.datasets.voc:voc", "PASCAL VOC 2012 segmentation, 21 classes"),
    ("sbd", "seg_data.datasets.sbd:sbd", "Semantic Boundaries Dataset (.mat), 21 VOC classes; extra [sbd]"),
    ("coco_stuff", "seg_data.datasets.coco_stuff:coco_stuff", "COCO-Stuff 164k, 171 classes"),
    ("bdd100k", "seg_data.datasets.bdd100k:bdd100k", "BDD100K 10k semantic segmentation, 19 classes"),
    ("mapillary", "seg_data.datasets.mapillary:mapillary", "Mapillary Vistas v1.2 / v2.0 (classes from config)"),
    ("lip", "seg_data.datasets.lip:lip", "Look Into Person, 20 classes"),
    ("folder", "seg_data.datasets.folder:folder", "images/ + masks/ folders paired by stem"),
    ("synthetic", "seg_data.datasets.synthetic:synthetic", "generated shapes on textures (demo and tests)"),
)


@hookimpl
def seg_register_datasets(registry: Registrar) -> None:
    """Register seg-data's datasets (lazy targets)."""
    for name, target, description in _DATASETS:
        registry.add(name, target, description=description, metadata=f"seg_data.metadata:resolve_metadata({name!r})")
