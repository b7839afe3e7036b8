"""Hook specifications: the contract between seg and its plugins.

A plugin is a module listed under the entry-point group ``seg_core.plugins``::

    [project.entry-points."seg_core.plugins"]
    my_plugin = "my_package.seg_plugin"

and implements any of the hooks below with `hookimpl`::

    from seg_core import hookimpl

    @hookimpl
    def seg_register_encoders(registry):
        registry.add("my_encoder", "my_package.encoders:MyEncoder")

Contract for every ``seg_register_*`` hook:

* The module must stay light: importing it must not import torch, timm or
  torchvision. Register lazy ``"module:attr"`` targets; the heavy import
  happens when a name is created.
* ``registry`` is a `Registrar` bound to your plugin.
  What you add is committed when the hook returns, all of it or nothing: if the
  hook raises, or a registration cannot be committed (the same name twice), none
  of the plugin's names are kept and the plugin is reported as broken and skipped
  (unless ``SEG_STRICT_PLUGINS=1``).
* Names are matched case-insensitively. Registering a name another
  distribution already provides loses (first in sorted distribution order
  wins, with a `SegPluginWarning`) unless you pass
  ``override=True``; names built into seg's own distributions cannot be
  replaced by a plugin.
* Return nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from seg_core.cli_commands import CommandRegistrar
    from seg_core.registry import Registrar, Registries

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

#: The pluggy project name.
PROJECT_NAME = "seg"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Marker for hook implementations in plugins: ``@hookimpl def seg_register_...``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def seg_add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    """Add more hook specifications (e.g. seg-train's training events).

    Called once per plugin right after it is loaded, before any registration,
    like pytest's ``pytest_addhooks``. Use ``pluginmanager.add_hookspecs(module)``.
    """


@hookspec
def seg_register(registries: Registries) -> None:
    """Add new registry kinds (``registries.add_kind("metrics")``).

    Called before the ``seg_register_<kind>`` hooks. Plugins that add a kind
    register into it through ``seg_register_kind(kind, registry)``.
    """


@hookspec
def seg_register_kind(kind: str, registry: Registrar) -> None:
    """Register names into a kind that has no dedicated hook (kinds added by plugins)."""


@hookspec
def seg_register_encoders(registry: Registrar) -> None:
    """Register encoders: classes or factories returning an ``EncoderMixin`` module.

    Factories receive ``in_channels``, ``depth``, ``weights``, ``output_stride`` and
    their own keyword arguments. Info keys used by seg: ``description``,
    ``spatial_dims`` (2 or 3), ``family``.
    """


@hookspec
def seg_register_architectures(registry: Registrar) -> None:
    """Register segmentation architectures: ``SegmentationModel`` subclasses."""


@hookspec
def seg_register_datasets(registry: Registrar) -> None:
    """Register datasets: callables ``(root, split, transforms, **options) -> Dataset``.

    Info keys used by seg-data: ``description``, and ``metadata="module:attr"``, a lazy
    builder of the dataset's ``DatasetMetadata`` (class names, ignore index, palette),
    which ``seg_data.resolve_metadata(name)`` finds through this entry. Optional
    ``transforms="module:attr"``: a builder ``(augment, transform, *, train) -> callable`` that
    seg-train uses for the config's ``[data.augment]`` / ``[data.transform]`` instead of seg-data's
    2D transforms (seg-3d's volume datasets declare one).
    """


@hookspec
def seg_register_losses(registry: Registrar) -> None:
    """Register loss functions: ``nn.Module`` classes or factories."""


@hookspec
def seg_register_optimizers(registry: Registrar) -> None:
    """Register optimizers: callables ``(params, **options) -> torch.optim.Optimizer``."""


@hookspec
def seg_register_schedulers(registry: Registrar) -> None:
    """Register learning-rate schedulers: callables ``(optimizer, **options) -> scheduler``."""


@hookspec
def seg_register_loggers(registry: Registrar) -> None:
    """Register training loggers (objects implementing the training-event hooks)."""


@hookspec
def seg_cli_commands(commands: CommandRegistrar) -> None:
    """Add subcommands to the ``seg`` command line.

    ``commands.add(name, help=..., setup="pkg.cli:setup", run="pkg.cli:run")``:
    ``setup(parser)`` adds arguments, ``run(args) -> int`` executes. Both may be
    lazy strings so that ``seg --help`` imports nothing heavy.

    A command named like a built-in one (``plugins``, ``list``, ``info``) or one
    already defined, and a command whose ``setup`` cannot be imported or raises, is
    skipped with a `SegPluginWarning` (listed in ``seg plugins``); the plugin's other
    commands and names are kept.
    """
