"""Plugin discovery: entry points say what exists, pluggy says what happens.

Plugins are modules listed under the entry-point group ``seg_core.plugins``.
They are discovered on the first registry access, loaded in a deterministic
order (seg's own distributions first, then third parties sorted by
distribution name) and asked to register their names through the hooks in
`seg_core.hookspecs`.

Environment variables:

* ``SEG_DISABLED_PLUGINS=a,b``: skip plugins by entry-point or distribution name.
* ``SEG_STRICT_PLUGINS=1``: a broken plugin or a name conflict raises
  `PluginError` instead of a warning.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from seg_core import hookspecs
from seg_core.cli_commands import Command, CommandRegistrar
from seg_core.errors import PluginError, SegPluginWarning
from seg_core.registry import BUILTIN_KINDS, Registrar, Registries, Registry, Source, hook_name
from seg_core.suggest import install_hint

__all__ = [
    "ENTRY_POINT_GROUP",
    "FIRST_PARTY",
    "PluginInfo",
    "PluginManager",
    "get_plugin_manager",
]

ENTRY_POINT_GROUP = "seg_core.plugins"

#: seg's own distributions, in dependency order. Their names are built-in (protected).
FIRST_PARTY: tuple[str, ...] = (
    "seg-core",
    "seg-encoders-timm",
    "seg-decoders",
    "seg-data",
    "seg-train",
    "seg-3d",
)


def _normalize(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _disabled_names() -> set[str]:
    raw = os.environ.get("SEG_DISABLED_PLUGINS", "")
    return {_normalize(part.strip()) for part in raw.split(",") if part.strip()}


@dataclass
class PluginInfo:
    """What is known about one plugin (as shown by ``seg plugins``).

    Attributes:
        name: Entry-point name.
        distribution: Distribution that declares it.
        version: Distribution version.
        module: The hook module (``"package.module"``).
        status: ``"loaded"``, ``"failed"`` or ``"disabled"``.
        error: The error for a failed plugin.
        builtin: True for seg's own distributions.
    """

    name: str
    distribution: str
    version: str
    module: str
    status: str = "pending"
    error: str | None = None
    builtin: bool = False

    @property
    def source(self) -> Source:
        """The registry `Source` for this plugin."""
        return Source(self.name, self.distribution, self.version, self.builtin)


class PluginManager:
    """One typed facade over pluggy's plugin manager and the registries.

    Args:
        group: Entry-point group to discover.
        strict: Raise on broken plugins and conflicts (default: ``SEG_STRICT_PLUGINS``).
    """

    def __init__(self, group: str = ENTRY_POINT_GROUP, *, strict: bool | None = None) -> None:
        self.group = group
        self.strict = _env_flag("SEG_STRICT_PLUGINS") if strict is None else strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registries = Registries(on_conflict=self._conflict, missing_hint=self._install_hint)
        self.commands = CommandRegistrar()
        self._plugins: list[PluginInfo] = []
        self._loaded = False
        self._lock = threading.RLock()

    # -- reporting -----------------------------------------------------------
    def _conflict(self, message: str) -> None:
        if self.strict:
            raise PluginError(message)
        warnings.warn(message, SegPluginWarning, stacklevel=4)

    def _broken(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        info.status = "failed"
        info.error = f"{type(exc).__name__}: {exc}"
        head = f"seg plugin {info.name!r} from {info.distribution} {info.version} failed while {stage}"
        remedy = f"Disable it with SEG_DISABLED_PLUGINS={info.name} (or `pip uninstall {info.distribution}`)"
        if self.strict:
            raise PluginError(f"{head}: {info.error}. {remedy}; SEG_STRICT_PLUGINS=1 makes this an error.") from exc
        message = f"{head} and was skipped: {info.error}. {remedy}; set SEG_STRICT_PLUGINS=1 to make this an error."
        warnings.warn(message, SegPluginWarning, stacklevel=4)

    # -- discovery -------------------------------------------------------------
    def discover(self) -> list[PluginInfo]:
        """Read the entry points (metadata only; nothing is imported).

        Returns:
            One record per plugin in load order: first-party distributions in
            dependency order, then third parties sorted by distribution and name.
        """
        seen: set[tuple[str, str]] = set()
        found: list[PluginInfo] = []
        for ep in metadata.entry_points(group=self.group):
            dist = ep.dist
            dist_name = _normalize(dist.metadata["Name"]) if dist is not None else "<unknown>"
            version = dist.version if dist is not None else "?"
            if (dist_name, ep.name) in seen:  # the same distribution seen twice on sys.path
                continue
            seen.add((dist_name, ep.name))
            found.append(
                PluginInfo(
                    name=ep.name,
                    distribution=dist_name,
                    version=version,
                    module=ep.value,
                    builtin=dist_name in FIRST_PARTY,
                )
            )

        def order(info: PluginInfo) -> tuple[int, int, str, str]:
            rank = FIRST_PARTY.index(info.distribution) if info.builtin else len(FIRST_PARTY)
            return (0 if info.builtin else 1, rank, info.distribution, info.name)

        return sorted(found, key=order)

    def load(self) -> None:
        """Discover, import and register all plugins once (thread-safe, idempotent)."""
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            self._loaded = True  # set first: a plugin that reads a registry must not recurse
            disabled = _disabled_names()
            for info in self.discover():
                self._plugins.append(info)
                if _normalize(info.name) in disabled or info.distribution in disabled:
                    info.status = "disabled"
                    self.pm.set_blocked(info.name)
                    continue
                self._load_one(info)
            self._register_all()

    def _load_one(self, info: PluginInfo) -> None:
        ep = metadata.EntryPoint(name=info.name, value=info.module, group=self.group)
        try:
            module = ep.load()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._broken(info, "importing", exc)
            return
        try:
            self.pm.register(module, name=info.name)
            self.pm.check_pending()
            self._call(module, "seg_add_hookspecs", pluginmanager=self.pm)
        except Exception as exc:
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            self._broken(info, "registering its hooks", exc)
            return
        info.status = "loaded"

    def _call(self, module: ModuleType | object, hook: str, **kwargs: Any) -> None:
        """Call one plugin's implementation of ``hook`` through pluggy.

        pluggy passes each implementation only the arguments it names, so an
        implementation may take fewer arguments than its specification.
        """
        others = [plugin for plugin in self.pm.get_plugins() if plugin is not module]
        self.pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)

    def _register_all(self) -> None:
        loaded = [(info, self.pm.get_plugin(info.name)) for info in self._plugins if info.status == "loaded"]
        # New kinds first, so every plugin can register into them.
        for info, module in loaded:
            self._guard(
                info,
                "adding registry kinds",
                lambda module=module: self._call(module, "seg_register", registries=self.registries),
            )
        for info, module in loaded:
            if info.status != "loaded":
                continue
            registrars: list[Registrar] = []
            commands = CommandRegistrar(plugin=f"{info.distribution} ({info.name})")

            def run(
                info: PluginInfo = info,
                module: Any = module,
                registrars: list[Registrar] = registrars,
                commands: CommandRegistrar = commands,
            ) -> None:
                for kind in self.registries.kinds():
                    reg = Registrar(self.registries[kind], info.source)
                    registrars.append(reg)
                    if kind in BUILTIN_KINDS:
                        self._call(module, hook_name(kind), registry=reg)
                    self._call(module, "seg_register_kind", kind=kind, registry=reg)
                self._call(module, "seg_cli_commands", commands=commands)

            if not self._guard(info, "registering names", run):
                continue
            for reg in registrars:
                reg.commit()
            for name, command in commands.commands.items():
                if name in self.commands.commands:
                    self._conflict(
                        f"seg subcommand {name!r} is defined by both {self.commands.commands[name].plugin} "
                        f"and {command.plugin}; using the first"
                    )
                    continue
                self.commands.commands[name] = command

    def _guard(self, info: PluginInfo, stage: str, fn: Any) -> bool:
        try:
            fn()
        except PluginError:
            raise
        except Exception as exc:
            module = self.pm.get_plugin(info.name)
            if module is not None:
                self.pm.unregister(module)
            self._broken(info, stage, exc)
            return False
        return True

    def _install_hint(self, kind: str, name: str) -> str | None:
        plugins = {p.distribution: (p.status, p.error) for p in self._plugins}
        return install_hint(kind, name, plugins)

    # -- access --------------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        """Return the registry of ``kind``, loading plugins on first use."""
        self.load()
        return self.registries[kind]

    def plugins(self) -> list[PluginInfo]:
        """Return every discovered plugin with its status."""
        self.load()
        return list(self._plugins)

    def cli_commands(self) -> dict[str, Command]:
        """Return the subcommands contributed by plugins."""
        self.load()
        return dict(self.commands.commands)

    @property
    def hook(self) -> Any:
        """pluggy's hook relay, for firing events (``manager.hook.seg_on_...``)."""
        self.load()
        return self.pm.hook

    def register_plugin(self, plugin: object, name: str | None = None) -> None:
        """Register an in-process plugin object (e.g. a training callback) for event hooks."""
        self.load()
        self.pm.register(plugin, name=name)


_manager: PluginManager | None = None
_manager_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """Return the process-wide `PluginManager` (created on first call)."""
    global _manager
    if _manager is None:
        with _manager_lock:
            if _manager is None:
                _manager = PluginManager()
    return _manager


def reset_plugin_manager() -> None:
    """Forget discovered plugins and runtime registrations (for tests and notebooks)."""
    global _manager
    with _manager_lock:
        _manager = None


def get_registry(kind: str) -> Registry:
    """Return the registry for ``kind`` (``"encoders"``, ``"architectures"``...).

    Example:
        >>> from seg_core import get_registry
        >>> "basic_cnn" in get_registry("encoders")
        True

    Raises:
        UnknownNameError: ``kind`` is not a known registry kind.
    """
    return get_plugin_manager().registry(kind)


def iter_distributions(plugins: Iterable[PluginInfo]) -> dict[str, str]:
    """Map distribution name to version for the given plugins."""
    return {p.distribution: p.version for p in plugins}
