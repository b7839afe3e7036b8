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
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from seg_core.errors import CheckpointError, ConfigError
from seg_core.io import atomic_write_bytes, load_state_file

__all__ = [
    "CONFIG_NAME",
    "FORMAT_VERSION",
    "WEIGHTS_NAME",
    "LoadReport",
    "find_weights",
    "load_weights",
    "read_config",
    "resolve_directory",
    "save_pretrained",
]

#: Version of the on-disk format written by `save_pretrained`.
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
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


def _architecture_name(model: Any) -> str:
    """The registry name of the model's class: its one identity, looked up by target."""
    from seg_core.plugins import get_registry

    cls = type(model)
    name = get_registry("architectures").name_of(cls)
    if name is None:
        raise ConfigError(
            f"{cls.__name__} is not a registered architecture, so it could not be rebuilt from config.json; "
            f'register it first: seg_core.get_registry("architectures").add("my_arch", {cls.__name__})'
        )
    return name


def save_pretrained(model: Any, directory: str | Path) -> Path:
    """Save ``model`` to ``directory`` as ``config.json`` + ``model.safetensors``.

    Both files are written atomically. ``encoder_weights`` is stored as None so a
    reload never downloads encoder weights again.

    Args:
        model: A `SegmentationModel`.
        directory: Target folder (created if needed).

    Returns:
        The folder.

    Raises:
        ConfigError: The model is not registered or an argument cannot be stored.

    Example:
        >>> model.save_pretrained("runs/unet")  # doctest: +SKIP
        >>> seg_core.from_pretrained("runs/unet")  # doctest: +SKIP
    """
    import torch

    from seg_core import __version__
    from seg_core.io import safetensors_bytes as save_bytes
    from seg_core.plugins import get_registry

    directory = Path(directory)
    arch = _architecture_name(model)
    init_args = {k: _jsonable(k, v) for k, v in model.config.items()}
    if "encoder_weights" in init_args:
        init_args["encoder_weights"] = None
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
    config = {
        "format_version": FORMAT_VERSION,
        "architecture": arch,
        "init_args": init_args,
        "plugins": plugins,
        "seg_core_version": __version__,
        "torch_version": torch.__version__,
    }
    state = model.state_dict()  # tied tensors are written once per key: save_bytes copies bytes
    atomic_write_bytes(
        directory / WEIGHTS_NAME, save_bytes(state, {"format": "pt", "seg_format_version": str(FORMAT_VERSION)})
    )
    atomic_write_bytes(directory / CONFIG_NAME, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
    return directory


def load_weights(model: Any, path: str | Path, *, strict: bool = True) -> LoadReport:
    """Load a weights file into ``model`` and report what did not fit.

    Args:
        model: The module to load into.
        path: ``.safetensors``, or a torch pickle read with ``weights_only=True``.
        strict: Raise on any missing, unexpected or size-mismatched key (the message
            says "size mismatch" for those); otherwise load what fits, keep the rest
            initialised and warn with the re-initialised keys.

    Returns:
        A `LoadReport`.

    Raises:
        CheckpointError: Unreadable file, or (strict) keys that do not fit.
    """
    state = load_state_file(path)
    own = model.state_dict()
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
        warnings.warn(
            f"loaded {path} with strict=False; re-initialised keys (train them): "
            f"{', '.join(report.reinitialized) or 'none'}"
            + (f"; ignored unexpected keys: {', '.join(report.unexpected)}" if report.unexpected else ""),
            UserWarning,
            stacklevel=2,
        )
    return report


def resolve_directory(name_or_path: str | Path) -> Path:
    """The folder of a saved model: a local folder, or a Hugging Face Hub repo id downloaded to the cache.

    Raises:
        CheckpointError: The path is a file, does not exist, or could not be downloaded.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{path} is a file; from_pretrained expects the folder written by save_pretrained")
    text = str(name_or_path)
    if text.count("/") == 1 and not text.startswith((".", "/")):
        try:
            from huggingface_hub import snapshot_download
        except ImportError:
            raise CheckpointError(
                f"{text!r} is not a local folder; to load it from the Hugging Face Hub install huggingface_hub"
            ) from None
        try:
            return Path(snapshot_download(text, allow_patterns=[CONFIG_NAME, *_FALLBACK_WEIGHTS]))
        except Exception as exc:
            raise CheckpointError(
                f"could not download {text!r} from the Hugging Face Hub ({type(exc).__name__}: {exc}); "
                "when offline, pass the local folder written by save_pretrained"
            ) from exc
    raise CheckpointError(f"{path} does not exist (expected a folder with {CONFIG_NAME} and {WEIGHTS_NAME})")


def read_config(directory: str | Path) -> dict[str, Any]:
    """Read and validate ``config.json`` from a saved model folder.

    Raises:
        CheckpointError: Missing, corrupt or from an unsupported format version.
    """
    path = Path(directory) / CONFIG_NAME
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; is {directory} a folder written by save_pretrained?") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupt: {exc}") from exc
    if not isinstance(config, dict) or "architecture" not in config:
        raise CheckpointError(f"{path} has no 'architecture' entry; it was not written by seg's save_pretrained")
    version = config.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format_version {version}, newer than this seg-core understands ({FORMAT_VERSION}); "
            "upgrade seg-core"
        )
    return config


def find_weights(directory: Path) -> Path:
    """The weights file of a saved model folder (``model.safetensors``, or a torch file smp/timm write).

    Raises:
        CheckpointError: The folder holds none of them.
    """
    weights = next((directory / n for n in _FALLBACK_WEIGHTS if (directory / n).is_file()), None)
    if weights is None:
        raise CheckpointError(f"{directory} has no weights file (looked for {', '.join(_FALLBACK_WEIGHTS)})")
    return weights
