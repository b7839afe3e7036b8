"""Create encoders and list components (encoders, architectures, datasets, losses) by their registry names.

The ``list_*`` functions import no torch; ``create_*`` import only the target's module.
Models are created by `seg_core.architectures.create_model`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from seg_core.errors import ConfigError, PluginError
from seg_core.plugins import get_registry
from seg_core.suggest import singular, unexpected_arguments

if TYPE_CHECKING:
    from seg_core.encoder import EncoderMixin

__all__ = [
    "check_encoder_name",
    "check_kwargs",
    "create_checked",
    "create_encoder",
    "list_architectures",
    "list_datasets",
    "list_encoders",
    "list_losses",
]


def check_kwargs(factory: Callable[..., Any], kwargs: dict[str, Any], what: str) -> None:
    """Reject keyword arguments ``factory`` does not accept, naming them and the accepted ones.

    Factories taking ``**kwargs`` pass through (they validate themselves).

    Raises:
        ConfigError: With close matches for each unknown argument.
    """
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    params = signature.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n != "self"]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise ConfigError(unexpected_arguments(what, unknown, accepted))


def check_encoder_name(value: Any, argument: str = "encoder_name") -> None:
    """Require a non-empty string for an encoder name.

    Args:
        value: The name as passed.
        argument: The argument's name in the message.

    Raises:
        ConfigError: ``value`` is None, empty or not a string (naming the argument and the fix).
    """
    if isinstance(value, str) and value.strip():
        return
    if isinstance(value, str):
        got = "a blank string" if value else "an empty string"
    else:
        got = "None" if value is None else f"{value!r} of type {type(value).__name__}"
    raise ConfigError(
        f"{argument} must be the name of a registered encoder, e.g. 'basic_cnn' (the default) or "
        f"'resnet34' (with seg-encoders-timm); got {got}. List them with seg_core.list_encoders() or "
        "`seg list encoders`"
    )


T = TypeVar("T")


def create_checked(kind: str, name: str, kwargs: dict[str, Any], expected: type[T], requirement: str) -> T:
    """Build ``name`` of ``kind``: check ``kwargs`` against its factory, call it and check what it built.

    Args:
        kind: Registry kind (``"encoders"``...).
        name: Registered name.
        kwargs: The factory's keyword arguments.
        expected: The type the factory must return.
        requirement: The end of the error message when it does not (``"which does not implement ..."``).

    Returns:
        What the factory built.

    Raises:
        UnknownNameError: Unknown name.
        ConfigError: Arguments the factory does not accept.
        PluginError: The factory built something else.
    """
    reg = get_registry(kind)
    factory = reg.get(name)
    what = f"{singular(kind)} {name!r}"
    check_kwargs(factory, kwargs, what)
    built = factory(**kwargs)
    if not isinstance(built, expected):
        raise PluginError(f"{what} ({reg.source(name).describe()}) built a {type(built).__name__}, {requirement}")
    return built


def create_encoder(name: str, /, **kwargs: Any) -> EncoderMixin:
    """Build an encoder by name.

    Args:
        name: Registered encoder (see `list_encoders`).
        **kwargs: ``in_channels``, ``depth``, ``weights``, ``output_stride`` and the
            encoder's own options.

    Returns:
        An ``nn.Module`` implementing `EncoderMixin`, with ``registry_name`` and
        ``registry_source`` set.

    Raises:
        UnknownNameError: Unknown encoder.
        ConfigError: ``name`` is not a non-empty string, or arguments the encoder does not accept.
        PluginError: The registered factory did not build an `EncoderMixin`.

    Example:
        >>> import seg_core
        >>> encoder = seg_core.create_encoder("basic_cnn", depth=4)  # doctest: +SKIP
    """
    from seg_core.encoder import EncoderMixin

    check_encoder_name(name)
    encoder = create_checked("encoders", name, kwargs, EncoderMixin, "which does not implement seg_core.EncoderMixin")
    encoder.registry_name = name
    encoder.registry_source = get_registry("encoders").source(name)
    encoder.validate_encoder()
    return encoder


def list_encoders(pattern: str | None = None, *, compatible_with: str | None = None) -> list[str]:
    """List encoder names, optionally filtered by an fnmatch pattern and by an architecture.

    Args:
        pattern: Shell-style wildcard (``"resnet*"``), case-insensitive.
        compatible_with: An architecture name (``"fpn"``): keep only encoders whose declared
            capabilities (registry info: ``spatial_dims``, ``out_channels``, ``reductions``...)
            do not rule that architecture out. Architectures declared with an
            `seg_core.spec.ArchitectureSpec` are decided by its ``requires`` (the same rules
            their models check when built); an architecture may instead register a
            ``compatibility="module:function"`` callable (``function(arch_name, encoder_info) -> bool``);
            without either, only ``spatial_dims`` are compared. Encoders that declare nothing
            are kept: their model constructor still checks them.

    Returns:
        Sorted names (directly registered first, then provider names).

    Raises:
        UnknownNameError: ``compatible_with`` is not a registered architecture.

    Example:
        >>> import seg_core
        >>> "basic_cnn" in seg_core.list_encoders(compatible_with="fpn")  # doctest: +SKIP
        True
    """
    registry = get_registry("encoders")
    names = registry.names(pattern)
    if compatible_with is None:
        return names
    accepts = _compatibility_filter(compatible_with)
    return [name for name in names if accepts(registry.info(name))]


def _compatibility_filter(arch: str) -> Callable[[dict[str, Any]], bool]:
    """Return ``encoder_info -> bool`` for the architecture ``arch`` (from its registry info)."""
    import importlib

    arch_info = get_registry("architectures").info(arch)
    arch_name = str(arch_info["name"])
    target = arch_info.get("compatibility")
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        check: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            check = getattr(check, part)
        return lambda info: bool(check(arch_name, info))
    if callable(target):
        return lambda info: bool(target(arch_name, info))
    if isinstance(arch_info.get("requires"), dict):
        from seg_core.spec import Requirements, is_compatible_info

        requires = Requirements.from_info(arch_info["requires"])
        return lambda info: is_compatible_info(requires, info)
    arch_dims = arch_info.get("spatial_dims")

    def _dims_only(info: dict[str, Any]) -> bool:
        enc_dims = info.get("spatial_dims")
        if arch_dims is None or enc_dims is None:
            return True
        return bool(set(_as_tuple(arch_dims)) & set(_as_tuple(enc_dims)))

    return _dims_only


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (list, tuple, set, frozenset)) else (value,)


def list_architectures(pattern: str | None = None) -> list[str]:
    """List architecture names, optionally filtered by an fnmatch pattern."""
    return get_registry("architectures").names(pattern)


def list_datasets(pattern: str | None = None) -> list[str]:
    """List dataset names, optionally filtered by an fnmatch pattern."""
    return get_registry("datasets").names(pattern)


def list_losses(pattern: str | None = None) -> list[str]:
    """List loss names, optionally filtered by an fnmatch pattern."""
    return get_registry("losses").names(pattern)
