"""Typed registries: one per kind of component (encoders, architectures, ...).

A registry maps names to *targets*: a callable (class or factory) or a lazy
``"module:attr"`` string that is imported only when the name is created. Big
families of names (every timm model) register a `Provider` that lists and
creates names on demand instead of thousands of entries.

Nothing here imports torch: names can be listed without paying for it.

Example:
    >>> from seg_core import get_registry
    >>> encoders = get_registry("encoders")
    >>> encoders.add("my_encoder", "my_package.encoders:MyEncoder", description="mine")
    >>> "my_encoder" in encoders
    True
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from seg_core.errors import ConfigError, PluginError, SegPluginWarning, UnknownNameError
from seg_core.suggest import close_matches, singular

__all__ = [
    "BUILTIN_KINDS",
    "Entry",
    "Provider",
    "Registrar",
    "Registries",
    "Registry",
    "Source",
    "commit_all",
    "hook_name",
]

#: The kinds every installation has; each is filled by the hook ``seg_register_<kind>``
#: (`hook_name`). Plugins may add more (see ``Registries.add_kind``).
BUILTIN_KINDS: tuple[str, ...] = (
    "encoders",
    "architectures",
    "datasets",
    "losses",
    "optimizers",
    "schedulers",
    "loggers",
)


def hook_name(kind: str) -> str:
    """The registration hook of a built-in kind (``"encoders"`` -> ``"seg_register_encoders"``)."""
    return f"seg_register_{kind}"


@dataclass(frozen=True)
class Source:
    """Who registered a name.

    Attributes:
        plugin: Entry-point name of the plugin, or ``"<runtime>"`` for user code.
        distribution: Distribution that ships the plugin (None for user code).
        version: Version of that distribution.
        builtin: True for seg's own (first-party) distributions.
    """

    plugin: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False

    def describe(self) -> str:
        """Return ``"distribution version (plugin name)"`` for messages."""
        if self.distribution is None:
            return "user code" if self.plugin == "<runtime>" else self.plugin
        return f"{self.distribution} {self.version} (plugin {self.plugin!r})"


RUNTIME = Source(plugin="<runtime>")


@dataclass
class Entry:
    """One registered name.

    Attributes:
        name: The name as registered (lookups ignore case).
        kind: The registry kind.
        target: A callable, or a ``"module:attr"`` string resolved on first use.
        source: Who registered it.
        info: Free-form metadata given at registration (description, capabilities, ...).
    """

    name: str
    kind: str
    target: Callable[..., Any] | str
    source: Source
    info: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Callable[..., Any]:
        """Return the target, importing it if it was registered as a string.

        Raises:
            PluginError: The ``"module:attr"`` target cannot be imported.
        """
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"{singular(self.kind)} {self.name!r} registered by {self.source.describe()} points to "
                f"{self.target!r}, which cannot be imported: {type(exc).__name__}: {exc}"
            ) from exc
        if not callable(obj):
            raise PluginError(f"{singular(self.kind)} {self.name!r}: {self.target!r} is not callable")
        self.target = obj
        return obj

    @property
    def target_path(self) -> str:
        """The target as ``"module:qualname"`` (without importing string targets)."""
        if isinstance(self.target, str):
            return self.target
        return f"{self.target.__module__}:{getattr(self.target, '__qualname__', repr(self.target))}"


@runtime_checkable
class Provider(Protocol):
    """A family of names created on demand (e.g. every timm backbone).

    Implementations must answer ``names`` and ``has`` cheaply; heavy imports
    belong in ``create``. A provider may also define ``examples``: a few small,
    representative names that conformance tests build (seg's own tests run
    ``seg_core.testing.check_encoder`` on them).
    """

    name: str

    def names(self, pattern: str | None = None) -> list[str]:
        """Return the provided names matching the fnmatch ``pattern`` (all if None)."""
        ...

    def has(self, name: str) -> bool:
        """Return True if ``name`` is one of the provided names."""
        ...

    def create(self, name: str, /, **kwargs: Any) -> Any:
        """Build the component called ``name``."""
        ...

    def info(self, name: str) -> dict[str, Any]:
        """Return metadata about ``name``."""
        ...


@dataclass
class _ProviderSlot:
    provider: Provider
    source: Source


_State = tuple[dict[str, Entry], dict[str, str], list[_ProviderSlot]]


def _key(name: str) -> str:
    return name.lower()


class Registry:
    """Names of one kind of component and how to build them.

    Args:
        kind: The kind (``"encoders"``, ``"losses"``...).
        on_conflict: Called as ``on_conflict(message)`` when a plugin loses a
            name conflict; the plugin manager uses it to warn or, in strict
            mode, raise.
        missing_hint: Called as ``missing_hint(kind, name)`` for an unknown name; returns
            a sentence saying which package provides it and how to get it, or None.
    """

    def __init__(
        self,
        kind: str,
        on_conflict: Callable[[str], None] | None = None,
        missing_hint: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}
        self._providers: list[_ProviderSlot] = []
        self._on_conflict = on_conflict or _warn_conflict
        self._missing_hint = missing_hint

    # -- writing -----------------------------------------------------------------
    def add(
        self,
        name: str,
        target: Callable[..., Any] | str,
        *,
        override: bool = False,
        **info: Any,
    ) -> None:
        """Register ``name`` from user code.

        Args:
            name: The name; lookups ignore case.
            target: A class/factory, or a lazy ``"module:attr"`` string.
            override: Replace an existing name deliberately.
            **info: Metadata returned by `info` (description, capabilities...).

        Raises:
            ConfigError: The name exists and ``override`` is False, or the target is invalid.
        """
        self._commit(_make_entry(self.kind, name, target, RUNTIME, info), override=override)

    def add_provider(self, provider: Provider) -> None:
        """Register a provider (a family of names) from user code."""
        self._commit_provider(provider, RUNTIME)

    def remove(self, name: str) -> None:
        """Remove a name registered at run time (tests, notebooks).

        Raises:
            UnknownNameError: No such name.
        """
        entry = self.entry(name)
        del self._entries[_key(entry.name)]
        self._aliases = {a: n for a, n in self._aliases.items() if n != _key(entry.name)}

    def _commit(self, entry: Entry, *, override: bool) -> None:
        key = _key(entry.name)
        existing = self._entries.get(key) or self._entries.get(self._aliases.get(key, ""))
        if existing is None:
            self._entries[key] = entry
            self._commit_aliases(entry)
            return
        what = f"{singular(self.kind)} {entry.name!r}"
        if existing.source.builtin and entry.source.distribution is not None and not entry.source.builtin:
            self._on_conflict(
                f"{entry.source.describe()} tried to register {what}, which is built into "
                f"{existing.source.describe()}; built-in names are protected, the plugin's "
                "registration was ignored. Register it under another name."
            )
            return
        if override:
            self._entries[key] = entry
            self._commit_aliases(entry)
            return
        if entry.source == RUNTIME:
            raise ConfigError(
                f"{what} is already registered by {existing.source.describe()}; "
                "pass override=True to replace it deliberately"
            )
        if entry.source == existing.source:
            raise PluginError(f"{entry.source.describe()} registers {what} twice")
        self._on_conflict(
            f"{what} is registered by both {existing.source.describe()} and "
            f"{entry.source.describe()}; using the first ({existing.source.distribution}, "
            "first in sorted distribution order). The plugin that means to replace it "
            "must pass override=True, or disable one with SEG_DISABLED_PLUGINS."
        )

    def _snapshot(self) -> _State:
        return dict(self._entries), dict(self._aliases), list(self._providers)

    def _restore(self, state: _State) -> None:
        entries, aliases, providers = state
        self._entries, self._aliases, self._providers = dict(entries), dict(aliases), list(providers)

    def _commit_aliases(self, entry: Entry) -> None:
        for alias in entry.info.get("aliases", ()):
            key = _key(alias)
            taken = self._entries.get(key) or self._entries.get(self._aliases.get(key, ""))
            if taken is not None and taken is not entry:
                self._on_conflict(
                    f"{singular(self.kind)} alias {alias!r} of {entry.name!r} ({entry.source.describe()}) is already "
                    f"the name of {taken.name!r} ({taken.source.describe()}); the alias was ignored"
                )
                continue
            self._aliases[key] = _key(entry.name)

    def _commit_provider(self, provider: Provider, source: Source) -> None:
        if not isinstance(provider, Provider):
            raise ConfigError(
                f"{provider!r} is not a Provider: it needs a `name` and the methods names(), has(), create() and info()"
            )
        self._providers.append(_ProviderSlot(provider, source))

    # -- reading -----------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry(kind={self.kind!r}, entries={len(self._entries)}, providers={len(self._providers)})"

    def _find(self, name: str) -> Entry | _ProviderSlot | None:
        key = _key(name)
        entry = self._entries.get(key) or self._entries.get(self._aliases.get(key, ""))
        if entry is not None:
            return entry
        for slot in self._providers:
            if slot.provider.has(name):
                return slot
        return None

    def entries(self) -> list[Entry]:
        """Return the directly registered entries (not provider names), sorted by name.

        Example:
            >>> from seg_core import get_registry
            >>> "basic_cnn" in [e.name for e in get_registry("encoders").entries()]
            True
        """
        return sorted(self._entries.values(), key=lambda e: e.name)

    def providers(self) -> list[tuple[Provider, Source]]:
        """Return the registered providers with the source that registered each, in lookup order."""
        return [(slot.provider, slot.source) for slot in self._providers]

    def entry(self, name: str) -> Entry:
        """Return the `Entry` of a directly registered name or alias.

        Raises:
            UnknownNameError: Not registered directly (provider names have no Entry).
        """
        found = self._find(name)
        if not isinstance(found, Entry):
            raise self._unknown(name)
        return found

    def name_of(self, target: object) -> str | None:
        """Return the name under which ``target`` (a class or factory) is registered, or None.

        Lazy ``"module:attr"`` targets are imported only when their path names ``target``.

        Example:
            >>> from seg_core import get_registry
            >>> from seg_core.basic_encoder import BasicCNNEncoder  # doctest: +SKIP
            >>> get_registry("encoders").name_of(BasicCNNEncoder)  # doctest: +SKIP
            'basic_cnn'
        """
        path = f"{getattr(target, '__module__', '')}:{getattr(target, '__qualname__', '')}"
        for entry in self.entries():
            named = entry.target is target or (isinstance(entry.target, str) and entry.target == path)
            if named and entry.load() is target:
                return entry.name
        return None

    def get(self, name: str) -> Callable[..., Any]:
        """Return the callable that builds ``name`` (imports lazy targets).

        Raises:
            UnknownNameError: With close matches and an install hint.
        """
        found = self._find(name)
        if found is None:
            raise self._unknown(name)
        if isinstance(found, Entry):
            return found.load()
        return functools.partial(found.provider.create, name)

    def create(self, name: str, /, **kwargs: Any) -> Any:
        """Build the component ``name`` with ``kwargs``.

        Example:
            >>> from seg_core import get_registry
            >>> enc = get_registry("encoders").create("basic_cnn", depth=3)  # doctest: +SKIP
        """
        return self.get(name)(**kwargs)

    def source(self, name: str) -> Source:
        """Return who registered ``name`` (entry or provider)."""
        found = self._find(name)
        if found is None:
            raise self._unknown(name)
        return found.source

    def names(self, pattern: str | None = None) -> list[str]:
        """List registered names, sorted, optionally filtered by an fnmatch pattern.

        Args:
            pattern: Shell-style wildcard such as ``"resnet*"`` (case-insensitive).

        Returns:
            Directly registered names followed by provider names, each sorted.
        """
        own = sorted(e.name for e in self._entries.values())
        if pattern is not None:
            low = pattern.lower()
            own = [n for n in own if fnmatch.fnmatchcase(n.lower(), low)]
        seen = {n.lower() for n in own}
        extra: list[str] = []
        for slot in self._providers:
            for provided in slot.provider.names(pattern):
                if provided.lower() not in seen:
                    seen.add(provided.lower())
                    extra.append(provided)
        return own + sorted(extra)

    def info(self, name: str) -> dict[str, Any]:
        """Return metadata about ``name``: registered info plus its source and target.

        Raises:
            UnknownNameError: No such name.
        """
        found = self._find(name)
        if found is None:
            raise self._unknown(name)
        src = found.source
        base: dict[str, Any] = {
            "kind": self.kind,
            "distribution": src.distribution,
            "version": src.version,
            "plugin": src.plugin,
            "builtin": src.builtin,
        }
        if isinstance(found, Entry):
            return {**base, "name": found.name, "target": found.target_path, **found.info}
        return {**base, "name": name, "provider": found.provider.name, **found.provider.info(name)}

    def _unknown(self, name: str) -> UnknownNameError:
        candidates = [e.name for e in self._entries.values()] + [*self._aliases]
        for slot in self._providers:
            try:
                candidates.extend(slot.provider.names(f"{name[:3]}*"))
            except Exception:  # a provider's listing must not hide the real error
                continue
        hint = self._missing_hint(self.kind, name) if self._missing_hint else None
        return UnknownNameError(self.kind, name, close_matches(name, candidates), hint)


def _warn_conflict(message: str) -> None:
    warnings.warn(message, SegPluginWarning, stacklevel=3)


def _make_entry(kind: str, name: str, target: Callable[..., Any] | str, source: Source, info: dict[str, Any]) -> Entry:
    if not isinstance(name, str) or not name or name != name.strip():
        raise ConfigError(f"{singular(kind)} names must be non-empty strings without spaces around, got {name!r}")
    if isinstance(target, str):
        module_name, sep, attr = target.partition(":")
        if not sep or not module_name or not attr:
            raise ConfigError(f"lazy target for {name!r} must look like 'package.module:attr', got {target!r}")
    elif not callable(target):
        raise ConfigError(f"target for {name!r} must be callable or a 'module:attr' string, got {target!r}")
    return Entry(name=name, kind=kind, target=target, source=source, info=dict(info))


class Registrar:
    """What a ``seg_register_*`` hook receives: a registry bound to one plugin.

    Registrations are staged and committed only when the hook returns, so a
    plugin that fails half-way leaves no partial names behind.
    """

    def __init__(self, registry: Registry, source: Source) -> None:
        self._registry = registry
        self._source = source
        self._staged: list[tuple[str, Any, bool]] = []

    @property
    def kind(self) -> str:
        """The registry kind this registrar writes to."""
        return self._registry.kind

    def add(
        self,
        name: str,
        target: Callable[..., Any] | str,
        *,
        override: bool = False,
        **info: Any,
    ) -> None:
        """Register ``name`` (see `Registry.add`)."""
        self._staged.append(("entry", _make_entry(self.kind, name, target, self._source, info), override))

    def add_provider(self, provider: Provider) -> None:
        """Register a provider of many names (see `Provider`)."""
        self._staged.append(("provider", provider, False))

    def names(self, pattern: str | None = None) -> list[str]:
        """Names already committed by earlier plugins."""
        return self._registry.names(pattern)

    def __contains__(self, name: object) -> bool:
        return name in self._registry

    def commit(self) -> None:
        """Commit the staged registrations (the plugin manager calls this when the hook returned).

        All or nothing: if one registration fails (a name registered twice, an invalid
        provider, a conflict in strict mode), the registry is left as it was and the error
        propagates. Committing twice is harmless: the staged list is emptied.
        """
        commit_all([self])

    def _apply(self) -> None:
        for what, obj, override in self._staged:
            if what == "entry":
                self._registry._commit(obj, override=override)
            else:
                self._registry._commit_provider(obj, self._source)


def commit_all(registrars: Iterable[Registrar]) -> None:
    """Commit several registrars as one transaction (one plugin's registrations of every kind).

    Either every staged registration is kept, or, when one raises, every registry
    touched is restored to what it held before and the error propagates.

    Args:
        registrars: The registrars to commit, in order.
    """
    registrars = list(registrars)
    registries = list({id(r._registry): r._registry for r in registrars}.values())
    saved = [registry._snapshot() for registry in registries]
    try:
        for registrar in registrars:
            registrar._apply()
    except BaseException:
        for registry, state in zip(registries, saved):
            registry._restore(state)
        raise
    for registrar in registrars:
        registrar._staged.clear()


class Registries:
    """All registries, by kind. Plugins may add kinds with `add_kind`."""

    def __init__(
        self,
        on_conflict: Callable[[str], None] | None = None,
        missing_hint: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self._on_conflict = on_conflict
        self._missing_hint = missing_hint
        self._by_kind: dict[str, Registry] = {}
        for kind in BUILTIN_KINDS:
            self.add_kind(kind)

    def add_kind(self, kind: str) -> Registry:
        """Create the registry for a new kind (idempotent) and return it."""
        if kind not in self._by_kind:
            self._by_kind[kind] = Registry(kind, self._on_conflict, self._missing_hint)
        return self._by_kind[kind]

    def __getitem__(self, kind: str) -> Registry:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise UnknownNameError("registry kinds", kind, close_matches(kind, list(self._by_kind))) from None

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind

    def kinds(self) -> list[str]:
        """Return the known kinds, built-in ones first."""
        return list(self._by_kind)

    def _keep_kinds(self, kinds: Iterable[str]) -> None:
        """Forget the kinds not in ``kinds`` (those added by a plugin that then failed)."""
        keep = set(kinds)
        self._by_kind = {kind: registry for kind, registry in self._by_kind.items() if kind in keep}
