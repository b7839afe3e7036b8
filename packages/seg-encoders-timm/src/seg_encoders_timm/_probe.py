"""Decide how a timm model becomes an encoder by building it on the ``meta`` device (no weights, no memory)."""

from __future__ import annotations

from typing import Any

import timm
import torch

__all__ = ["KIND_FEATURES", "KIND_UNSUPPORTED", "KIND_VIT", "probe_model"]

KIND_FEATURES = "features"
KIND_VIT = "vit"
KIND_UNSUPPORTED = "unsupported"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}"


def _vit_info(model: Any) -> dict[str, Any] | None:
    """Return ViT facts (blocks, patch size, width...) for a plain transformer, else None."""
    has_fi = callable(getattr(model, "forward_intermediates", None))
    has_gil = callable(getattr(model, "get_intermediate_layers", None))
    patch_embed = getattr(model, "patch_embed", None)
    blocks = getattr(model, "blocks", None)
    if not (has_fi or has_gil) or patch_embed is None or blocks is None:
        return None
    patch = getattr(patch_embed, "patch_size", None)
    if patch is None:
        return None
    patch_hw = (int(patch), int(patch)) if isinstance(patch, int) else (int(patch[0]), int(patch[-1]))
    return {
        "blocks": len(blocks),
        "patch_size": list(patch_hw),
        "width": int(getattr(model, "num_features", getattr(model, "embed_dim", 0))),
        "num_prefix_tokens": int(getattr(model, "num_prefix_tokens", 0) or 0),
        "intermediates": "forward_intermediates" if has_fi else "get_intermediate_layers",
    }


def _size_mismatch(model: Any, reductions: list[int], fmt: str) -> str | None:
    """Run the meta model once; describe maps whose real size is not ``ceil(size / reduction)``."""
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


def _dilates(name: str, kwargs: dict[str, Any]) -> bool:
    """Whether timm builds ``name`` with ``output_stride=16`` and really stops at stride 16."""
    try:
        with torch.device("meta"):
            net: Any = timm.create_model(name, pretrained=False, features_only=True, output_stride=16, **kwargs)
        return max(int(r) for r in net.feature_info.reduction()) == 16
    except Exception:
        return False


def probe_model(name: str, **timm_kwargs: Any) -> dict[str, Any]:
    """Build ``name`` on the meta device and describe how seg can use it.

    Args:
        name: A timm model name (with or without a pretrained tag).
        **timm_kwargs: Extra ``timm.create_model`` arguments (``img_size``...).

    Returns:
        A JSON-able dict with ``kind`` (``"features"``, ``"vit"`` or ``"unsupported"``),
        and for features: ``channels``, ``reductions``, ``modules``, ``out_indices``,
        ``feature_format``; for ViTs: ``blocks``, ``patch_size``, ``width``,
        ``num_prefix_tokens``; for unsupported: ``reason``.
    """
    kwargs = {k: v for k, v in timm_kwargs.items() if k not in ("pretrained", "features_only")}
    features_error: str | None = None
    result: dict[str, Any] | None = None
    try:
        with torch.device("meta"):
            model: Any = timm.create_model(name, pretrained=False, features_only=True, **kwargs)
        info = model.feature_info
        fmt = getattr(model, "output_fmt", "NCHW")
        result = {
            "kind": KIND_FEATURES,
            "channels": [int(c) for c in info.channels()],
            "reductions": [int(r) for r in info.reduction()],
            "modules": [str(m) for m in info.module_name()],
            "out_indices": [int(i) for i in info.out_indices],
            "feature_format": "NHWC" if str(getattr(fmt, "value", fmt)).upper() == "NHWC" else "NCHW",
        }
    except Exception as exc:
        features_error = _short(exc)
    if result is not None:
        mismatch = _size_mismatch(model, result["reductions"], result["feature_format"])
        if mismatch:
            result["size_mismatch"] = mismatch
    if result is not None and len(set(result["reductions"])) > 1:
        result["dilation"] = max(result["reductions"]) >= 32 and _dilates(name, kwargs)
    equal = result is not None and len(set(result["reductions"])) == 1
    if result is None or equal:
        try:
            with torch.device("meta"):
                full = timm.create_model(name, pretrained=False, num_classes=0, **kwargs)
            vit = _vit_info(full)
        except Exception as exc:
            vit = None
            features_error = features_error or _short(exc)
        if vit is not None:
            vit = {"kind": KIND_VIT, **vit}
            if result is not None:
                vit["features"] = result
            return vit
    if result is not None:
        return result
    return {"kind": KIND_UNSUPPORTED, "reason": f"features_only=True fails ({features_error}) and no ViT intermediates"}
