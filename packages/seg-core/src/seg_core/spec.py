"""What an architecture declares about itself, once: `ArchitectureSpec` and the `architecture` decorator.

An architecture's registry name, aliases, description, paper, encoder requirements,
default encoder arguments and its smp counterpart are declared in one place, next to
its class::

    @architecture(ArchitectureSpec("tinyseg", "One conv block and a head", paper="none"))
    class TinySeg(SegmentationModel): ...

Everything else is derived from that declaration: the registry entry (through a
static, generated *catalog* file that the light hook module reads, see `catalog_of`,
`load_catalog` and `register_catalog`), the compatibility rules (`check_compatible`,
`is_compatible_info`), ``architecture_name``, the class-name exports and smp's
import defaults. This module imports no torch, so hook modules may use it.

Example:
    >>> spec = ArchitectureSpec("fpn", "Feature Pyramid Network", paper="arXiv:1901.02446", min_depth=3)
    >>> spec.registry_info()["min_encoder_depth"]
    3
"""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import json
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from seg_core.errors import ConfigError, IncompatibleEncoderError

if TYPE_CHECKING:
    from seg_core.encoder import EncoderCapabilities
    from seg_core.registry import Registrar

__all__ = [
    "CATALOG_FILE",
    "ArchitectureSpec",
    "Requirements",
    "architecture",
    "catalog_of",
    "check_compatible",
    "is_compatible",
    "is_compatible_info",
    "load_catalog",
    "register_catalog",
    "render_catalog",
]

T = TypeVar("T", bound=type)


@dataclass(frozen=True)
class Requirements:
    """What a decoder needs from an encoder pyramid.

    Attributes:
        min_depth: Fewest pyramid levels it can use.
        max_depth: Most levels it can use (None: any).
        nonzero_levels: Levels that must carry channels (negative = from the deepest).
        nonzero_from: Every level from this one to the deepest must carry channels.
        spatial_dims: Supported dimensionalities.
        output_strides: Accepted ``encoder_output_stride`` values (None: any the encoder
            supports); a decoder that needs a dilated encoder lists 8 and 16.
    """

    min_depth: int = 1
    max_depth: int | None = None
    nonzero_levels: tuple[int, ...] = (-1,)
    nonzero_from: int | None = None
    spatial_dims: tuple[int, ...] = (2, 3)
    output_strides: tuple[int | None, ...] | None = None

    def levels(self, depth: int) -> list[int]:
        """The levels of a pyramid of ``depth`` that must carry channels."""
        levels = list(self.nonzero_levels)
        if self.nonzero_from is not None:
            levels += list(range(self.nonzero_from, depth + 1))
        return [lv for lv in levels if -(depth + 1) <= lv <= depth]

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Requirements:
        """Rebuild from the ``requires`` mapping of a registry entry (lists become tuples)."""
        raw = dict(info)
        for key in ("nonzero_levels", "spatial_dims", "output_strides"):
            if isinstance(raw.get(key), list):
                raw[key] = tuple(raw[key])
        return cls(**raw)


@dataclass(frozen=True)
class ArchitectureSpec:
    """Everything about one architecture, declared once next to its class.

    Attributes:
        name: Registry name (lower case).
        description: One line for ``seg list`` / ``seg info``.
        paper: Reference (``"arXiv:1505.04597"``, a DOI...).
        aliases: Other names that resolve to this architecture (``"unet++"``).
        requires: What the encoder pyramid must offer (`Requirements`).
        encoder_defaults: Defaults of the shared encoder arguments where this
            architecture differs (``{"encoder_output_stride": 8}``).
        smp_class: The segmentation_models_pytorch class with the same network (for ``from_smp``).
        smp_defaults: smp's defaults where seg's differ (applied when importing smp checkpoints).
        smp_weights: Whether smp's checkpoints of ``smp_class`` load into this architecture
            (``from_smp``). False where seg's network deliberately differs from smp's (DPT has
            no learned resize layers); the parameter counts are then compared per part.
        deprecated_arguments: Old argument names still accepted, with a ``DeprecationWarning``
            (``{"decoder_use_batchnorm": "decoder_use_norm"}``); `SegmentationModel` renames
            them before ``__init__`` runs, so the class's signature shows only the new names.
        class_name: Filled by `architecture`: the class's name.
        target: Filled by `architecture`: ``"module:ClassName"``.
    """

    name: str
    description: str
    paper: str = ""
    aliases: tuple[str, ...] = ()
    requires: Requirements = field(default_factory=Requirements)
    encoder_defaults: Mapping[str, Any] = field(default_factory=dict)
    smp_class: str | None = None
    smp_defaults: Mapping[str, Any] = field(default_factory=dict)
    smp_weights: bool = True
    deprecated_arguments: Mapping[str, str] = field(default_factory=dict)
    class_name: str = ""
    target: str = ""

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.strip().lower():
            raise ConfigError(f"ArchitectureSpec.name must be a lower-case name, got {self.name!r}")

    def registry_info(self) -> dict[str, Any]:
        """The registry info derived from the declaration (plain JSON-able values)."""
        requires = asdict(self.requires)
        return {
            "description": self.description,
            "paper": self.paper,
            "aliases": list(self.aliases),
            "class_name": self.class_name,
            "spatial_dims": tuple(self.requires.spatial_dims),
            "min_encoder_depth": self.requires.min_depth,
            "requires": {k: list(v) if isinstance(v, tuple) else v for k, v in requires.items()},
            "encoder_defaults": dict(self.encoder_defaults),
            "smp_class": self.smp_class,
            "smp_defaults": {k: list(v) if isinstance(v, tuple) else v for k, v in self.smp_defaults.items()},
            "smp_weights": self.smp_weights and self.smp_class is not None,
            "deprecated_arguments": dict(self.deprecated_arguments),
        }


def architecture(spec: ArchitectureSpec) -> Callable[[T], T]:
    """Class decorator: attach ``spec`` (with the class's name and target filled in) as ``cls.spec``.

    Args:
        spec: The declaration.

    Returns:
        The decorator; the class gets ``spec`` and ``architecture_name = spec.name``.

    Example:
        >>> @architecture(ArchitectureSpec("demo", "A demo"))
        ... class Demo:
        ...     pass
        >>> Demo.spec.target.endswith(":Demo"), Demo.architecture_name
        (True, 'demo')
    """

    def decorate(cls: T) -> T:
        filled = ArchitectureSpec(
            **{
                **{f: getattr(spec, f) for f in spec.__dataclass_fields__},
                "class_name": cls.__name__,
                "target": f"{cls.__module__}:{cls.__qualname__}",
            }
        )
        cls.spec = filled  # type: ignore[attr-defined]
        cls.architecture_name = filled.name  # type: ignore[attr-defined]
        return cls

    return decorate


# -- catalogs: the static table a light hook module reads ----------------------------------------------


CATALOG_FILE = "_catalog.json"


def catalog_of(package: str) -> dict[str, dict[str, Any]]:
    """Collect the declarations of every architecture class in ``package`` (imports its modules).

    Args:
        package: An importable package (``"seg_decoders"``).

    Returns:
        ``{name: {"target": ..., **spec.registry_info()}}``, sorted by name, as plain JSON
        values (what `load_catalog` reads back).
    """
    root = importlib.import_module(package)
    found: dict[str, dict[str, Any]] = {}
    for module_info in pkgutil.iter_modules(root.__path__, prefix=f"{package}."):
        if module_info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        module = importlib.import_module(module_info.name)
        for obj in vars(module).values():
            spec = getattr(obj, "spec", None)
            if isinstance(obj, type) and isinstance(spec, ArchitectureSpec) and obj.__module__ == module.__name__:
                found[spec.name] = {"target": spec.target, **spec.registry_info()}
    table: dict[str, dict[str, Any]] = json.loads(json.dumps(dict(sorted(found.items()))))
    return table


def render_catalog(package: str) -> str:
    """Return the text of ``package``'s generated catalog file (`CATALOG_FILE`, JSON).

    Args:
        package: The package whose architectures are collected (`catalog_of`).

    Returns:
        JSON with the regeneration command and the ``architectures`` table.
    """
    document = {
        "generated": f"from the @architecture declarations in {package}; do not edit",
        "regenerate": f"python -m seg_core.spec {package}",
        "architectures": catalog_of(package),
    }
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def load_catalog(package: str) -> dict[str, dict[str, Any]]:
    """Read ``package``'s generated catalog without importing its modules (light: for hook modules).

    Args:
        package: The package that ships `CATALOG_FILE` next to its ``__init__``.

    Returns:
        The ``architectures`` table.

    Raises:
        PluginError: The file is missing or corrupt (regenerate it).
    """
    from seg_core.errors import PluginError

    try:
        text = importlib.resources.files(package).joinpath(CATALOG_FILE).read_text(encoding="utf-8")
        table: dict[str, dict[str, Any]] = json.loads(text)["architectures"]
    except (OSError, ValueError, KeyError) as exc:
        raise PluginError(
            f"{package}/{CATALOG_FILE} is missing or corrupt ({type(exc).__name__}: {exc}); "
            f"regenerate it with: python -m seg_core.spec {package}"
        ) from exc
    return table


def register_catalog(registry: Registrar, catalog: Mapping[str, Mapping[str, Any]], *, family: str) -> None:
    """Register every architecture of a generated catalog (and its aliases) from a hook module.

    Args:
        registry: The ``seg_register_architectures`` registrar.
        catalog: A generated ``ARCHITECTURES`` table.
        family: The family label shown by ``seg list``.
    """
    for name, entry in catalog.items():
        info = {k: v for k, v in entry.items() if k != "target"}
        registry.add(name, entry["target"], family=family, **info)


# -- compatibility, decided from the declaration ---------------------------------------------------------


def _requirements(arch: str | ArchitectureSpec | Requirements) -> tuple[str, Requirements]:
    if isinstance(arch, Requirements):
        return "this decoder", arch
    if isinstance(arch, ArchitectureSpec):
        return arch.class_name or arch.name, arch.requires
    from seg_core.plugins import get_registry

    info = get_registry("architectures").info(arch)
    requires = info.get("requires")
    if not isinstance(requires, Mapping):
        raise ConfigError(f"architecture {arch!r} declares no requirements (register it with an ArchitectureSpec)")
    return str(info.get("class_name") or info["name"]), Requirements.from_info(requires)


def check_compatible(arch: str | ArchitectureSpec | Requirements, capabilities: EncoderCapabilities) -> None:
    """Raise if an encoder with ``capabilities`` cannot feed the architecture ``arch``.

    Args:
        arch: A registered architecture name, its `ArchitectureSpec`, or bare `Requirements`.
        capabilities: ``encoder.capabilities``.

    Raises:
        IncompatibleEncoderError: With the reason and what to do instead.
        UnknownNameError: ``arch`` is not a registered architecture.

    Example:
        >>> import seg_core
        >>> enc = seg_core.create_encoder("basic_cnn", depth=2)  # doctest: +SKIP
        >>> check_compatible("fpn", enc.capabilities)  # doctest: +SKIP
        Traceback (most recent call last):
        IncompatibleEncoderError: FPN needs encoder_depth >= 3, the encoder has depth 2
    """
    from seg_core.pyramid import check_pyramid

    display, req = _requirements(arch)
    if capabilities.spatial_dims not in req.spatial_dims:
        raise IncompatibleEncoderError(
            f"{display} supports spatial_dims {req.spatial_dims}, the encoder has {capabilities.spatial_dims}"
        )
    check_pyramid(
        capabilities.out_channels,
        capabilities.reductions,
        consumer=display,
        min_depth=req.min_depth,
        max_depth=req.max_depth,
        nonzero_levels=req.levels(len(capabilities.reductions) - 1),
    )


def is_compatible(arch: str | ArchitectureSpec | Requirements, capabilities: EncoderCapabilities) -> bool:
    """``True`` when `check_compatible` would pass.

    Example:
        >>> is_compatible("fpn", encoder.capabilities)  # doctest: +SKIP
        True
    """
    try:
        check_compatible(arch, capabilities)
    except IncompatibleEncoderError:
        return False
    return True


def _info_problem(req: Requirements, info: Mapping[str, Any]) -> str | None:
    """Why the declared capabilities in ``info`` rule ``req`` out, or None (pure Python, no torch)."""
    dims = info.get("spatial_dims")
    if dims is not None:
        declared = set(dims) if isinstance(dims, (list, tuple, set, frozenset)) else {dims}
        if not declared & set(req.spatial_dims):
            return f"spatial_dims {sorted(declared)} not in {req.spatial_dims}"
    channels, reductions = info.get("out_channels"), info.get("reductions")
    if channels is None or reductions is None:
        return None  # nothing declared: the model constructor checks the built encoder
    if len(channels) != len(reductions) or not reductions or reductions[0] != 1:
        return f"malformed pyramid channels={channels} reductions={reductions}"
    depth = len(reductions) - 1
    if depth < req.min_depth:
        return f"depth {depth} < {req.min_depth}"
    for i in range(1, len(reductions)):
        if reductions[i] < reductions[i - 1] or reductions[i] % reductions[i - 1]:
            return f"reductions {list(reductions)} are not a pyramid"
    for level in req.levels(depth):
        if not channels[level]:
            return f"level {level} carries no channels"
    return None


def is_compatible_info(arch: str | ArchitectureSpec | Requirements, info: Mapping[str, Any]) -> bool:
    """Decide from an encoder's registry info (no encoder is built) whether it can feed ``arch``.

    This is what ``seg_core.list_encoders(compatible_with=...)`` applies. It reads the
    capabilities encoders declare at registration (``spatial_dims``, and the pyramid as
    ``out_channels``/``reductions``, index 0 being the input) with the same requirements
    `check_compatible` applies to a built encoder. Encoders that declare no pyramid are
    not ruled out.

    Args:
        arch: A registered architecture name, its `ArchitectureSpec`, or bare `Requirements`.
        info: ``seg_core.get_registry("encoders").info(name)``.

    Returns:
        False when the declared capabilities rule the architecture out.

    Example:
        >>> is_compatible_info(Requirements(min_depth=3), {"out_channels": (3, 8, 16), "reductions": (1, 2, 4)})
        False
    """
    return _info_problem(_requirements(arch)[1], info) is None


def _main(argv: list[str] | None = None) -> int:
    """``python -m seg_core.spec PACKAGE``: (re)write a package's generated catalog file."""
    import argparse
    from pathlib import Path

    from seg_core import spec  # not this module: under ``python -m`` it is ``__main__``

    parser = argparse.ArgumentParser(prog="python -m seg_core.spec", description=_main.__doc__)
    parser.add_argument("package", help="the package whose @architecture classes are collected")
    ns = parser.parse_args(argv)
    found = importlib.util.find_spec(ns.package)  # locate without importing (its __init__ may read the file)
    if found is None or not found.submodule_search_locations:
        parser.error(f"{ns.package!r} is not an importable package")
    output = Path(next(iter(found.submodule_search_locations))) / CATALOG_FILE
    if not output.exists():  # first run: the package may need a (still empty) table to import
        output.write_text(json.dumps({"architectures": {}}) + "\n", encoding="utf-8")
    output.write_text(spec.render_catalog(ns.package), encoding="utf-8")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
