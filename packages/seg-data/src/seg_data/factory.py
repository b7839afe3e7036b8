"""Build datasets by registry name: :func:`create_dataset` and :func:`list_datasets`.

A dataset is a factory registered in the ``datasets`` registry (seg-data's own in ``seg_data._plugin``,
others through the ``seg_register_datasets`` hook): ``(root, split, transforms, **options) -> dataset``. Its
signature is its declaration: a factory whose ``root`` has no default needs one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from seg_data.base import SegmentationDataset, Transform

__all__ = ["create_dataset", "list_datasets"]


def _requires_root(factory: Callable[..., Any]) -> bool:
    """Return True when ``factory`` declares a ``root`` parameter without default.

    Args:
        factory: A registered dataset factory (function or class).

    Returns:
        Whether ``create_dataset`` must be given ``root=``; False when the signature cannot be read (the
        factory then reports a missing root itself).

    Example:
        >>> def files(root, split="train", transforms=None): ...
        >>> def generated(root=None, split="train", transforms=None): ...
        >>> _requires_root(files), _requires_root(generated)
        (True, False)
    """
    try:
        param = inspect.signature(factory).parameters.get("root")
    except (TypeError, ValueError):
        return False
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return param is not None and param.default is inspect.Parameter.empty and param.kind not in variadic


def create_dataset(
    name: str,
    root: str | Path | None = None,
    split: str | None = None,
    transforms: Transform | None = None,
    **options: Any,
) -> SegmentationDataset:
    """Build the dataset registered as ``name``.

    Args:
        name: Registry name (``cityscapes``, ``ade20k``, ``voc``, ``sbd``, ``coco_stuff``, ``bdd100k``,
            ``mapillary``, ``lip``, ``folder``, ``synthetic`` or a plugin's).
        root: Dataset root; required when the dataset's factory declares ``root`` without default (every
            file-based dataset; not ``synthetic``).
        split: Split name; None uses the dataset's default.
        transforms: ``(image, mask) -> (image, mask)`` callable (see :mod:`seg_data.transforms`); transforms
            whose ``ignore_index`` is unset use the dataset's ``metadata.ignore_index``.
        **options: Dataset options (``variant``, ``keep_zero``, ``version``, ``seed``, ``check``...).

    Returns:
        A map-style dataset of ``(image float (C, H, W), mask int64 (H, W))`` with a ``metadata`` attribute:
        a :class:`~seg_data.base.SegmentationDataset` for every built-in dataset (plugin factories are expected
        to return one too).

    Raises:
        UnknownNameError: No such dataset (with close matches).
        ConfigError: ``root`` missing for a dataset that needs one, or a bad option.
        LayoutError: The root is not laid out as expected (the message shows the expected tree).

    Example:
        >>> ds = create_dataset("synthetic", num_samples=2, size=32, num_classes=3)
        >>> ds.metadata.num_classes
        3
    """
    from seg_core.errors import ConfigError
    from seg_core.plugins import get_registry

    factory = get_registry("datasets").get(name)
    if root is None and _requires_root(factory):
        raise ConfigError(f"create_dataset({name!r}): root=... is required (the folder holding the dataset)")
    kwargs: dict[str, Any] = {"root": root, "transforms": transforms, **options}
    if split is not None:
        kwargs["split"] = split
    return cast("SegmentationDataset", factory(**kwargs))


def list_datasets(pattern: str | None = None) -> list[str]:
    """Return the registered dataset names, sorted.

    Args:
        pattern: Optional fnmatch pattern (``"c*"``), case-insensitive.

    Returns:
        The names.

    Example:
        >>> "voc" in list_datasets()
        True
    """
    from seg_core.plugins import get_registry

    return get_registry("datasets").names(pattern)
