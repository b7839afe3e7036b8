"""``create_dataset`` and ``list_datasets``: build datasets by registry name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["create_dataset", "list_datasets"]


def create_dataset(
    name: str, root: str | Path | None = None, split: str | None = None, transforms: Any = None, **options: Any
) -> Any:
    """Build the dataset registered as ``name``.

    Args:
        name: Registry name (``cityscapes``, ``ade20k``, ``voc``, ``sbd``, ``coco_stuff``, ``bdd100k``,
            ``mapillary``, ``lip``, ``folder``, ``synthetic`` or a plugin's).
        root: Dataset root (not needed for ``synthetic``).
        split: Split name; None uses the dataset's default.
        transforms: ``(image, mask) -> (image, mask)`` callable (see :mod:`seg_data.transforms`).
        **options: Dataset options (``variant``, ``keep_zero``, ``version``, ``seed``...).

    Returns:
        A map-style dataset of ``(image float (C, H, W), mask int64 (H, W))`` with a ``metadata`` attribute.

    Raises:
        UnknownNameError: No such dataset (with close matches).
        ConfigError: ``root`` missing for a file-based dataset or a bad option.
        LayoutError: The root is not laid out as expected (the message shows the expected tree).

    Example:
        >>> ds = create_dataset("synthetic", num_samples=2, size=32, num_classes=3)
        >>> ds.metadata.num_classes
        3
    """
    from seg_core.errors import ConfigError
    from seg_core.plugins import get_registry

    factory = get_registry("datasets").get(name)
    if root is None and name.lower() != "synthetic":
        raise ConfigError(f"create_dataset({name!r}): root=... is required (the folder holding the dataset)")
    kwargs: dict[str, Any] = {"root": root, "transforms": transforms, **options}
    if split is not None:
        kwargs["split"] = split
    return factory(**kwargs)


def list_datasets(pattern: str | None = None) -> list[str]:
    """Return the registered dataset names (optionally filtered by an fnmatch pattern)."""
    from seg_core.plugins import get_registry

    return get_registry("datasets").names(pattern)
