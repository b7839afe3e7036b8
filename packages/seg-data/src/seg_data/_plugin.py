"""seg-data's plugin hook module (light: imports neither torch nor heavy dependencies).

Each dataset is registered with its factory and, in the entry's info, its metadata builder
(``metadata="module:attr"``, read by :func:`seg_data.metadata.resolve_metadata`). Both are lazy strings: nothing
is imported until a dataset or its metadata is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from seg_core.registry import Registrar

#: ``(name, description)``; the factory is ``seg_data.datasets.<name>:<name>``, the metadata builder
#: ``seg_data.datasets.<name>:<name>_metadata``.
_DATASETS: tuple[tuple[str, str], ...] = (
    ("cityscapes", "Cityscapes fine/coarse, 19 trainIds (or 7 / 34)"),
    ("ade20k", "ADE20K SceneParsing, 150 classes (0 ignored)"),
    ("voc", "PASCAL VOC 2012 segmentation, 21 classes"),
    ("sbd", "Semantic Boundaries Dataset (.mat), 21 VOC classes; extra [sbd]"),
    ("coco_stuff", "COCO-Stuff 164k, 171 classes"),
    ("bdd100k", "BDD100K 10k semantic segmentation, 19 classes"),
    ("mapillary", "Mapillary Vistas v1.2 / v2.0 (classes from config)"),
    ("lip", "Look Into Person, 20 classes"),
    ("folder", "images/ + masks/ folders paired by stem"),
    ("synthetic", "generated shapes on textures (demo and tests)"),
)


@hookimpl
def seg_register_datasets(registry: Registrar) -> None:
    """Register seg-data's datasets (lazy targets) with their metadata builders."""
    for name, description in _DATASETS:
        module = f"seg_data.datasets.{name}"
        registry.add(name, f"{module}:{name}", description=description, metadata=f"{module}:{name}_metadata")
