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

Failures are isolated per plugin: a plugin that fails to import, raises in a hook
or whose registrations cannot be committed is reported (`SegPluginWarning`,
``status="failed"`` in ``seg plugins``) and nothing it registered is kept; the
other plugins load as usual. A plugin subcommand that cannot be added to ``seg``
is skipped and listed in its plugin's ``problems``. In strict mode the first
failure raises, and so does every later registry access of the same manager.
"""

from __future__ import annotations

import os
import re
import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from seg_core import hookspecs
from seg_core.cli_commands import Command, CommandRegistrar, command_problem
from seg_core.errors import PluginError, SegPluginWarning
from seg_core.registry import BUILTIN_KINDS, Registrar, Registries, Registry, Source, commit_all, hook_name
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


def _read_text(dist: metadata.Distribution, filename: str) -> str | None:
    try:
        return dist.read_text(filename)
    except Exception:
        return None


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
        problems: What went wrong without failing the whole plugin (a subcommand
            that was skipped, with the reason).
    """

    name: str
    distribution: str
    version: str
    module: str
    status: str = "pending"
    error: str | None = None
    builtin: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``"distribution version (plugin 'name')"`` for messages."""
        return f"{self.distribution} {self.version} (plugin {self.name!r})"

    @property
    def source(self) -> Source:
        """The registry `Source` for this plugin."""
        return Source(self.name, self.distribution, self.version, self.builtin)


class _ConflictError(PluginError):
    """A name conflict in strict mode: raised as is, not reported as a broken plugin."""


class PluginManager:
    """One typed facade over pluggy's plugin manager and the registries.

    Loading is all-or-nothing per plugin: a plugin that fails at any stage is
    reported and skipped with nothing of it kept. In strict mode the failure raises
    `PluginError`, and every later call that needs the plugins raises the same error.

    Args:
        group: Entry-point group to discover.
        strict: Raise on broken plugins and conflicts (default: ``SEG_STRICT_PLUGINS``).
    """

    def __init__(self, group: str = ENTRY_POINT_GROUP, *, strict: bool | None = None) -> None:
        self.group = group
        self.strict = _env_flag("SEG_STRICT_PLUGINS") if strict is None else strict
        self._lock = threading.RLock()
        self._setup()

    def _setup(self) -> None:
        """(Re)create the empty state: nothing discovered, nothing registered."""
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.registries = Registries(on_conflict=self._conflict, missing_hint=self._install_hint)
        self.commands = CommandRegistrar()
        self._plugins: list[PluginInfo] = []
        self._modules: dict[tuple[str, str], object] = {}  # (distribution, name) -> hook module
        self._command_owners: dict[str, PluginInfo] = {}
        self._state = "new"  # "new", "loading" (in this thread: a plugin reads a registry), "done"
        self._error: Exception | None = None

    # -- reporting -----------------------------------------------------------
    def _conflict(self, message: str) -> None:
        if self.strict:
            raise _ConflictError(message)
        warnings.warn(message, SegPluginWarning, stacklevel=4)

    def _broken(self, info: PluginInfo, stage: str, exc: BaseException | None) -> None:
        info.status = "failed"
        if exc is not None:
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
            A distribution whose entry points cannot be read at all gets one
            record with ``status="failed"``.
        """
        seen: set[str] = set()
        found: list[PluginInfo] = []
        for dist in metadata.distributions():
            text = _read_text(dist, "entry_points.txt")
            if not text or self.group not in text:  # cheap: most distributions declare no seg plugin
                continue
            try:
                dist_name = _normalize(dist.metadata["Name"] or "") or "<unknown>"
                version = dist.version or "?"
            except Exception:  # unreadable metadata
                dist_name, version = "<unknown>", "?"
            if dist_name in seen:  # the same distribution seen twice on sys.path: the first wins
                continue
            seen.add(dist_name)
            try:
                eps = [ep for ep in dist.entry_points if ep.group == self.group]
            except Exception as exc:  # a malformed entry_points.txt must not hide every other plugin
                broken = PluginInfo(dist_name, dist_name, version, "?", builtin=dist_name in FIRST_PARTY)
                broken.status, broken.error = "failed", f"{type(exc).__name__}: {exc}"
                found.append(broken)
                continue
            for ep in eps:
                if any(p.distribution == dist_name and p.name == ep.name for p in found):
                    continue
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
        """Discover, import and register all plugins once (thread-safe, idempotent).

        Raises:
            PluginError: Strict mode only: a plugin is broken or loses a name
                conflict. Every later call raises the same error.
        """
        if self._state == "done":
            self._raise_if_failed()
            return
        with self._lock:
            if self._state == "done":
                self._raise_if_failed()
                return
            if self._state == "loading":  # a plugin reads a registry while registering: no recursion
                return
            self._state = "loading"
            try:
                self._load_all()
            except Exception as exc:
                self._error = exc  # remembered: the registries are incomplete, never pretend otherwise
                self._state = "done"
                raise
            except BaseException:  # interrupted (KeyboardInterrupt): start over on the next call
                self._setup()
                raise
            self._state = "done"

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error.with_traceback(None)

    def _load_all(self) -> None:
        disabled = _disabled_names()
        for info in self.discover():
            self._plugins.append(info)
            if _normalize(info.name) in disabled or info.distribution in disabled:
                info.status = "disabled"
                self.pm.set_blocked(self._pm_name(info))
                continue
            if info.status == "failed":  # found broken by discover()
                self._broken(info, "reading its entry points", None)
                continue
            self._load_one(info)
        self._register_all()

    def _pm_name(self, info: PluginInfo) -> str:
        """The pluggy name of a plugin: its entry-point name, qualified if another plugin has it."""
        if self.pm.has_plugin(info.name) or self.pm.is_blocked(info.name):
            return f"{info.distribution}:{info.name}"
        return info.name

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
            self.pm.register(module, name=self._pm_name(info))
            self.pm.check_pending()
            self._call(module, "seg_add_hookspecs", pluginmanager=self.pm)
        except Exception as exc:
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            self._broken(info, "registering its hooks", exc)
            return
        self._modules[(info.distribution, info.name)] = module
        info.status = "loaded"

    def _module(self, info: PluginInfo) -> object:
        return self._modules[(info.distribution, info.name)]

    def _call(self, module: ModuleType | object, hook: str, **kwargs: Any) -> None:
        """Call one plugin's implementation of ``hook`` through pluggy.

        pluggy passes each implementation only the arguments it names, so an
        implementation may take fewer arguments than its specification.
        """
        others = [plugin for plugin in self.pm.get_plugins() if plugin is not module]
        self.pm.subset_hook_caller(hook, remove_plugins=others)(**kwargs)

    def _register_all(self) -> None:
        # New kinds first, so every plugin can register into them.
        for info in [p for p in self._plugins if p.status == "loaded"]:
            module = self._module(info)
            kinds = self.registries.kinds()
            if not self._guard(
                info,
                "adding registry kinds",
                lambda module=module: self._call(module, "seg_register", registries=self.registries),
            ):
                self.registries._keep_kinds(kinds)  # nothing of a failed plugin is kept
        for info in self._plugins:
            if info.status == "loaded":
                self._register_one(info)

    def _register_one(self, info: PluginInfo) -> None:
        """Run one plugin's registration hooks, then commit everything it staged, or nothing."""
        module = self._module(info)
        registrars: list[Registrar] = []
        commands = CommandRegistrar(plugin=info.label)

        def run() -> None:
            for kind in self.registries.kinds():
                reg = Registrar(self.registries[kind], info.source)
                registrars.append(reg)
                if kind in BUILTIN_KINDS:
                    self._call(module, hook_name(kind), registry=reg)
                self._call(module, "seg_register_kind", kind=kind, registry=reg)
            self._call(module, "seg_cli_commands", commands=commands)

        if not self._guard(info, "registering names", run):
            return
        if not self._guard(info, "committing its names", lambda: commit_all(registrars)):
            return
        for command in commands.commands.values():
            self._add_command(info, command)

    def _add_command(self, info: PluginInfo, command: Command) -> None:
        problem = command_problem(command)
        if problem is None and command.name in self.commands.commands:
            problem = f"it is already defined by {self.commands.commands[command.name].plugin}"
        if problem is not None:
            self._skip_command(info, command.name, problem)
            return
        self.commands.commands[command.name] = command
        self._command_owners[command.name] = info

    def _skip_command(self, info: PluginInfo, name: object, reason: str) -> None:
        problem = f"subcommand {name!r} skipped: {reason}"
        if problem not in info.problems:
            info.problems.append(problem)
        message = f"seg subcommand {name!r} from {info.label} was skipped: {reason}"
        if self.strict:
            raise _ConflictError(f"{message}; SEG_STRICT_PLUGINS=1 makes this an error")
        warnings.warn(
            f"{message}; disable the plugin with SEG_DISABLED_PLUGINS={info.name} to silence this",
            SegPluginWarning,
            stacklevel=5,
        )

    def _guard(self, info: PluginInfo, stage: str, fn: Any) -> bool:
        try:
            fn()
        except _ConflictError:
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            module = self._modules.get((info.distribution, info.name))
            if module is not None and self.pm.is_registered(module):
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
        """Return the subcommands contributed by plugins (those skipped are not included)."""
        self.load()
        return dict(self.commands.commands)

    def command_failed(self, name: str, stage: str, exc: BaseException) -> None:
        """Report a plugin subcommand that cannot be used and drop it (the ``seg`` CLI calls this).

        The command is listed in its plugin's ``problems`` and a `SegPluginWarning`
        is issued; other commands are unaffected.

        Args:
            name: The subcommand.
            stage: What failed, e.g. ``"setting up its arguments"``.
            exc: The error.

        Raises:
            PluginError: In strict mode (the command is kept, so every call raises).
        """
        owner = self._command_owners.get(name)
        reason = f"{stage} failed: {type(exc).__name__}: {exc}"
        if owner is None:  # registered at run time: not a plugin's problem
            raise PluginError(f"seg subcommand {name!r}: {reason}") from exc
        if not self.strict:
            self.commands.commands.pop(name, None)
            self._command_owners.pop(name, None)
        try:
            self._skip_command(owner, name, reason)
        except _ConflictError as err:
            raise PluginError(str(err)) from exc

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
