"""The registry provider of timm encoders. Imports neither torch nor timm (names come from the cache)."""

from __future__ import annotations

from typing import Any

from seg_encoders_timm._names import parse_name
from seg_encoders_timm._probe import KIND_FEATURES, Probe

__all__ = ["TimmEncoderProvider"]


class TimmEncoderProvider:
    """Every timm model (bare, ``tu-`` prefixed, with or without a tag) as an encoder name.

    ``names()`` lists the timm models not known to be unsupported (probes recorded in
    the cache); ``has()`` accepts any timm model, so that an unsupported one is reported
    with its reason at creation instead of as an unknown name.
    """

    name = "timm"

    #: Small, representative names (a tiny CNN, a tiny ViT) that build in a moment on CPU with
    #: random weights; the registry-wide conformance test runs ``check_encoder`` on them.
    examples: tuple[str, ...] = ("tu-test_resnet", "test_vit")

    def names(self, pattern: str | None = None) -> list[str]:
        """Return timm model names matching the fnmatch ``pattern`` (all if None)."""
        from seg_encoders_timm.catalog import match

        return match(pattern)

    def has(self, name: str) -> bool:
        """Return True if ``name`` (without ``tu-``/tag) is a timm model."""
        from seg_encoders_timm.catalog import known_names

        if not isinstance(name, str) or not name.strip():
            return False
        return parse_name(name).base in known_names()

    def create(self, name: str, /, **kwargs: Any) -> Any:
        """Build the encoder (see :func:`seg_encoders_timm.create_timm_encoder`)."""
        from seg_encoders_timm.factory import create_timm_encoder

        return create_timm_encoder(name, **kwargs)

    def info(self, name: str) -> dict[str, Any]:
        """Return what is known without building: family, timm name, tag and any cached probe."""
        from seg_encoders_timm.catalog import shared_cache

        parsed = parse_name(name)
        out: dict[str, Any] = {
            "description": f"timm model {parsed.base} (features_only or ViT adapter)",
            "family": "timm",
            "spatial_dims": (2,),
            "timm_name": parsed.base,
            "tag": parsed.tag,
        }
        probe = shared_cache().probe(parsed.base)
        if probe is not None:
            out["support"] = probe.kind
            out.update(_pyramid_info(probe))  # used by list_encoders(compatible_with=...)
        return out


_DEFAULT_DEPTH = 5


def _pyramid_info(probe: Probe | None, in_channels: int = 3) -> dict[str, Any]:
    """The default-depth pyramid a cached probe implies, as registry info keys.

    Returns ``{"out_channels": (...), "reductions": (...)}`` (index 0 is the input) for
    feature pyramids whose strides go 2, 4, 8... or 4, 8... (a zero-channel stride-2
    level is inserted, as the encoder does), and ``{}`` when the probe is missing or
    the layout needs the adapter's judgement (ViTs, other stride patterns).
    """
    if probe is None or probe.kind != KIND_FEATURES:
        return {}
    channels, reductions = list(probe.channels), list(probe.reductions)
    if not channels or len(channels) != len(reductions):
        return {}
    if reductions[0] == 4:
        channels, reductions = [0, *channels], [2, *reductions]
    if reductions[:_DEFAULT_DEPTH] != [2**i for i in range(1, min(len(reductions), _DEFAULT_DEPTH) + 1)]:
        return {}
    depth = min(len(reductions), _DEFAULT_DEPTH)
    return {
        "out_channels": (in_channels, *channels[:depth]),
        "reductions": (1, *reductions[:depth]),
    }
