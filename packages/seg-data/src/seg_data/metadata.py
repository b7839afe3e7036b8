"""Dataset metadata: class names, colors, ``num_classes`` and ``ignore_index`` in one object.

The same :class:`DatasetMetadata` travels to the model (``num_classes``), the losses and metrics
(``ignore_index``) and the visualization (``colors``), so these values cannot drift apart.

Each dataset declares its metadata in its registry entry: ``metadata="package.module:builder"`` (a
function taking the dataset's class-changing options, or a :class:`DatasetMetadata`), next to its factory.
:func:`resolve_metadata` reads that entry; :func:`register_metadata` covers names that have no registry
entry. The label tables themselves live in the dataset modules (``seg_data.datasets.<name>``).
Nothing here imports torch.

Example:
    >>> from seg_data.metadata import resolve_metadata
    >>> meta = resolve_metadata("voc")
    >>> meta.num_classes, meta.ignore_index, meta.labels[1]
    (21, 255, 'aeroplane')
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from seg_core.errors import ConfigError, PluginError

__all__ = [
    "Color",
    "DatasetMetadata",
    "MetadataBuilder",
    "default_palette",
    "list_metadata",
    "register_metadata",
    "resolve_metadata",
]

Color = tuple[int, int, int]
#: A function of a dataset's class-changing options (``variant=``, ``keep_zero=``...) returning its metadata.
MetadataBuilder = Callable[..., "DatasetMetadata"]


def default_palette(n: int) -> list[Color]:
    """Return ``n`` distinct colors, the PASCAL VOC bit-interleaved palette (index 0 is black).

    Args:
        n: Number of colors.

    Returns:
        A list of ``(r, g, b)`` tuples; entry ``i`` is VOC's color for class ``i``.
    """
    colors: list[Color] = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        colors.append((r, g, b))
    return colors


@dataclass(frozen=True)
class DatasetMetadata:
    """What every consumer needs to know about a dataset's classes.

    Args:
        name: Dataset name (registry name or user-chosen).
        num_classes: Number of trained classes; labels are ``0 .. num_classes - 1``.
        labels: One name per class (defaults to ``"class_<i>"``).
        ignore_index: Mask value for pixels that are not trained or evaluated.
        colors: One ``(r, g, b)`` per class (defaults to :func:`default_palette`).

    Raises:
        ConfigError: ``num_classes`` < 1, wrong number of labels or colors, color values outside 0..255,
            or ``ignore_index`` inside ``[0, num_classes)``.

    Example:
        >>> DatasetMetadata("toy", 2, labels=["bg", "fg"]).colors
        ((0, 0, 0), (128, 0, 0))
    """

    name: str
    num_classes: int
    labels: Sequence[str] = field(default=())
    ignore_index: int = 255
    colors: Sequence[Color] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ConfigError(f"num_classes must be a positive int, got {self.num_classes!r}")
        labels = tuple(self.labels) or tuple(f"class_{i}" for i in range(self.num_classes))
        colors = tuple(tuple(int(v) for v in c) for c in self.colors) or tuple(default_palette(self.num_classes))
        if len(labels) != self.num_classes:
            raise ConfigError(
                f"metadata {self.name!r}: labels has {len(labels)} names but num_classes={self.num_classes}"
            )
        if len(colors) != self.num_classes:
            raise ConfigError(
                f"metadata {self.name!r}: colors has {len(colors)} entries but num_classes={self.num_classes}"
            )
        for c in colors:
            if len(c) != 3 or any(not 0 <= v <= 255 for v in c):
                raise ConfigError(f"metadata {self.name!r}: color {c!r} is not an (r, g, b) triple in 0..255")
        if 0 <= self.ignore_index < self.num_classes:
            raise ConfigError(
                f"metadata {self.name!r}: ignore_index={self.ignore_index} is a class index "
                f"(num_classes={self.num_classes}); use 255 or -100"
            )
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "colors", colors)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serializable dict (inverse of :meth:`from_dict`)."""
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "labels": list(self.labels),
            "ignore_index": self.ignore_index,
            "colors": [list(c) for c in self.colors],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, name: str | None = None) -> DatasetMetadata:
        """Build metadata from a dict such as a parsed json/toml file.

        ``num_classes`` may be omitted when ``labels`` is given.

        Raises:
            ConfigError: Not a dict, unknown keys, values of the wrong type (names the key) or inconsistent values.
        """
        if not isinstance(data, dict):
            raise ConfigError(
                f"metadata must be a mapping with keys num_classes, labels, colors, ignore_index; got "
                f"{type(data).__name__}"
            )
        allowed = {"name", "num_classes", "labels", "ignore_index", "colors"}
        extra = set(data) - allowed
        if extra:
            raise ConfigError(f"metadata has unknown keys {sorted(extra, key=str)}; allowed: {sorted(allowed)}")
        labels = data.get("labels", [])
        if not isinstance(labels, (list, tuple)) or not all(isinstance(v, str) for v in labels):
            raise ConfigError(f"metadata 'labels' must be a list of class names (strings), got {labels!r:.200}")
        colors = data.get("colors", [])
        if not isinstance(colors, (list, tuple)) or not all(
            isinstance(c, (list, tuple)) and len(c) == 3 and all(_is_int(v) for v in c) for c in colors
        ):
            raise ConfigError(f"metadata 'colors' must be a list of [r, g, b] int triples, got {colors!r:.200}")
        num_classes = data.get("num_classes", len(labels))
        ignore_index = data.get("ignore_index", 255)
        for key, value in (("num_classes", num_classes), ("ignore_index", ignore_index)):
            if not _is_int(value):
                raise ConfigError(f"metadata {key!r} must be an integer, got {value!r}")
        return cls(
            name=str(data.get("name", name or "custom")),
            num_classes=int(num_classes),
            labels=list(labels),
            ignore_index=int(ignore_index),
            colors=[(int(c[0]), int(c[1]), int(c[2])) for c in colors],
        )


def _is_int(value: object) -> bool:
    """An int (not a bool) or a float holding a whole number (json/toml readers give either)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


#: Metadata of names that have no registry entry declaring one (see :func:`register_metadata`).
_BUILDERS: dict[str, MetadataBuilder] = {}


def _as_builder(declared: object, name: str) -> MetadataBuilder:
    """Turn a registry entry's ``metadata`` info (``"module:attr"``, builder or metadata) into a builder."""
    if isinstance(declared, str):
        module_name, sep, attr = declared.partition(":")
        if not sep or not module_name or not attr:
            raise PluginError(
                f"dataset {name!r}: registry info metadata={declared!r} must look like 'package.module:builder'"
            )
        try:
            declared = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"dataset {name!r}: registry info metadata={declared!r} cannot be imported: {type(exc).__name__}: {exc}"
            ) from exc
    if isinstance(declared, DatasetMetadata):
        return _fixed(declared)
    if not callable(declared):
        raise PluginError(
            f"dataset {name!r}: registry info metadata={declared!r} must be a 'module:builder' string, a builder "
            "function or a DatasetMetadata"
        )
    return declared


def _fixed(metadata: DatasetMetadata) -> MetadataBuilder:
    def builder(**_: Any) -> DatasetMetadata:
        return metadata

    return builder


def _declared(name: str) -> object | None:
    """The ``metadata`` info of the registry entry ``name`` (None: no entry, or it declares none)."""
    from seg_core.plugins import get_registry

    registry = get_registry("datasets")
    if name not in registry:
        return None
    return registry.info(name).get("metadata")


def _builder(name: str) -> MetadataBuilder | None:
    declared = _declared(name)
    if declared is not None:
        return _as_builder(declared, name)
    return _BUILDERS.get(name.lower())


def register_metadata(name: str, metadata: DatasetMetadata | MetadataBuilder) -> None:
    """Make ``resolve_metadata(name)`` return ``metadata``, for a dataset without a registry entry declaring it.

    A registered dataset declares its metadata in its entry instead:
    ``registry.add(name, factory, metadata="my_package.data:my_metadata")`` (see :func:`resolve_metadata`).

    Args:
        name: Dataset name (case-insensitive).
        metadata: A metadata object, or a builder taking the dataset's options.

    Raises:
        ConfigError: ``name`` already has metadata (registered here or declared by its registry entry).

    Example:
        >>> register_metadata("my_toy_data", DatasetMetadata("my_toy_data", 2, labels=["bg", "fg"]))
        >>> resolve_metadata("my_toy_data").labels
        ('bg', 'fg')
    """
    key = name.lower()
    if key in _BUILDERS or _declared(name) is not None:
        raise ConfigError(f"metadata for {name!r} is already registered")
    _BUILDERS[key] = _fixed(metadata) if isinstance(metadata, DatasetMetadata) else metadata


def list_metadata() -> list[str]:
    """Return the names :func:`resolve_metadata` knows (registry entries declaring metadata, then registered)."""
    from seg_core.plugins import get_registry

    registry = get_registry("datasets")
    declared = {n.lower() for n in registry.names() if registry.info(n).get("metadata") is not None}
    return sorted(declared | set(_BUILDERS))


def resolve_metadata(name: str, **options: Any) -> DatasetMetadata:
    """Return the metadata of dataset ``name``.

    The builder is the one the dataset's registry entry declares (``metadata=`` info: a ``"module:attr"``
    string, a builder or a :class:`DatasetMetadata`); names without a registry entry use
    :func:`register_metadata`.

    Args:
        name: Registry name (``"cityscapes"``, ``"voc"``, ...).
        **options: Options that change the classes: ``variant`` (cityscapes: ``"train"``, ``"category"``,
            ``"full"``), ``keep_zero`` (ade20k), ``root``/``version`` (mapillary), ``root``/``num_classes``
            (folder), ``num_classes`` (synthetic). Other dataset options (``split``, ``seed``...) are accepted and
            ignored.

    Returns:
        The :class:`DatasetMetadata`.

    Raises:
        ConfigError: Unknown name (with the known names) or a bad option value.
        PluginError: The registry entry's ``metadata`` declaration cannot be imported or is not a builder.

    Example:
        >>> resolve_metadata("cityscapes").num_classes
        19
        >>> resolve_metadata("cityscapes", variant="category").labels[0]
        'flat'
    """
    builder = _builder(name)
    if builder is None:
        raise ConfigError(
            f"no metadata for dataset {name!r}: its registry entry declares none (metadata='module:builder') and "
            f"none was registered with register_metadata; known: {', '.join(list_metadata())}"
        )
    params = inspect.signature(builder).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return builder(**options)
    return builder(**{k: v for k, v in options.items() if k in params})
