"""Import checkpoints trained with segmentation_models_pytorch (smp) as seg models.

Scope: the architectures that declare an smp class with the same network
(``ArchitectureSpec.smp_weights``: Unet, UnetPlusPlus, MAnet, Linknet, FPN, PSPNet, PAN,
DeepLabV3, DeepLabV3Plus, UPerNet, Segformer; not DPT) with smp's ``tu-*`` (timm) encoders or its
native ResNet/ResNeXt encoders, which have the same structure as timm's. The encoder is
built by seg-encoders-timm through the registry; this module imports neither timm nor smp.

Weights are read with :func:`seg_core.io.load_state_file` (safetensors, or
``torch.load(weights_only=True)``): arbitrary pickled objects are never loaded.

Example:
    >>> import seg_decoders
    >>> model = seg_decoders.from_smp("path/to/smp_save_pretrained_folder")  # doctest: +SKIP
    >>> model = seg_decoders.from_smp("unet.pth", "Unet", encoder_name="resnet34", classes=3)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import logging
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seg_core.checkpoint import LoadReport
from seg_core.errors import CheckpointError, ConfigError
from seg_core.spec import load_catalog

if TYPE_CHECKING:
    import torch
    from torch import nn

    from seg_core.model import SegmentationModel

__all__ = ["SMP_NATIVE_ENCODERS", "from_smp", "smp_encoder_to_seg"]

_logger = logging.getLogger(__name__)

#: The architectures' declarations (registry name -> registry info), from the generated catalog.
_CATALOG = load_catalog("seg_decoders")
#: smp class name (lower case) -> seg-decoders class name, for architectures that declare an smp class
_ARCHITECTURES = {str(e["smp_class"]).lower(): e["class_name"] for e in _CATALOG.values() if e["smp_weights"]}
#: smp classes seg builds too, but with another network (no weight import), with the reason
_OTHER_NETWORK = {
    str(e["smp_class"]).lower(): e["class_name"] for e in _CATALOG.values() if e["smp_class"] and not e["smp_weights"]
}
#: smp's defaults where seg's differ (seg fixes smp's output sizes with upsampling=None), by smp class (lower case)
_SMP_DEFAULTS: dict[str, dict[str, Any]] = {
    str(e["smp_class"]).lower(): dict(e["smp_defaults"]) for e in _CATALOG.values() if e["smp_class"]
}

#: smp native encoder name -> (timm model, extra timm arguments giving the same network)
SMP_NATIVE_ENCODERS: dict[str, tuple[str, dict[str, Any]]] = {
    "resnet18": ("resnet18", {}),
    "resnet34": ("resnet34", {}),
    "resnet50": ("resnet50", {}),
    "resnet101": ("resnet101", {}),
    "resnet152": ("resnet152", {}),
    "resnext50_32x4d": ("resnext50_32x4d", {}),
    "resnext101_32x4d": ("resnext101_32x4d", {}),
    "resnext101_32x8d": ("resnext101_32x8d", {}),
    "resnext101_32x16d": ("resnext101_32x16d", {}),
    "resnext101_32x32d": ("resnext101_32x32d", {}),
    "resnext101_32x48d": ("resnext101_32x8d", {"base_width": 48}),
}


#: smp's deprecated argument names -> the names both libraries use now
_ALIASES: dict[str, str] = {
    "decoder_use_batchnorm": "decoder_use_norm",
    "psp_use_batchnorm": "decoder_use_norm",
    "upscale_mode": "decoder_interpolation",
}

#: smp decoder modules that exist but never run (seg does not build them): dropped on import and reported
_UNUSED_SMP_KEYS = re.compile(r"^decoder\.blocks\.[^.]+\.attention1\.")

#: seg-encoders-timm's own encoder options: smp's timm keyword arguments must not use these names
_TIMM_FACTORY_OPTIONS = frozenset({"indices", "channels", "adapter", "scale_factors", "norm"})

_SMP_DEFAULT_ENCODER = "resnet34"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.pth", "model.pt")


def _supported_message() -> str:
    return (
        "from_smp supports smp's 'tu-<timm model>' encoders and its native ResNet/ResNeXt encoders ("
        + ", ".join(SMP_NATIVE_ENCODERS)
        + ")"
    )


def smp_encoder_to_seg(encoder_name: str) -> tuple[str, dict[str, Any], bool]:
    """Translate an smp encoder name to the seg encoder building the same network.

    Args:
        encoder_name: smp's ``encoder_name`` (``"resnet34"``, ``"tu-convnext_tiny"``...).

    Returns:
        ``(seg encoder name, extra encoder_params, is_native)``: the seg-encoders-timm
        name, the timm arguments that complete it, and whether smp used its native encoder.

    Raises:
        ConfigError: The encoder is outside the supported set (the message lists it).

    Example:
        >>> smp_encoder_to_seg("resnet50")
        ('tu-resnet50', {}, True)
        >>> smp_encoder_to_seg("tu-convnext_tiny")
        ('tu-convnext_tiny', {}, False)
    """
    if not isinstance(encoder_name, str) or not encoder_name:
        raise ConfigError(f"encoder_name must be a non-empty string, got {encoder_name!r}; {_supported_message()}")
    if encoder_name.startswith("tu-") and len(encoder_name) > 3:
        return encoder_name, {}, False
    native = SMP_NATIVE_ENCODERS.get(encoder_name)
    if native is None:
        raise ConfigError(f"smp encoder {encoder_name!r} cannot be imported: {_supported_message()}")
    timm_name, extra = native
    return f"tu-{timm_name}", dict(extra), True


def _model_class(arch: str) -> Any:
    import seg_decoders

    return getattr(seg_decoders, _ARCHITECTURES[arch])


def _read_folder(folder: Path) -> tuple[dict[str, Any], Path]:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise CheckpointError(
            f"{folder} has no config.json; pass the folder written by smp's save_pretrained, or a weights "
            "file plus the architecture: from_smp(path, 'Unet', encoder_name=...)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CheckpointError(f"{config_path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_path} must hold a JSON object, got {type(config).__name__}")
    for name in _WEIGHT_FILES:
        if (folder / name).is_file():
            return config, folder / name
    raise CheckpointError(f"{folder} has no weights file; expected one of {list(_WEIGHT_FILES)}")


def _normalise_norm(value: Any, name: str) -> Any:
    if value is True:
        return "batchnorm"
    if value is False:
        return "identity"
    if value == "inplace":
        raise ConfigError(f"{name}='inplace' (inplace_abn) is not supported by seg; use 'batchnorm'")
    return value


def _seg_arguments(arch: str, config: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """Turn smp constructor arguments into seg ones; returns them and whether the encoder is native."""
    cls = _model_class(arch)
    from seg_core.building import MODEL_DEFAULTS

    accepted = (set(inspect.signature(cls).parameters) - {"kwargs"}) | set(MODEL_DEFAULTS)
    args: dict[str, Any] = dict(_SMP_DEFAULTS.get(arch, {}))
    extra: dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith("_"):
            continue
        if key in _ALIASES:
            target = _ALIASES[key]
            if target in accepted and target not in config:
                args[target] = _normalise_norm(value, key) if target == "decoder_use_norm" else value
            continue
        if key == "output_stride":  # smp forwards it to its encoder from any model
            if value not in (None, 32):
                args["encoder_output_stride"] = value
            continue
        if key == "decoder_use_norm":
            value = _normalise_norm(value, key)
        if key in accepted:
            args[key] = value
        else:
            extra[key] = value
    args.setdefault("encoder_name", _SMP_DEFAULT_ENCODER)
    seg_name, native_params, native = smp_encoder_to_seg(args["encoder_name"])
    args["encoder_name"] = seg_name
    args["encoder_weights"] = None  # the checkpoint holds the encoder; never download
    params = dict(args.get("encoder_params") or {})
    if native:
        if extra:
            warnings.warn(
                f"smp ignores extra arguments {sorted(extra)} for its native encoder "
                f"{config.get('encoder_name')!r}; from_smp ignores them too",
                UserWarning,
                stacklevel=3,
            )
        params.update(native_params)
    else:
        clash = sorted(set(extra) & _TIMM_FACTORY_OPTIONS)
        if clash:
            raise ConfigError(
                f"smp passed {clash} to timm.create_model for {config.get('encoder_name')!r}, but seg-encoders-timm "
                f"uses these names for its own options ({sorted(_TIMM_FACTORY_OPTIONS)}), so this checkpoint "
                "cannot be rebuilt"
            )
        params.update(extra)  # smp passes them to timm.create_model, so does seg-encoders-timm
    if params:
        args["encoder_params"] = params
    for key in ("decoder_channels", "decoder_atrous_rates"):
        if isinstance(args.get(key), list):
            args[key] = tuple(args[key])
    if args.get("encoder_output_stride") is None:  # not given: the architecture's declared default applies
        args.pop("encoder_output_stride", None)
    return args, native


def _dilated_stages(output_stride: int | None) -> dict[str, int]:
    """smp's native ResNet dilation: stage name -> dilation rate for ``output_stride``."""
    if output_stride in (None, 32):
        return {}
    assert output_stride is not None
    return {
        name: stride // output_stride for name, stride in (("layer3", 16), ("layer4", 32)) if stride > output_stride
    }


def _match_smp_dilation(encoder: nn.Module, output_stride: int | None) -> None:
    """Give dilated stages smp's pattern: every conv of a stage uses the stage's rate.

    timm keeps the previous rate in the first block of a dilated stage (as torchvision
    does); smp's native encoders rewrite every convolution of the stage, so their weights
    were trained with that pattern.
    """
    from torch import nn

    rates = _dilated_stages(output_stride)
    if not rates:
        return
    for name, module in encoder.named_modules():
        rate = rates.get(name.rsplit(".", 1)[-1])
        if rate is None:
            continue
        for conv in module.modules():
            if isinstance(conv, nn.Conv2d):
                kernel = conv.kernel_size
                conv.stride = (1, 1)
                conv.dilation = (rate, rate)
                conv.padding = ((kernel[0] // 2) * rate, (kernel[1] // 2) * rate)


def _use_smp_pab_layout(model: nn.Module) -> None:
    """Make MAnet's position attention block reshape its output the way smp does.

    smp reshapes the ``(batch, pixels, channels)`` attention output straight to
    ``(batch, channels, H, W)``; seg transposes first. smp's weights were trained with
    smp's layout, so the imported model keeps it (parameters are unchanged).
    """
    import torch

    center = getattr(getattr(model, "decoder", None), "center", None)
    if center is None or not hasattr(center, "top_conv"):
        return
    base = type(center)

    class _SmpLayoutPAB(base):  # type: ignore[misc, valid-type]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            batch, pixels = x.shape[0], x[0, 0].numel()
            top = self.top_conv(x).flatten(2)
            center_map = self.center_conv(x).flatten(2).transpose(1, 2)
            bottom = self.bottom_conv(x).flatten(2).transpose(1, 2)
            attn = self.map_softmax(torch.matmul(center_map, top).reshape(batch, -1)).reshape(batch, pixels, pixels)
            out = torch.matmul(attn, bottom).reshape(x.shape)  # no transpose: smp's layout
            return self.out_conv(x + out)

    _SmpLayoutPAB.__name__ = _SmpLayoutPAB.__qualname__ = f"{base.__name__}SmpLayout"
    center.__class__ = _SmpLayoutPAB


def _encoder_prefix(seg_keys: list[str], suffixes: list[str]) -> str:
    """Find the prefix under which the seg model stores the backbone's own keys."""
    for suffix in suffixes:
        found = sorted(
            (k[: -len(suffix)] for k in seg_keys if k.startswith("encoder.") and k.endswith("." + suffix)), key=len
        )
        if found:
            return found[0]
    return "encoder."


class _DeeperStages:
    """The backbone modules deeper than the encoder's deepest used map, which seg does not build.

    smp builds its whole encoder whatever ``encoder_depth`` is: its native ResNets keep
    ``layer3``/``layer4`` at depth 2, and timm's EfficientNet/MobileNet feature models keep
    every ``blocks.N``. Their outputs never reach the decoder. seg builds the backbone only
    up to the deepest map it uses. Module paths are relative to the backbone model (the
    keys after smp's ``encoder.`` or ``encoder.model.``), as the encoder's `features_info`
    names them.

    A path is deeper when it is a feature module after the deepest used one (``layer3``,
    ``blocks.6``), or a child of the same ``nn.Sequential`` between the deepest used one
    and the last feature module (``blocks.3`` and ``blocks.5`` for EfficientNet-B0 at
    depth 3, whose maps come from ``blocks.0/1/2/4/6``). Nothing else is.
    """

    def __init__(self, encoder: Any) -> None:
        rows = [r for r in getattr(encoder, "features_info", ()) if r.index is not None]
        used = [r.index for r in rows if r.selected]
        self.names: set[str] = set()
        self.between: tuple[str, int, int] | None = None
        if not used or any(not r.module for r in rows):
            return  # unknown layout: nothing is deeper, every unexpected key stays an error
        last = max(used)
        for row in rows:
            if row.index > last:
                self.names.add(row.module)
                self.names.add(row.module.replace(".", "_"))  # timm's flattened FeatureListNet names
        parent, _, child = next(r.module for r in rows if r.index == last).rpartition(".")
        if parent and child.isdigit():
            siblings = [r.module[len(parent) + 1 :] for r in rows if r.module.startswith(parent + ".")]
            self.between = (parent, int(child), max(int(i) for i in siblings if i.isdigit()))

    def stage_of(self, suffix: str) -> str | None:
        """The deeper stage holding the backbone key ``suffix``, or None."""
        for name in self.names:
            if suffix.startswith(name + "."):
                return name
        if self.between is not None:
            parent, last, end = self.between
            if suffix.startswith(parent + "."):
                child = suffix[len(parent) + 1 :].split(".", 1)[0]
                if child.isdigit() and last < int(child) <= end:
                    return f"{parent}.{child}"
        return None


def _convert_state(
    state: Mapping[str, Any], seg_state: Mapping[str, Any], native: bool, encoder: Any
) -> tuple[dict[str, Any], list[str]]:
    """Rename smp keys to seg's layout; return the new state and the smp keys dropped as unused.

    Only two kinds of keys are dropped, both for modules smp builds but never runs: keys of
    encoder stages deeper than the deepest map the encoder uses (`_DeeperStages`), when seg
    builds nothing under that stage, and the ``attention1`` of smp's last Unet block. Every
    other key is kept, so that `_check_and_load` reports it if it does not fit.
    """
    smp_prefix = "encoder." if native else "encoder.model."
    suffixes = [k[len(smp_prefix) :] for k in state if k.startswith(smp_prefix)]
    if not suffixes:
        raise CheckpointError(
            f"the checkpoint has no keys under {smp_prefix!r}; it was not saved by smp with "
            f"{'a native' if native else 'a tu-'} encoder (first keys: {list(state)[:5]})"
        )
    seg_keys = list(seg_state)
    prefix = _encoder_prefix(seg_keys, suffixes)
    deeper = _DeeperStages(encoder)
    built: dict[str, bool] = {}
    out: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in state.items():
        if not key.startswith(smp_prefix):
            if key not in seg_state and _UNUSED_SMP_KEYS.match(key):
                dropped.append(key)  # e.g. smp's attention1 of the last Unet block, which has no skip
                continue
            out[key] = value
            continue
        suffix = key[len(smp_prefix) :]
        new_key = prefix + suffix
        stage = None if new_key in seg_state else deeper.stage_of(suffix)
        if stage is not None:
            if stage not in built:
                built[stage] = any(k.startswith(prefix + stage + ".") for k in seg_keys)
            if not built[stage]:
                dropped.append(key)  # a stage beyond encoder_depth: smp keeps it, it never runs
                continue
        out[new_key] = value
    return out, sorted(dropped)


def _check_and_load(model: nn.Module, state: dict[str, Any], source: str) -> None:
    import torch

    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if isinstance(state[k], torch.Tensor) and state[k].shape != expected[k].shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} key(s) {missing[:8]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} key(s) {unexpected[:8]}")
        if shapes:
            parts.append(f"shape mismatches {shapes[:8]}")
        raise CheckpointError(
            f"the smp checkpoint {source} does not fit the seg model built from its arguments: "
            + "; ".join(parts)
            + ". Check that the architecture and arguments (encoder_name, encoder_depth, classes, decoder_*...) "
            "are the ones the checkpoint was trained with."
        )
    model.load_state_dict(state, strict=True)


def _require_timm_encoders() -> None:
    if importlib.util.find_spec("seg_encoders_timm") is None:
        raise ConfigError(
            "from_smp builds smp's ResNet/ResNeXt and tu-* encoders with seg-encoders-timm, which is not "
            "installed: pip install ./packages/seg-encoders-timm (from a seg checkout)"
        )


def from_smp(
    source: str | Path | Mapping[str, torch.Tensor],
    arch: str | None = None,
    /,
    **kwargs: Any,
) -> SegmentationModel:
    """Build the seg model equivalent to an smp checkpoint and load its weights.

    Args:
        source: A folder written by smp's ``save_pretrained`` (``config.json`` names the
            architecture and arguments), a weights file (``.safetensors``, or a torch pickle
            ``.pth``/``.pt``/``.bin`` read with ``weights_only=True``), or a state dict.
        arch: smp's architecture class (``"Unet"``, ``"DeepLabV3Plus"``..., case-insensitive).
            Required for a file or a state dict; overrides ``_model_class`` for a folder.
        **kwargs: smp constructor arguments (``encoder_name``, ``encoder_depth``, ``classes``,
            ``decoder_*``, timm keyword arguments of ``tu-`` encoders...). For a folder they
            override config.json; otherwise smp's defaults fill the rest (``resnet34``...).

    Returns:
        A seg-decoders model in eval mode whose outputs match smp's for the same weights.
        Its ``load_report`` (a `seg_core.checkpoint.LoadReport`) lists in ``unexpected``
        the checkpoint keys dropped because smp builds their modules but never runs them:
        encoder stages deeper than ``encoder_depth`` (seg does not build them) and the
        last Unet block's ``attention1``. It is empty when every key was loaded.

    Raises:
        ConfigError: Unknown architecture, unsupported encoder (the message lists the
            supported ones), or seg-encoders-timm not installed.
        CheckpointError: Unreadable weights, or keys/shapes that do not fit the arguments
            (any key other than the dropped ones above that seg's model lacks is an error).

    Example:
        >>> import seg_decoders
        >>> model = seg_decoders.from_smp("runs/smp_unet")  # doctest: +SKIP
        >>> model = seg_decoders.from_smp("unet.pth", "Unet", encoder_name="resnet34", classes=3)  # doctest: +SKIP
    """
    from seg_core.io import load_state_file

    config: dict[str, Any] = {}
    if isinstance(source, Mapping):
        state = dict(source)
        where = "state dict"
    else:
        path = Path(source)
        where = str(path)
        if path.is_dir():
            config, weights_path = _read_folder(path)
            state = load_state_file(weights_path)
        elif path.is_file():
            state = load_state_file(path)
        else:
            raise CheckpointError(f"{path} is neither an smp save_pretrained folder nor a weights file")
    arch_name = arch if arch is not None else config.get("_model_class")
    if arch_name is None:
        raise ConfigError(
            "from_smp needs the architecture for a weights file or a state dict: "
            f"from_smp(source, 'Unet', encoder_name=...); choose from {sorted(_ARCHITECTURES.values())}"
        )
    key = str(arch_name).lower()
    if key in _OTHER_NETWORK:
        raise ConfigError(
            f"smp's {arch_name} checkpoints cannot be imported: seg's {_OTHER_NETWORK[key]} is a different network "
            f"(see its documentation page); train seg_decoders.{_OTHER_NETWORK[key]} instead. "
            f"from_smp imports {sorted(_ARCHITECTURES.values())}"
        )
    if key not in _ARCHITECTURES:
        raise ConfigError(
            f"smp architecture {arch_name!r} is not supported by from_smp; choose from {sorted(_ARCHITECTURES.values())}"
        )
    if not all(isinstance(k, str) for k in state):
        raise CheckpointError(f"{where}: a state dict needs string keys")
    args, native = _seg_arguments(key, {**config, **kwargs})
    _require_timm_encoders()
    model: SegmentationModel = _model_class(key)(**args)
    if native:
        _match_smp_dilation(model.encoder, model.config["encoder_output_stride"])
    _use_smp_pab_layout(model)  # a no-op unless the model has MAnet's position attention block
    converted, dropped = _convert_state(state, model.state_dict(), native, model.encoder)
    _check_and_load(model, converted, where)
    if dropped:
        _logger.info(
            "from_smp: dropped %d key(s) of modules smp builds but never runs (listed in model.load_report.unexpected)",
            len(dropped),
        )
    model.load_report = LoadReport(unexpected=dropped)
    return model.eval()
