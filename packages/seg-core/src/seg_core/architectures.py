"""Segmentation models by name: `create_model` from a registered architecture, `from_pretrained` from a saved folder.

This module sits above `seg_core.model` and `seg_core.checkpoint` (which it uses), so
neither of them imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seg_core.checkpoint import CONFIG_NAME, find_weights, load_weights, read_config, resolve_directory
from seg_core.components import create_checked
from seg_core.errors import CheckpointError, ConfigError, UnknownNameError
from seg_core.model import SegmentationModel

__all__ = ["create_model", "from_pretrained"]


def create_model(arch: str, /, **kwargs: Any) -> SegmentationModel:
    """Build a segmentation model by architecture name (case-insensitive).

    Args:
        arch: Registered architecture (``"unet"``, ``"fpn"``...; see `list_architectures`).
        **kwargs: Constructor arguments (``encoder_name``, ``classes``...).

    Returns:
        A `SegmentationModel`.

    Raises:
        UnknownNameError: Unknown architecture (with close matches and the package to install).
        ConfigError: Unknown or invalid arguments.
        PluginError: The registered factory did not build a `SegmentationModel`.

    Example:
        >>> import seg_core
        >>> model = seg_core.create_model("unet", encoder_name="basic_cnn", classes=3)  # doctest: +SKIP
    """
    return create_checked(
        "architectures",
        arch,
        kwargs,
        SegmentationModel,
        "not a seg_core.SegmentationModel; architectures must subclass SegmentationModel",
    )


def from_pretrained(name_or_path: str | Path, *, strict: bool = True, **overrides: Any) -> SegmentationModel:
    """Rebuild a model saved with `save_pretrained` and load its weights.

    Args:
        name_or_path: The folder written by `save_pretrained`, or ``"hf-hub:user/repo"`` for a
            Hugging Face Hub repository (needs huggingface_hub). Without the prefix, the
            argument is always a local path: nothing is downloaded.
        strict: See `load_weights`. Use ``strict=False`` with a changed head
            size (``classes=5``): the head keys are re-initialised and reported.
        **overrides: Constructor arguments replacing the saved ones.

    Returns:
        The model, with ``model.load_report`` set to the `LoadReport`.

    Raises:
        CheckpointError: Missing/corrupt/malformed files (the entry is named), a path that
            does not exist, or (strict) weights that do not fit.
        UnknownNameError: The architecture or encoder is not installed (the message
            says which distribution provided it).
        ConfigError: An override is invalid, or ``hf-hub:`` without huggingface_hub installed.

    Example:
        >>> model = seg_core.from_pretrained("runs/unet", classes=5, strict=False)  # doctest: +SKIP
        >>> model = seg_core.from_pretrained("hf-hub:user/unet-demo")  # doctest: +SKIP
    """
    directory = resolve_directory(name_or_path)
    config = read_config(directory)
    args = dict(config.get("init_args", {}))
    args.update(overrides)
    if "encoder_weights" in args:
        args["encoder_weights"] = None  # the weights are in the file: never download them again
    try:
        model = create_model(config["architecture"], **args)
    except UnknownNameError as exc:
        plugins = config.get("plugins", {})
        needed = [
            f"{info.get('distribution')}=={info.get('version')}"
            for info in plugins.values()
            if isinstance(info, dict) and info.get("distribution")
        ]
        saved_with = f"the model was saved with {', '.join(needed)}" if needed else None
        raise UnknownNameError(exc.kind, exc.name, exc.suggestions, exc.install_hint or saved_with) from exc
    except (ConfigError, TypeError) as exc:
        if overrides:
            raise  # the override may be at fault: keep the argument's own error
        raise CheckpointError(
            f"{Path(directory) / CONFIG_NAME}: its init_args do not build {config['architecture']!r}: {exc}"
        ) from exc
    report = load_weights(model, find_weights(directory), strict=strict)
    model.load_report = report
    return model
