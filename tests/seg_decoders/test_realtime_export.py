"""torch.export with dynamic sizes for the real-time models with unusual ops: flow warping, max unpooling."""

from __future__ import annotations

import pytest
import torch

from ._realtime import build


@pytest.mark.parametrize("arch", ["sfnet", "sfnet_lite", "enet"])
def test_dynamic_export_matches_eager_at_a_new_size(arch: str) -> None:
    torch.manual_seed(0)
    # at 64 (deepest map 2x2) export specialises the PPM pooling to that size; from 128 it stays dynamic
    model = build(arch, classes=2).eval()
    x = torch.randn(1, 3, 128, 128)
    dh, dw = model.input_divisor
    height, width = torch.export.Dim("h", min=4, max=64), torch.export.Dim("w", min=4, max=64)
    program = torch.export.export(model, (x,), dynamic_shapes=({2: dh * height, 3: dw * width},))
    other = torch.randn(1, 3, 128 + dh, 128 + 2 * dw)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(other), model(other), atol=1e-4, rtol=1e-4)
