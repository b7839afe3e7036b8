"""Decide how a timm model becomes an encoder by building it on the ``meta`` device (no weights, no memory).

A probe's result is a :class:`Probe`; :data:`PROBE_FORMAT` versions its layout. Both live
here, next to :func:`probe_model` that fills them, so that whoever changes what a probe
holds sees the version to bump. Importing this module is cheap: torch and timm load only
when a model is probed, so the disk cache can read and write probes without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KIND_FEATURES",
    "KIND_UNSUPPORTED",
    "KIND_VIT",
    "PROBE_FORMAT",
    "WEIGHT_ARGUMENTS",
    "Probe",
    "meta_forward_error",
    "option_error",
    "probe_model",
]

#: Version of the probe layout: the fields of :class:`Probe`, their JSON form and how
#: :func:`probe_model` computes them. The disk cache records it and ignores a file of
#: another version, so bump it with any such change (tests pin the fields to it).
PROBE_FORMAT = 1

KIND_FEATURES = "features"
KIND_VIT = "vit"
KIND_UNSUPPORTED = "unsupported"

# The fields each kind uses, in JSON order; fields left at None are omitted from the JSON.
_FIELDS: dict[str, tuple[str, ...]] = {
    KIND_FEATURES: ("channels", "reductions", "modules", "out_indices", "feature_format", "size_mismatch", "dilation"),
    KIND_VIT: ("blocks", "patch_size", "width", "num_prefix_tokens", "intermediates", "features"),
    KIND_UNSUPPORTED: ("reason",),
}


def _ints(value: Any) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list of ints, got {value!r}")
    return tuple(int(v) for v in value)


def _strs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected a bool, got {value!r}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, got {value!r}")
    return value


_PARSE: dict[str, Callable[[Any], Any]] = {
    "channels": _ints,
    "reductions": _ints,
    "modules": _strs,
    "out_indices": _ints,
    "feature_format": _str,
    "size_mismatch": _str,
    "dilation": _bool,
    "blocks": _int,
    "patch_size": _ints,
    "width": _int,
    "num_prefix_tokens": _int,
    "intermediates": _str,
    "features": lambda value: Probe.from_dict(value),
    "reason": _str,
}


@dataclass(frozen=True)
class Probe:
    """How a timm model becomes an encoder, as :func:`probe_model` found it.

    Which fields are filled depends on ``kind``; the others keep their defaults.

    Attributes:
        kind: ``"features"`` (a ``features_only`` pyramid), ``"vit"`` (a plain
            transformer with block intermediates) or ``"unsupported"``.
        channels: Features: channels of each ``features_only`` map.
        reductions: Features: reduction (stride) of each map.
        modules: Features: the timm module producing each map.
        out_indices: Features: timm's ``out_indices`` of each map.
        feature_format: Features: ``"NCHW"`` or ``"NHWC"`` (channels-last maps, Swin-like).
        size_mismatch: Features: how the maps miss ``ceil(size / reduction)``, None if they do not.
        dilation: Features: whether timm builds ``output_stride=16`` (None for single-stride maps).
        blocks: ViT: number of transformer blocks.
        patch_size: ViT: patch height and width.
        width: ViT: token width.
        num_prefix_tokens: ViT: class and register tokens.
        intermediates: ViT: ``"forward_intermediates"`` or ``"get_intermediate_layers"``.
        features: ViT: the model's ``features_only`` pyramid, when timm offers one.
        reason: Unsupported: why.
    """

    kind: str
    channels: tuple[int, ...] = ()
    reductions: tuple[int, ...] = ()
    modules: tuple[str, ...] = ()
    out_indices: tuple[int, ...] = ()
    feature_format: str = "NCHW"
    size_mismatch: str | None = None
    dilation: bool | None = None
    blocks: int = 0
    patch_size: tuple[int, ...] = ()
    width: int = 0
    num_prefix_tokens: int = 0
    intermediates: str = "forward_intermediates"
    features: Probe | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _FIELDS:
            raise ValueError(f"probe kind must be one of {tuple(_FIELDS)}, got {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``kind`` and the fields of that kind (lists for tuples, None fields left out)."""
        out: dict[str, Any] = {"kind": self.kind}
        for name in _FIELDS[self.kind]:
            value = getattr(self, name)
            if value is not None:
                out[name] = (
                    value.to_dict() if isinstance(value, Probe) else list(value) if isinstance(value, tuple) else value
                )
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Probe:
        """Read the JSON form written by :meth:`to_dict`.

        Args:
            data: ``kind`` and fields of that kind; missing fields take their defaults.

        Returns:
            The :class:`Probe`.

        Raises:
            ValueError: Unknown kind or field (a probe of another layout).
            TypeError: A field of the wrong type.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"a probe must be a mapping, got {type(data).__name__}")
        kind = data.get("kind")
        if kind not in _FIELDS:
            raise ValueError(f"probe kind must be one of {tuple(_FIELDS)}, got {kind!r}")
        unknown = sorted(set(data) - {"kind", *_FIELDS[kind]})
        if unknown:
            raise ValueError(f"a {kind!r} probe has no fields {unknown}")
        values = {name: _PARSE[name](data[name]) for name in _FIELDS[kind] if data.get(name) is not None}
        return cls(kind, **values)

    @classmethod
    def of(cls, value: Probe | Mapping[str, Any]) -> Probe:
        """``value`` itself, or the :class:`Probe` its JSON form describes."""
        return value if isinstance(value, Probe) else cls.from_dict(value)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}"


def _vit_probe(model: Any, features: Probe | None) -> Probe | None:
    """The ViT facts (blocks, patch size, width...) of a plain transformer, else None."""
    has_fi = callable(getattr(model, "forward_intermediates", None))
    has_gil = callable(getattr(model, "get_intermediate_layers", None))
    patch_embed = getattr(model, "patch_embed", None)
    blocks = getattr(model, "blocks", None)
    if not (has_fi or has_gil) or patch_embed is None or blocks is None:
        return None
    patch = getattr(patch_embed, "patch_size", None)
    if patch is None:
        return None
    return Probe(
        KIND_VIT,
        blocks=len(blocks),
        patch_size=(int(patch), int(patch)) if isinstance(patch, int) else (int(patch[0]), int(patch[-1])),
        width=int(getattr(model, "num_features", getattr(model, "embed_dim", 0))),
        num_prefix_tokens=int(getattr(model, "num_prefix_tokens", 0) or 0),
        intermediates="forward_intermediates" if has_fi else "get_intermediate_layers",
        features=features,
    )


def _size_mismatch(model: Any, reductions: tuple[int, ...], fmt: str) -> str | None:
    """Run the meta model once; describe maps whose real size is not ``ceil(size / reduction)``."""
    import torch

    cfg = getattr(model, "pretrained_cfg", {}) or {}
    size = int(cfg.get("input_size", (3, 224, 224))[-1]) if cfg.get("fixed_input_size") else 256
    try:
        with torch.device("meta"), torch.no_grad():
            feats = model(torch.empty(1, 3, size, size))
    except Exception:  # some ops have no meta kernel; nothing to report then
        return None
    if isinstance(feats, dict):
        feats = list(feats.values())
    notes = []
    for feat, red in zip(feats, reductions):
        got = int(feat.shape[1] if fmt == "NHWC" else feat.shape[-1])
        want = -(-size // red)
        if got != want:
            notes.append(f"hw/{red}: {got} instead of {want}")
    return f"input {size}: " + ", ".join(notes) if notes else None


def _create(name: str, **kwargs: Any) -> Any:
    """``timm.create_model`` on the meta device, or on the CPU where an op it runs while
    building has no meta kernel on this torch (``torch.unique`` in RegNet on torch 2.2)."""
    import timm
    import torch

    try:
        with torch.device("meta"):
            return timm.create_model(name, pretrained=False, **kwargs)
    except NotImplementedError:
        return timm.create_model(name, pretrained=False, **kwargs)


def _dilates(name: str, kwargs: dict[str, Any]) -> bool:
    """Whether timm builds ``name`` with ``output_stride=16`` and really stops at stride 16."""
    try:
        net = _create(name, features_only=True, output_stride=16, **kwargs)
        return max(int(r) for r in net.feature_info.reduction()) == 16
    except Exception:
        return False


def _features_probe(name: str, kwargs: dict[str, Any]) -> Probe:
    """The ``features_only`` pyramid of ``name`` (raises what timm raises when it has none)."""
    model = _create(name, features_only=True, **kwargs)
    info = model.feature_info
    fmt = getattr(model, "output_fmt", "NCHW")
    fmt = "NHWC" if str(getattr(fmt, "value", fmt)).upper() == "NHWC" else "NCHW"
    reductions = tuple(int(r) for r in info.reduction())
    return Probe(
        KIND_FEATURES,
        channels=tuple(int(c) for c in info.channels()),
        reductions=reductions,
        modules=tuple(str(m) for m in info.module_name()),
        out_indices=tuple(int(i) for i in info.out_indices),
        feature_format=fmt,
        size_mismatch=_size_mismatch(model, reductions, fmt),
        dilation=max(reductions) >= 32 and _dilates(name, kwargs) if len(set(reductions)) > 1 else None,
    )


def probe_model(name: str, **timm_kwargs: Any) -> Probe:
    """Build ``name`` on the meta device and describe how seg can use it.

    Args:
        name: A timm model name (with or without a pretrained tag).
        **timm_kwargs: Extra ``timm.create_model`` arguments (``img_size``...).

    Returns:
        A :class:`Probe` of kind ``"features"`` (a pyramid of distinct strides), ``"vit"``
        (a plain transformer; with its ``features_only`` maps, if any, in ``features``)
        or ``"unsupported"`` (with the ``reason``).
    """
    kwargs = {k: v for k, v in timm_kwargs.items() if k not in ("pretrained", "features_only")}
    features_error: str | None = None
    features: Probe | None = None
    try:
        features = _features_probe(name, kwargs)
    except Exception as exc:
        features_error = _short(exc)
    if features is not None and len(set(features.reductions)) != 1:  # a pyramid, not a ViT's equal strides
        return features
    try:
        full = _create(name, num_classes=0, **kwargs)
        vit = _vit_probe(full, features)
    except Exception as exc:
        vit = None
        features_error = features_error or _short(exc)
    if vit is not None:
        return vit
    if features is not None:
        return features
    return Probe(KIND_UNSUPPORTED, reason=f"features_only=True fails ({features_error}) and no ViT intermediates")


#: ``timm.create_model`` arguments seg sets itself (weights); not the user's network options.
WEIGHT_ARGUMENTS = frozenset({"pretrained", "pretrained_cfg", "pretrained_cfg_overlay"})


def meta_forward_error(module: Any, input_size: Sequence[int], in_channels: int) -> Exception | None:
    """Run ``module`` once on the meta device (its weights swapped for meta tensors) and return what it raises.

    Costs no memory and no computation: only shapes flow. A network built with options that
    cannot work (``norm_layer="layernorm"`` on a channels-first CNN) fails here as it would
    on real data. Failures that come from the meta device itself (an op without a meta
    kernel, a tensor kept outside the module's parameters and buffers) are ignored.

    Args:
        module: The built encoder (an ``nn.Module``); left unchanged.
        input_size: Spatial size of the probe input.
        in_channels: Its channels.

    Returns:
        The exception the forward raised, or None when it ran (or failed for meta reasons).
    """
    import warnings

    import torch
    from torch.func import functional_call

    state = {name: torch.empty_like(t, device="meta") for name, t in module.named_parameters()}
    state.update({name: torch.empty_like(t, device="meta") for name, t in module.named_buffers()})
    x = torch.empty((2, int(in_channels), *(int(s) for s in input_size)), device="meta")  # 2: batch norm trains
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            functional_call(module, state, (x,))
    except NotImplementedError:
        return None
    except Exception as exc:
        text = str(exc).lower()
        return None if "meta" in text or "device" in text else exc
    return None


def option_error(model_name: str, options: Mapping[str, Any], exc: BaseException) -> str:
    """The message for a timm model that ``options`` (``encoder_params``) build broken (see `meta_forward_error`)."""
    shown = ", ".join(f"{k!r}: {v!r}" for k, v in options.items())
    message = (
        f"timm model {model_name!r} built with encoder_params={{{shown}}} cannot run: a dry run on the meta "
        f"device fails with {_short(exc)}. Fix or remove these options"
    )
    norms = [k for k, v in options.items() if isinstance(v, str) and v.lower().replace("_", "") == "layernorm"]
    if norms:
        message += (
            f"; {norms[0]}={options[norms[0]]!r} normalises the last axis, but this network's maps are "
            f"channels-first (N, C, H, W): use {norms[0]}='layernorm2d'"
        )
    return message
