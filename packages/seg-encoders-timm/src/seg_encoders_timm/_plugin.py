"""seg-encoders-timm's plugin hook module (light: imports neither torch nor timm)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from seg_core.registry import Registrar


@hookimpl
def seg_register_encoders(registry: Registrar) -> None:
    """Register one provider that serves every timm model as an encoder."""
    from seg_encoders_timm._provider import TimmEncoderProvider

    registry.add_provider(TimmEncoderProvider())
