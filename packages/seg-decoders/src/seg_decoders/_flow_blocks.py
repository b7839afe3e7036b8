"""Flow alignment blocks of SFNet and SFNet-Lite (2D and 3D): warping, FAM, GD-FAM, the SFNet pyramid pooling."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seg_core.layers import adaptive_avg_pool, conv, dropout
from seg_decoders._blocks import SafeBatchNorm, resize, resolve_mode
from seg_decoders._realtime_blocks import ConvBNReLU

#: Pyramid pooling bins (PSPNet's, kept by SFNet).
PPM_BINS = (1, 2, 3, 6)


def flow_warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``x`` at a regular grid of ``flow``'s size shifted by ``flow``.

    The offsets are divided by the output size per axis and added to the normalised
    ``[-1, 1]`` grid (the authors' convention: a flow of ``2 * size / (size - 1)`` moves by
    one output pixel, i.e. about two units per pixel).

    Args:
        x: Map to warp ``(N, C, *spatial)`` (any size: the grid is normalised).
        flow: Offsets ``(N, dims, *out_spatial)``, one channel per axis, last axis first
            (x, y[, z], ``grid_sample``'s order).

    Returns:
        The warped map ``(N, C, *out_spatial)``.
    """
    sizes = flow.shape[2:]
    dims = len(sizes)
    # the regular [-1, 1] grid (align_corners=True), built with arange so that sizes stay symbolic
    axes = [
        torch.arange(size, device=flow.device, dtype=flow.dtype).mul(2.0 / torch.sym_max(size - 1, 1)).sub(1.0)
        for size in sizes
    ]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij")[::-1], dim=-1).unsqueeze(0)
    # channel i is axis -1 - i; dividing by the (possibly symbolic) sizes keeps export dynamic
    offsets = torch.stack([flow[:, i] / sizes[-1 - i] for i in range(dims)], dim=-1)
    return F.grid_sample(x, grid + offsets, mode="bilinear", align_corners=True)


class FlowAlignment(nn.Module):
    """FAM: predict a flow from the (projected) low map and the upsampled high map, warp the high map with it."""

    def __init__(self, channels: int, reduced: int, spatial_dims: int = 2) -> None:
        super().__init__()
        conv_cls = conv(spatial_dims)
        self.down_high = conv_cls(channels, reduced, 1, bias=False)
        self.down_low = conv_cls(channels, reduced, 1, bias=False)
        self.flow_make = conv_cls(2 * reduced, spatial_dims, 3, padding=1, bias=False)
        self.mode = resolve_mode("bilinear", spatial_dims)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        high_small = resize(self.down_high(high), low.shape[2:], self.mode)
        flow = self.flow_make(torch.cat([high_small, self.down_low(low)], dim=1))
        return flow_warp(high, flow)


class GatedDualFlowAlignment(nn.Module):
    """GD-FAM: two flows (one per input) and a spatial gate that mixes the two warped maps.

    The gate is a 3x3 convolution and a sigmoid on the channel means and maxima of both
    projected maps (4 channels); the output is ``gate * warp(high) + (1 - gate) * warp(low)``.
    """

    def __init__(self, channels: int, reduced: int, spatial_dims: int = 2) -> None:
        super().__init__()
        conv_cls = conv(spatial_dims)
        self.dims = spatial_dims
        self.down_high = conv_cls(channels, reduced, 1, bias=False)
        self.down_low = conv_cls(channels, reduced, 1, bias=False)
        self.flow_make = conv_cls(2 * reduced, 2 * spatial_dims, 3, padding=1, bias=False)
        self.flow_gate = nn.Sequential(conv_cls(4, 1, 3, padding=1, bias=False), nn.Sigmoid())
        self.mode = resolve_mode("bilinear", spatial_dims)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        low_small = self.down_low(low)
        high_small = resize(self.down_high(high), low.shape[2:], self.mode)
        flow = self.flow_make(torch.cat([high_small, low_small], dim=1))
        high_warped = flow_warp(high, flow[:, : self.dims])
        low_warped = flow_warp(low, flow[:, self.dims :])
        stats = [high_small.mean(1, keepdim=True), low_small.mean(1, keepdim=True)]
        stats += [high_small.amax(1, keepdim=True), low_small.amax(1, keepdim=True)]
        gate = self.flow_gate(torch.cat(stats, dim=1))
        return high_warped * gate + low_warped * (1 - gate)


class SFPyramidPooling(nn.Module):
    """SFNet's PPM: four pooled 1x1 conv-BN-ReLU branches, concatenated with the map, 3x3 conv-BN-ReLU, dropout."""

    def __init__(
        self, in_channels: int, out_channels: int, spatial_dims: int = 2, bins: Sequence[int] = PPM_BINS
    ) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(
                adaptive_avg_pool(spatial_dims)(b),
                conv(spatial_dims)(in_channels, out_channels, 1, bias=False),
                SafeBatchNorm(out_channels),
                nn.ReLU(inplace=True),
            )
            for b in bins
        )
        self.bottleneck = nn.Sequential(
            ConvBNReLU(in_channels + len(bins) * out_channels, out_channels, 3, spatial_dims),
            dropout(spatial_dims)(0.1),
        )
        self.mode = resolve_mode("bilinear", spatial_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = [resize(stage(x), x.shape[2:], self.mode) for stage in self.stages]
        return self.bottleneck(torch.cat([x, *pooled], dim=1))


def pyramid_levels(encoder_channels: Sequence[int], count: int = 4) -> list[int]:
    """The ``count`` deepest levels that carry channels (level 0, the input, excluded)."""
    depth = len(encoder_channels) - 1
    return [lv for lv in range(max(1, depth - count + 1), depth + 1) if int(encoder_channels[lv]) > 0]
