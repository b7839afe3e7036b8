"""Saving and loading whole models: ``config.json`` + ``model.safetensors``.

The config records the architecture's registry name, its constructor
arguments, a format version and the distributions (with versions) that
provided the architecture and the encoder. `seg_core.architectures.from_pretrained`
rebuilds the model through the registry with ``encoder_weights=None`` (weights are
never downloaded again: they are in the file) and `load_weights` reports
re-initialised and mismatched keys.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from seg_core.callsite import warn_user
from seg_core.errors import CheckpointError, ConfigError
from seg_core.io import atomic_write_files, current_file, load_state_file, strip_wrapper_prefixes

__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "HUB_PREFIX",
    "WEIGHTS_NAME",
    "LoadReport",
    "find_weights",
    "load_weights",
    "read_config",
    "resolve_directory",
    "save_pretrained",
    "unwrap_model",
]

#: Version of the on-disk format written by `save_pretrained`.
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
#: Prefix that makes `from_pretrained` load a Hugging Face Hub repository (``"hf-hub:user/repo"``).
HUB_PREFIX = "hf-hub:"
_FALLBACK_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.pt")


@dataclass
class LoadReport:
    """What happened when weights were loaded into a model.

    Attributes:
        missing: Model keys absent from the file (left as initialised).
        unexpected: File keys the model does not have (ignored).
        mismatched: ``(key, file shape, model shape)`` for keys of a different size.
        reinitialized: Keys that kept their fresh initialisation (missing + mismatched).
    """

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)

    @property
    def reinitialized(self) -> list[str]:
        """Keys whose values were not loaded from the file."""
        return sorted(self.missing + [k for k, _, _ in self.mismatched])

    @property
    def ok(self) -> bool:
        """True when every key matched."""
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        """Human-readable summary, one line per problem."""
        lines = [f"size mismatch for {key}: file has {list(a)}, model has {list(b)}" for key, a, b in self.mismatched]
        if self.missing:
            lines.append("missing in file: " + ", ".join(self.missing))
        if self.unexpected:
            lines.append("unexpected in file: " + ", ".join(self.unexpected))
        return "\n".join(lines)


def _dist_of(module_name: str) -> tuple[str | None, str | None]:
    top = module_name.split(".")[0]
    dists = metadata.packages_distributions().get(top, [])
    if not dists:
        return None, None
    try:
        return dists[0], metadata.version(dists[0])
    except metadata.PackageNotFoundError:
        return dists[0], None


def _jsonable(name: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(name, v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(f"{name}.{k}", v) for k, v in value.items()}
    raise ConfigError(
        f"cannot save argument {name}={value!r} to config.json; pass a name or plain value "
        "(e.g. activation='sigmoid' instead of a module instance)"
    )


def unwrap_model(model: Any) -> Any:
    """The model inside ``torch.compile`` and ``nn.DataParallel``/``DistributedDataParallel`` wrappers.

    Their state dicts prefix every key (``_orig_mod.``, ``module.``); `save_pretrained` and
    `load_weights` work on the inner model instead.

    Args:
        model: A module, possibly wrapped (wrappers may be nested).

    Returns:
        The innermost wrapped module (``model`` itself when it is not wrapped).

    Example:
        >>> unwrap_model(torch.compile(model)) is model  # doctest: +SKIP
        True
    """
    import torch

    eval_frame = sys.modules.get("torch._dynamo.eval_frame")  # loaded by torch.compile: no import cost otherwise
    compiled = getattr(eval_frame, "OptimizedModule", None)
    parallel = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
    while True:
        if isinstance(model, parallel):
            model = model.module
        elif compiled is not None and isinstance(model, compiled):
            model = model._orig_mod
        else:
            return model


def _architecture_name(model: Any) -> str:
    """The registry name of the model's class: its one identity, looked up by target."""
    from torch import nn

    from seg_core.plugins import get_registry

    cls = type(model)
    name = get_registry("architectures").name_of(cls)
    if name is None:
        inner = next(
            (
                a
                for a in ("module", "_fsdp_wrapped_module", "_orig_mod")
                if isinstance(getattr(model, a, None), nn.Module)
            ),
            None,
        )
        if inner is not None:
            raise ConfigError(
                f"save_pretrained got a {cls.__name__} wrapper, which it cannot unwrap; save the model it wraps: "
                f"save_pretrained(model.{inner}, directory)"
            )
        raise ConfigError(
            f"{cls.__name__} is not a registered architecture, so it could not be rebuilt from config.json; "
            f'register it first: seg_core.get_registry("architectures").add("my_arch", {cls.__name__})'
        )
    return name


def _config(model: Any, arch: str) -> dict[str, Any]:
    """The content of ``config.json`` for ``model`` (registered as ``arch``)."""
    import torch

    from seg_core import __version__
    from seg_core.plugins import get_registry

    recorded = dict(model.config)
    if "encoder_weights" in recorded:
        # Whatever form it took (a tag, True, a str or Path to a file), the weights are in the
        # weights file: store None, so a reload never downloads or reads them again.
        recorded["encoder_weights"] = None
    init_args = {k: _jsonable(k, v) for k, v in recorded.items()}
    arch_source = get_registry("architectures").source(arch)
    plugins: dict[str, Any] = {
        "architecture": {"name": arch, "distribution": arch_source.distribution, "version": arch_source.version}
    }
    encoder = getattr(model, "encoder", None)
    enc_source = getattr(encoder, "registry_source", None)
    if encoder is not None:
        dist, version = (
            (enc_source.distribution, enc_source.version)
            if enc_source is not None
            else _dist_of(type(encoder).__module__)
        )
        plugins["encoder"] = {
            "name": getattr(encoder, "registry_name", None) or init_args.get("encoder_name"),
            "distribution": dist,
            "version": version,
        }
    return {
        "format_version": FORMAT_VERSION,
        "architecture": arch,
        "init_args": init_args,
        "plugins": plugins,
        "seg_core_version": __version__,
        "torch_version": torch.__version__,
    }


def save_pretrained(model: Any, directory: str | Path) -> Path:
    """Save ``model`` to ``directory`` as ``config.json`` + ``model.safetensors``, atomically as a whole.

    Both files are written and fsynced into a staging folder inside ``directory``, which
    is committed with one rename and then moved into place (`seg_core.io.atomic_write_files`):
    a crash at any point leaves the complete previous checkpoint or the complete new one,
    and `from_pretrained` loads exactly one of them. What an interrupted save left is
    finished or discarded by the next save. Other files in ``directory`` are left alone.

    A ``torch.compile`` model and ``nn.DataParallel``/``DistributedDataParallel`` wrappers
    are unwrapped: the inner model is saved, with its own key names.

    ``encoder_weights`` is stored as None (whatever form it had: a tag, True, a path), so
    a reload never downloads or reads encoder weights again.

    Args:
        model: A `SegmentationModel`, possibly wrapped.
        directory: Target folder (created if needed).

    Returns:
        The folder.

    Raises:
        ConfigError: The model is not registered or an argument cannot be stored.
        CheckpointError: ``directory`` is an existing file.

    Example:
        >>> model.save_pretrained("runs/unet")  # doctest: +SKIP
        >>> seg_core.from_pretrained("runs/unet")  # doctest: +SKIP
    """
    from seg_core.io import safetensors_bytes

    directory = Path(directory)
    model = unwrap_model(model)
    arch = _architecture_name(model)
    config = _config(model, arch)
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"directory={str(directory)!r} is a file; save_pretrained writes a folder")
    state = model.state_dict()  # tied tensors are written once per key: safetensors_bytes copies bytes
    files = {
        WEIGHTS_NAME: safetensors_bytes(state, {"format": "pt", "seg_format_version": str(FORMAT_VERSION)}),
        CONFIG_NAME: (json.dumps(config, indent=2, sort_keys=True) + "\n").encode(),
    }
    atomic_write_files(directory, files)
    return directory


def load_weights(model: Any, path: str | Path, *, strict: bool = True) -> LoadReport:
    """Load a weights file into ``model`` and report what did not fit.

    A file saved from a wrapped model (every key prefixed ``module.`` or ``_orig_mod.``)
    loads into the plain model, and a wrapped ``model`` is unwrapped (see `unwrap_model`).

    Args:
        model: The module to load into.
        path: ``.safetensors``, or a torch pickle read with ``weights_only=True``.
        strict: Raise on any missing, unexpected or size-mismatched key (the message
            says "size mismatch" for those); otherwise load what fits, keep the rest
            initialised and warn (at your line) with the re-initialised keys.

    Returns:
        A `LoadReport`.

    Raises:
        CheckpointError: Unreadable file, or (strict) keys that do not fit.

    Example:
        >>> report = seg_core.load_weights(model, "checkpoints/epoch10.pth", strict=False)  # doctest: +SKIP
    """
    model = unwrap_model(model)
    own = model.state_dict()
    state = strip_wrapper_prefixes(load_state_file(path), own)
    report = LoadReport()
    loadable: dict[str, Any] = {}
    for key, value in state.items():
        if key not in own:
            report.unexpected.append(key)
        elif tuple(own[key].shape) != tuple(value.shape):
            report.mismatched.append((key, tuple(value.shape), tuple(own[key].shape)))
        else:
            loadable[key] = value
    report.missing = sorted(k for k in own if k not in state)
    if strict and not report.ok:
        raise CheckpointError(
            f"weights in {path} do not fit {type(model).__name__} (pass strict=False to load what fits and "
            f"re-initialise the rest):\n{report.describe()}"
        )
    model.load_state_dict(loadable, strict=False)
    if report.reinitialized or report.unexpected:
        warn_user(
            f"loaded {path} with strict=False; re-initialised keys (train them): "
            f"{', '.join(report.reinitialized) or 'none'}"
            + (f"; ignored unexpected keys: {', '.join(report.unexpected)}" if report.unexpected else "")
        )
    return report


def resolve_directory(name_or_path: str | Path) -> Path:
    """The folder of a saved model: a local folder, or a Hugging Face Hub repository named ``"hf-hub:user/repo"``.

    Only the ``hf-hub:`` prefix reaches the network: a plain ``"user/repo"`` is always a
    local path, so a missing folder is reported instead of silently loading a Hub repository.

    Args:
        name_or_path: A folder written by `save_pretrained`, or ``"hf-hub:<repo id>"``.

    Returns:
        The local folder (for the Hub, the snapshot in the Hugging Face cache; only
        ``config.json`` and the weights file are downloaded).

    Raises:
        CheckpointError: The path is a file or does not exist, or the repository could not be downloaded.
        ConfigError: ``hf-hub:`` without huggingface_hub installed (the message says how to install it).

    Example:
        >>> resolve_directory("hf-hub:user/unet-demo")  # doctest: +SKIP
    """
    if isinstance(name_or_path, str) and name_or_path.startswith(HUB_PREFIX):
        return _download(name_or_path[len(HUB_PREFIX) :])
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{path} is a file; from_pretrained expects the folder written by save_pretrained")
    text = str(name_or_path)
    hint = f"; it is a local path (only names starting with '{HUB_PREFIX}' load from the Hugging Face Hub)"
    if text.count("/") == 1 and not text.startswith((".", "/", "~")):
        hint = f"; to load the Hugging Face Hub repository {text!r}, pass '{HUB_PREFIX}{text}'"
    raise CheckpointError(
        f"{path} does not exist (expected a folder with {CONFIG_NAME} and {WEIGHTS_NAME} written by "
        f"save_pretrained){hint}"
    )


def _download(repo_id: str) -> Path:
    """Download a saved model's config and weights from the Hugging Face Hub (into its cache)."""
    if not repo_id.strip() or repo_id.startswith(("/", ".")):
        raise CheckpointError(
            f"{HUB_PREFIX!r} must be followed by a Hugging Face Hub repository id, e.g. '{HUB_PREFIX}user/repo'; "
            f"got {HUB_PREFIX + repo_id!r}"
        )
    from seg_core.hub_client import import_huggingface_hub

    snapshot_download = import_huggingface_hub(f"loading {HUB_PREFIX + repo_id!r}").snapshot_download
    try:
        return Path(snapshot_download(repo_id, allow_patterns=[CONFIG_NAME, *_FALLBACK_WEIGHTS]))
    except Exception as exc:
        raise CheckpointError(
            f"could not download {repo_id!r} from the Hugging Face Hub ({type(exc).__name__}: {exc}); "
            "when offline, pass the local folder written by save_pretrained"
        ) from exc


def _invalid(path: Path, key: str, expected: str, value: Any) -> CheckpointError:
    return CheckpointError(
        f"{path}: {key!r} must be {expected}, got {value!r}; the file is corrupt or was not written by "
        "save_pretrained (fix the value or save the model again)"
    )


def _validate(path: Path, config: Any) -> dict[str, Any]:
    """Check the types of ``config.json``'s entries; raise naming the first wrong one."""
    if not isinstance(config, dict) or "architecture" not in config:
        raise CheckpointError(f"{path} has no 'architecture' entry; it was not written by seg's save_pretrained")
    arch = config["architecture"]
    if not isinstance(arch, str) or not arch.strip():
        raise _invalid(path, "architecture", "a registered architecture name (a non-empty string)", arch)
    version = config.get("format_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _invalid(path, "format_version", "a positive integer", version)
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {version}, newer than this seg-core understands ({FORMAT_VERSION}); "
            "upgrade seg-core"
        )
    if not isinstance(config.get("init_args", {}), dict):
        raise _invalid(path, "init_args", "an object of constructor arguments", config["init_args"])
    plugins = config.get("plugins", {})
    if not isinstance(plugins, dict):
        raise _invalid(path, "plugins", "an object", plugins)
    for role, info in plugins.items():
        if not isinstance(info, dict):
            raise _invalid(path, f"plugins.{role}", "an object (name, distribution, version)", info)
        for field_name in ("name", "distribution", "version"):
            if not isinstance(info.get(field_name), (str, type(None))):
                raise _invalid(path, f"plugins.{role}.{field_name}", "a string or null", info[field_name])
    for key in ("seg_core_version", "torch_version"):
        if not isinstance(config.get(key), (str, type(None))):
            raise _invalid(path, key, "a version string", config[key])
    return config


def read_config(directory: str | Path) -> dict[str, Any]:
    """Read and validate ``config.json`` from a saved model folder.

    Entries of the wrong type (``init_args`` not an object, a non-string ``architecture``,
    a ``format_version`` that is not a positive integer...) raise, naming the entry.

    Args:
        directory: A folder written by `save_pretrained`.

    Returns:
        The config.

    Raises:
        CheckpointError: Missing, corrupt, malformed or from an unsupported format version.

    Example:
        >>> read_config("runs/unet")["architecture"]  # doctest: +SKIP
        'unet'
    """
    path = current_file(directory, CONFIG_NAME)
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(
            f"{Path(directory) / CONFIG_NAME} is missing; is {directory} a folder written by save_pretrained?"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupt: {exc}") from exc
    return _validate(path, config)


def find_weights(directory: str | Path) -> Path:
    """The weights file of a saved model folder (``model.safetensors``, or a torch file smp/timm write).

    Args:
        directory: A folder written by `save_pretrained` (or smp/timm).

    Returns:
        The file to load.

    Raises:
        CheckpointError: The folder holds none of them.
    """
    weights = next((p for p in (current_file(directory, n) for n in _FALLBACK_WEIGHTS) if p.is_file()), None)
    if weights is None:
        raise CheckpointError(f"{directory} has no weights file (looked for {', '.join(_FALLBACK_WEIGHTS)})")
    return weights
