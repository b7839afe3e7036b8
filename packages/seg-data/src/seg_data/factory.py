"""Build datasets by registry name: :func:`create_dataset` and :func:`list_datasets`.

A dataset is a factory registered in the ``datasets`` registry (seg-data's own in ``seg_data._plugin``,
others through the ``seg_register_datasets`` hook): ``(root, split, transforms, **options) -> dataset``. Its
signature is its declaration: a factory whose ``root`` has no default needs one, and an option it does not declare
is a :class:`~seg_core.errors.ConfigError` naming the option with close matches (as for the model factories).
Factories wrapped with :func:`dataset_factory` (every built-in one) accept the options of their signature plus
:class:`~seg_data.base.DatasetOptions` (``seed``, ``check``) and check them however they are called.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

if TYPE_CHECKING:
    from seg_data.base import SegmentationDataset, Transform

__all__ = ["check_dataset_options", "create_dataset", "dataset_factory", "list_datasets"]

P = ParamSpec("P")
R = TypeVar("R")


def _accepted(factory: Callable[..., Any]) -> tuple[list[str], bool] | None:
    """The keyword names ``factory`` declares and whether it takes ``**kwargs``; None when unreadable."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return None
    names = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n != "self"]
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def check_dataset_options(
    factory: Callable[..., Any], options: Mapping[str, Any], what: str, *, extra: tuple[str, ...] = ()
) -> None:
    """Reject keyword arguments ``factory`` does not declare, naming each with its close matches.

    Args:
        factory: The dataset factory.
        options: The keyword arguments it is about to get.
        what: Who is called, for the message (``"dataset 'voc'"``).
        extra: Names accepted through the factory's ``**options`` (:class:`~seg_data.base.DatasetOptions`); with
            none, a factory taking ``**kwargs`` accepts anything (it validates its options itself). Unused when the
            factory takes no ``**kwargs``.

    Raises:
        ConfigError: An unknown option (with close matches and the accepted names).

    Example:
        >>> def toy(root, split="train", transforms=None, *, size=8): ...
        >>> check_dataset_options(toy, {"sise": 4}, "dataset 'toy'")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        seg_core.errors.ConfigError: dataset 'toy' got unexpected argument(s) 'sise' (did you mean 'size'?); ...
    """
    from seg_core.errors import ConfigError
    from seg_core.suggest import unexpected_arguments

    found = _accepted(factory)
    if found is None:
        return
    names, variadic = found
    if variadic and not extra:
        return
    accepted = [*names, *(e for e in (extra if variadic else ()) if e not in names)]
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise ConfigError(unexpected_arguments(what, unknown, accepted))


def dataset_factory(factory: Callable[P, R]) -> Callable[P, R]:
    """Make a dataset factory taking ``**options: Unpack[DatasetOptions]`` reject unknown options.

    The wrapper keeps the factory's name, docstring and signature (``inspect.signature`` follows it); an option that
    is neither a parameter of the factory nor a :class:`~seg_data.base.DatasetOptions` key is a
    :class:`~seg_core.errors.ConfigError` naming it with close matches, called directly or by :func:`create_dataset`.

    Args:
        factory: The dataset factory.

    Returns:
        The checking wrapper.
    """

    @functools.wraps(factory)
    def checked(*args: P.args, **kwargs: P.kwargs) -> R:
        from seg_data.base import DatasetOptions

        keys = tuple(DatasetOptions.__annotations__)
        check_dataset_options(factory, kwargs, f"dataset {factory.__name__!r}", extra=keys)
        return factory(*args, **kwargs)

    return checked


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
        ConfigError: ``root`` missing for a dataset that needs one, an option the dataset does not accept (named,
            with close matches), or a bad option value.
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
    check_dataset_options(factory, kwargs, f"dataset {name!r}")
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
