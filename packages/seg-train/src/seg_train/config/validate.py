"""Read, override and validate a training config; every problem is reported with its key path.

Example:
    >>> from seg_train.config.validate import parse_config
    >>> config = parse_config({"trainer": {"epochs": 2}}, overrides=["optimizer.lr=0.01"])
    >>> config.trainer.epochs, config.optimizer.lr
    (2, 0.01)
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from seg_core.errors import ConfigError, PluginError, UnknownNameError
from seg_core.suggest import close_matches, unexpected_arguments
from seg_train.config.schema import COMPONENT_SECTIONS, Config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["SECRET_WORDS", "apply_overrides", "load_config", "parse_config", "read_toml"]

#: Keys that look like credentials are refused anywhere in a config: they belong in the environment.
SECRET_WORDS = ("api_key", "apikey", "token", "password", "secret")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; a missing or malformed file is a ConfigError naming it (and the line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist" if not path.exists() else f"{path} is not a file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (``--set``). Values are TOML values, else strings; nothing is evaluated.

    Args:
        data: The config as read (changed in place and returned).
        overrides: ``"trainer.epochs=3"``, ``"optimizer.name=SGD"``, ``"model.decoder_channels=[64, 32]"``.

    Returns:
        ``data``.

    Raises:
        ConfigError: An override without ``=`` or with an empty key.
    """
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"--set {item!r}: write key.path=value, e.g. --set trainer.epochs=3")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is a value, not a table")
            node = child
        node[parts[-1]] = value
    return data


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Read a TOML config (or start from the defaults), apply overrides and validate everything.

    Args:
        path: A TOML file; None starts from the defaults.
        overrides: ``key.path=value`` strings.

    Returns:
        The validated config.

    Raises:
        ConfigError: Every problem found, one per line, each with its key path.
    """
    data = read_toml(path) if path is not None else {}
    return parse_config(data, overrides=overrides, source=str(path) if path else "config")


def parse_config(data: Mapping[str, Any], *, overrides: Sequence[str] = (), source: str = "config") -> Config:
    """Validate a config given as a mapping (see `load_config`)."""
    data = apply_overrides(_plain(data), overrides)
    problems = _secrets(data)
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        problems += [_describe(e) for e in error.errors()]
    problems += component_problems(_sections(data))
    if problems:
        raise ConfigError(f"{source}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems))
    assert config is not None
    return config


def _sections(data: Mapping[str, Any]) -> Config:
    """The config with every section that validates on its own (the others at their defaults).

    Components are checked even when another section has a schema error, so one run reports all.
    """
    sections = {}
    for name, field in Config.model_fields.items():
        raw = data.get(name)
        if raw is None:
            continue
        try:
            sections[name] = field.annotation.model_validate(raw)  # type: ignore[union-attr]
        except (ValidationError, AttributeError):
            continue
    return Config.model_construct(**{**Config().__dict__, **sections})


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in data.items()}


def _secrets(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if any(word in str(key).lower() for word in SECRET_WORDS):
            found.append(
                f"{path}: credentials never go in a config file (it is copied into the run folder); set them in "
                "the environment instead, e.g. WANDB_API_KEY"
            )
        if isinstance(value, Mapping):
            found += _secrets(value, f"{path}.")
    return found


def _model_at(loc: Sequence[Any]) -> type[BaseModel] | None:
    model: Any = Config
    for part in loc:
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        if field is None:
            return model if isinstance(model, type) and issubclass(model, BaseModel) else None
        model = field.annotation
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _describe(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error["loc"]]
    path = ".".join(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        section = _model_at(error["loc"][:-1])
        known = list(section.model_fields) if section else []
        near = close_matches(loc[-1], known, limit=3)
        hint = f" (did you mean {', '.join(map(repr, near))}?)" if near else ""
        return f"{path}: unknown key{hint}; accepted: {', '.join(known)}"
    if kind == "literal_error":
        return f"{path}: got {error.get('input')!r}; accepted: {error['ctx']['expected']}"
    return f"{path}: {error['msg']} (got {error.get('input')!r})"


def component_problems(config: Config) -> list[str]:
    """Check the named components exist and accept the arguments given to them.

    Args:
        config: A config that passed the schema.

    Returns:
        One line per problem (empty when everything is fine).
    """
    from seg_core import get_registry

    problems = []
    for section, kind in COMPONENT_SECTIONS.items():
        part = getattr(config, section)
        name = part.architecture if section == "model" else part.name
        if name is None:
            continue
        key = "architecture" if section == "model" else "name"
        try:
            factory = get_registry(kind).get(name)
        except (UnknownNameError, PluginError) as error:
            problems.append(f"{section}.{key}: {error}")
            continue
        given = part.options()
        if section == "model":
            given.update(encoder_name=part.encoder_name)
            try:
                get_registry("encoders").get(part.encoder_name)
            except (UnknownNameError, PluginError) as error:
                problems.append(f"model.encoder_name: {error}")
        if section == "optimizer":
            from seg_train.factory import GROUP_OPTIONS

            given = {k: v for k, v in given.items() if k not in GROUP_OPTIONS}
        problem = _signature_problem(factory, given, f"{section} {name!r}", section)
        if problem:
            problems.append(problem)
    data_problem = _dataset_problem(config)
    if data_problem:
        problems.append(data_problem)
    problems += _logger_problems(config)
    return problems


def accepted_arguments(factory: Any) -> list[str] | None:
    """The keyword arguments ``factory`` accepts (architectures: their own plus seg_core's `ModelArgs`).

    Returns:
        The names, or None when the factory takes any keyword (``**kwargs`` it checks itself).
    """
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return None
    named = [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n != "self"]
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        from seg_core.building import MODEL_DEFAULTS
        from seg_core.model import SegmentationModel

        if inspect.isclass(factory) and issubclass(factory, SegmentationModel):
            return [*named, *MODEL_DEFAULTS]
        return None
    return named


def _signature_problem(factory: Any, given: Mapping[str, Any], what: str, section: str) -> str | None:
    accepted = accepted_arguments(factory)
    if accepted is None:
        return None
    unknown = [k for k in given if k not in accepted]
    if not unknown:
        return None
    return f"{section}.{unknown[0]}: " + unexpected_arguments(what, unknown, accepted)


def _dataset_problem(config: Config) -> str | None:
    from seg_core import get_registry

    try:
        factory = get_registry("datasets").get(config.data.dataset)
    except (UnknownNameError, PluginError) as error:
        return f"data.dataset: {error}"
    given = {**config.data.options, **config.data.val_options}
    problem = _signature_problem(factory, given, f"dataset {config.data.dataset!r}", "data.options")
    return problem


def _logger_problems(config: Config) -> list[str]:
    from seg_core import get_registry

    problems = []
    registry = get_registry("loggers")
    extra = config.logging.options()
    for name in dict.fromkeys(["local", *config.logging.loggers]):  # local is always on
        try:
            factory = registry.get(name)
        except (UnknownNameError, PluginError) as error:
            problems.append(f"logging.loggers: {error}")
            continue
        options = extra.get(name, {})
        if not isinstance(options, Mapping):
            problems.append(f"logging.{name}: must be a table of the logger's options")
            continue
        problem = _signature_problem(factory, options, f"logger {name!r}", f"logging.{name}")
        if problem:
            problems.append(problem)
    for key in extra:
        if key not in config.logging.loggers and key != "local" and key not in config.logging.model_fields:
            near = close_matches(key, registry.names(), limit=2)
            problems.append(
                f"logging.{key}: options for a logger that is not enabled; add it to logging.loggers"
                + (f" (did you mean {', '.join(map(repr, near))}?)" if near and key not in near else "")
            )
    return problems
