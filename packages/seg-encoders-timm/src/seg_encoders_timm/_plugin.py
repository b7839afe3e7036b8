"""seg-encoders-timm's plugin hook module (light: imports neither torch nor timm)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seg_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from seg_core.registry import Registrar

_DEFAULT_DEPTH = 5


def pyramid_info(probe: dict[str, Any] | None, in_channels: int = 3) -> dict[str, Any]:
    """The default-depth pyramid a cached probe implies, as registry info keys.

    Returns ``{"out_channels": (...), "reductions": (...)}`` (index 0 is the input) for
    feature pyramids whose strides go 2, 4, 8... or 4, 8... (a zero-channel stride-2
    level is inserted, as the encoder does), and ``{}`` when the probe is missing or
    the layout needs the adapter's judgement (ViTs, other stride patterns).
    """
    if not probe or probe.get("kind") != "features":
        return {}
    channels = [int(c) for c in probe.get("channels", [])]
    reductions = [int(r) for r in probe.get("reductions", [])]
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


@hookimpl
def seg_register_encoders(registry: Registrar) -> None:
    """Register one provider that serves every timm model as an encoder."""
    from seg_encoders_timm._provider import TimmEncoderProvider

    class _ProviderWithPyramid(TimmEncoderProvider):
        """Adds the cached probe's pyramid to ``info`` (used by ``list_encoders(compatible_with=...)``)."""

        def info(self, name: str) -> dict[str, Any]:
            from seg_encoders_timm._names import parse_name
            from seg_encoders_timm.support import shared_cache

            out = super().info(name)
            out.update(pyramid_info(shared_cache().probe(parse_name(name).base)))
            return out

    registry.add_provider(_ProviderWithPyramid())
