"""nnU-Net's residual encoder ("ResEnc", the encoder of its ``ResidualEncoderUNet``), presets M, L and XL.

The network (``dynamic_network_architectures``' ``ResidualEncoder``, as nnU-Net plans it): a stem
convolution at full resolution, then stages ``s = 0, 1, ...`` of ``BLOCKS_PER_STAGE[s]`` residual
``BasicBlockD`` blocks with ``min(32 * 2**s, 320)`` channels (512 in 2D). A block is
``conv(k, stride) - norm - LeakyReLU - conv(k) - norm``, added to its skip (the identity, or a
ResNet-D projection: average pooling by the stride, then a 1x1 convolution and a norm when the
channels change), then a LeakyReLU. Norms are InstanceNorm with affine parameters, LeakyReLU has
slope 0.01, convolutions have biases (the projection has none), and a stage downsamples by the
stride of its first convolution, with kernels that follow the strides
(`seg_3d.encoders.geometry.kernel_sizes`: ``1 x 3 x 3`` on an axis not downsampled yet). Module
names follow nnU-Net's (``stem.convs.0.conv``, ``stages.<s>.blocks.<b>.conv1.conv``, ``skip``...).

Stage mapping. nnU-Net's stage 0 has stride 1: its features are at full resolution, like the
input. seg's architectures take a pyramid whose level 0 is the input and whose levels each reduce
more than the one before, so here the stem and stage 0 run at full resolution first (exactly as in
nnU-Net) and seg level ``s`` is nnU-Net stage ``s`` for ``s = 1..depth``, with stride
``strides[s - 1]``. nnU-Net's 6-stage 3D network is ``depth=5``; a plan's strides (nnU-Net's list,
``(1, 1, 1)`` first) go in as ``encoder_strides=plan_strides[1:]`` and its kernel sizes (one per
stage, stage 0 first) as ``kernel_sizes``. The one difference from nnU-Net's U-Net: stage 0's
full-resolution output is not a pyramid level, so a decoder's last block reaches full resolution
from level 1 (the Unet's has no skip there; nnU-Net's decoder has stage 0's).

The three presets have the same network; they differ in the GPU memory the planner targets, hence
in the patch size, depth and batch size it derives (`seg_3d.encoders.resenc_presets`). ResEnc
has no pretrained weights (nnU-Net trains it from scratch).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seg_3d.encoders.axis_dilation import dilate_levels
from seg_3d.encoders.geometry import Stride, level_strides
from seg_3d.encoders.geometry import kernel_sizes as stride_kernels
from seg_3d.encoders.resenc_presets import BLOCKS_PER_STAGE, RESENC_PRESETS, ResEncPreset, features
from seg_3d.encoders.stages import run_stage
from seg_core.encoder import EncoderMixin
from seg_core.errors import CheckpointError, ConfigError
from seg_core.layers import POOL_TYPES, avg_pool, conv

__all__ = ["BasicBlockD", "ResEncEncoder", "resenc_l_3d", "resenc_m_3d", "resenc_xl_3d"]

_LEAKY_SLOPE = 0.01
_WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


def _check_kernels(kernels: Sequence[int | Sequence[int]], stages: int, spatial_dims: int, owner: str) -> list[Stride]:
    """One odd per-axis kernel per stage (an int for every axis, or one per axis)."""
    example = "e.g. [(1, 3, 3), (1, 3, 3), 3, 3, 3, 3] (a plan's, stage 0 first)"
    if isinstance(kernels, (str, bytes)) or not isinstance(kernels, Sequence) or len(kernels) != stages:
        raise ConfigError(
            f"{owner}: kernel_sizes={kernels!r} must have one entry per nnU-Net stage, encoder_depth + 1 = {stages} "
            f"(stage 0 at full resolution first), {example}"
        )
    out: list[Stride] = []
    for entry in kernels:
        axes = (entry,) * spatial_dims if isinstance(entry, int) and not isinstance(entry, bool) else entry
        if (
            isinstance(axes, (str, bytes))
            or not isinstance(axes, Sequence)
            or len(axes) != spatial_dims
            or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 and k % 2 == 1 for k in axes)
        ):
            raise ConfigError(
                f"{owner}: kernel_sizes entry {entry!r} must be an odd int >= 1 or {spatial_dims} of them, {example}"
            )
        out.append(tuple(int(k) for k in axes))
    return out


def _instance_norm(channels: int, spatial_dims: int) -> nn.Module:
    norm = nn.InstanceNorm3d if spatial_dims == 3 else nn.InstanceNorm2d
    return norm(channels, eps=1e-5, affine=True)


class _ConvNormAct(nn.Module):
    """Convolution, InstanceNorm (affine), then LeakyReLU or nothing (nnU-Net's ``ConvDropoutNormReLU``)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: Stride,
        stride: Stride,
        spatial_dims: int,
        *,
        bias: bool = True,
        act: bool = True,
    ) -> None:
        super().__init__()
        padding = tuple((k - 1) // 2 for k in kernel)
        self.conv = conv(spatial_dims)(cin, cout, kernel, stride=stride, padding=padding, bias=bias)
        self.norm = _instance_norm(cout, spatial_dims)
        self.nonlin: nn.Module = nn.LeakyReLU(_LEAKY_SLOPE) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlin(self.norm(self.conv(x)))


class _Stem(nn.Module):
    """One conv-norm-LeakyReLU at full resolution (nnU-Net's ``StackedConvBlocks`` of one conv)."""

    def __init__(self, cin: int, cout: int, kernel: Stride, spatial_dims: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(_ConvNormAct(cin, cout, kernel, (1,) * spatial_dims, spatial_dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.convs(x)
        return out


class BasicBlockD(nn.Module):
    """ResNet-D basic block: two convolutions, plus an average-pool / 1x1-projection skip.

    Args:
        cin: Input channels.
        cout: Output channels.
        kernel: Per-axis kernel size of both convolutions.
        stride: Per-axis stride of the first convolution (and of the skip's pooling).
        spatial_dims: 2 or 3.

    Example:
        >>> block = BasicBlockD(8, 16, (1, 3, 3), (1, 2, 2), 3)
        >>> block(torch.randn(1, 8, 4, 8, 8)).shape
        torch.Size([1, 16, 4, 4, 4])
    """

    def __init__(self, cin: int, cout: int, kernel: Stride, stride: Stride, spatial_dims: int) -> None:
        super().__init__()
        ones = (1,) * spatial_dims
        self.conv1 = _ConvNormAct(cin, cout, kernel, stride, spatial_dims)
        self.conv2 = _ConvNormAct(cout, cout, kernel, ones, spatial_dims, act=False)
        self.nonlin2 = nn.LeakyReLU(_LEAKY_SLOPE)
        skip: list[nn.Module] = []
        if any(s != 1 for s in stride):
            # ceil_mode keeps the pooled size equal to the strided convolution's on odd sizes
            skip.append(avg_pool(spatial_dims)(stride, stride, ceil_mode=True, count_include_pad=False))
        if cin != cout:
            skip.append(_ConvNormAct(cin, cout, ones, ones, spatial_dims, bias=False, act=False))
        self.skip = nn.Sequential(*skip)  # empty: the identity

    def stop_skip_pooling(self, axes: Sequence[bool]) -> None:
        """Stop the skip's average pooling along ``axes`` (their convolution strides became dilation)."""
        for module in self.skip:
            if isinstance(module, POOL_TYPES):
                pool: Any = module
                kernel = pool.kernel_size if isinstance(pool.kernel_size, tuple) else (pool.kernel_size,) * len(axes)
                pool.kernel_size = pool.stride = tuple(1 if cut else k for k, cut in zip(kernel, axes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.nonlin2(self.conv2(self.conv1(x)) + self.skip(x))


class _ResidualStage(nn.Module):
    """``n`` `BasicBlockD` blocks, the first one strided (nnU-Net's ``StackedResidualBlocks``)."""

    def __init__(self, cin: int, cout: int, n: int, kernel: Stride, stride: Stride, spatial_dims: int) -> None:
        super().__init__()
        ones = (1,) * spatial_dims
        self.blocks = nn.Sequential(
            *(
                BasicBlockD(cin if i == 0 else cout, cout, kernel, stride if i == 0 else ones, spatial_dims)
                for i in range(n)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.blocks(x)
        return out


class ResEncEncoder(nn.Module, EncoderMixin):
    """nnU-Net's residual encoder (ResEnc) with per-level, per-axis strides.

    The stem and nnU-Net's stage 0 run at full resolution; level ``s`` (1..depth) is nnU-Net's
    stage ``s`` (see the module docstring for the mapping).

    Args:
        preset: ``"m"``, ``"l"`` or ``"xl"`` (`RESENC_PRESETS`; recorded as ``encoder.preset``).
        in_channels: Input channels.
        depth: Levels after the full-resolution stage 0 (1..12): nnU-Net's stages minus one
            (its 6-stage 3D network is ``depth=5``).
        weights: None, or a local weights file (``.safetensors`` / ``.pth``) with this encoder's
            state dict (a model's state dict works too: its ``encoder.`` keys are used).
        output_stride: 8 or 16 to dilate the deepest levels (per axis: anisotropic strides work too).
        strides: One stride per level (an int or one per axis, 1 or 2): a plan's strides without
            its first ``(1, 1, 1)``; None: 2 everywhere.
        checkpointing: Recompute the stem's and each stage's activations in the backward pass
            instead of keeping them.
        spatial_dims: 3, or 2 for nnU-Net's 2D configuration (channels capped at 512).
        kernel_sizes: One odd kernel per nnU-Net stage, ``depth + 1`` of them (an int or one per
            axis), e.g. a plan's; None: 3, and 1 along an axis not downsampled yet while another is
            (`seg_3d.encoders.geometry.kernel_sizes`), stage 0 taking level 1's kernel.
        base_features: Stage 0's channels, doubled per stage up to the cap (nnU-Net's
            ``UNet_base_num_features``, 32; the presets' planning assumes 32).

    Raises:
        ConfigError: An unknown preset, an invalid depth, ``in_channels``, ``strides``,
            ``spatial_dims``, ``kernel_sizes``, ``base_features``, ``output_stride`` or ``weights``
            (only None or a local file).
        CheckpointError: A weights file that does not fit the encoder.

    Example:
        >>> encoder = ResEncEncoder("m", depth=4, strides=[(1, 2, 2), (1, 2, 2), 2, 2])
        >>> encoder.out_channels, encoder.axis_reductions[-1], encoder.kernel_sizes[:3]
        ([3, 64, 128, 256, 320], (4, 16, 16), [(1, 3, 3), (1, 3, 3), (1, 3, 3)])
    """

    def __init__(
        self,
        preset: str = "l",
        *,
        in_channels: int = 3,
        depth: int = 5,
        weights: str | Path | None = None,
        output_stride: int | None = None,
        strides: Sequence[int | Sequence[int]] | None = None,
        checkpointing: bool = False,
        spatial_dims: int = 3,
        kernel_sizes: Sequence[int | Sequence[int]] | None = None,
        base_features: int = 32,
    ) -> None:
        super().__init__()
        if preset not in RESENC_PRESETS:
            raise ConfigError(f"unknown ResEnc preset {preset!r}; choose from {sorted(RESENC_PRESETS)}")
        name = f"resenc_{preset}_3d"
        most = len(BLOCKS_PER_STAGE) - 1
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= most:
            raise ConfigError(
                f"{name}: encoder_depth must be an int in 1..{most} (nnU-Net's stages after the full-resolution "
                f"stage 0), got {depth!r}"
            )
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ConfigError(f"{name}: in_channels must be an int >= 1, got {in_channels!r}")
        if spatial_dims not in (2, 3):
            raise ConfigError(f"{name}: spatial_dims must be 2 or 3, got {spatial_dims!r}")
        if isinstance(base_features, bool) or not isinstance(base_features, int) or base_features < 1:
            raise ConfigError(f"{name}: base_features must be an int >= 1 (nnU-Net's is 32), got {base_features!r}")
        self.preset: ResEncPreset = RESENC_PRESETS[preset]
        self.checkpointing = bool(checkpointing)
        self._name = name
        self._spatial_dims = spatial_dims
        self._depth = depth
        self._in_channels = in_channels
        self._first_conv = "stem.convs.0.conv"
        #: The stride of each level (nnU-Net's stages 1..depth; stage 0 has stride 1).
        self.strides = level_strides(strides, depth, spatial_dims, owner=name)
        if kernel_sizes is None:
            levels = stride_kernels(self.strides, 3)
            kernels = [levels[0], *levels]
        else:
            kernels = _check_kernels(kernel_sizes, depth + 1, spatial_dims, name)
        #: The per-axis kernel of each nnU-Net stage, stage 0 first (``depth + 1``).
        self.kernel_sizes: list[Stride] = kernels
        #: Channels and residual blocks of each nnU-Net stage, stage 0 first (``depth + 1``).
        self.features_per_stage = features(depth + 1, spatial_dims, base_features)
        self.blocks_per_stage = BLOCKS_PER_STAGE[: depth + 1]
        axis: list[Stride] = [(1,) * spatial_dims]
        for stride in self.strides:
            axis.append(tuple(a * s for a, s in zip(axis[-1], stride)))
        self._axis_reductions = axis
        self._output_stride = max(32, *axis[-1])  # no cap below the deepest reduction (depth > 5 reaches 64...)
        self._set_min_input_size()
        self._out_channels = [in_channels, *self.features_per_stage[1:]]

        self.stem = _Stem(in_channels, self.features_per_stage[0], kernels[0], spatial_dims)
        stages: list[nn.Module] = []
        cin = self.features_per_stage[0]
        ones = (1,) * spatial_dims
        for cout, n, kernel, stride in zip(
            self.features_per_stage, self.blocks_per_stage, kernels, [ones, *self.strides]
        ):
            stages.append(_ResidualStage(cin, cout, n, kernel, stride, spatial_dims))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self._init_weights()

        if weights is not None:
            self._load(weights)
        if output_stride is not None and output_stride < self.reductions[-1]:
            self.make_dilated(output_stride)

    def _set_min_input_size(self) -> None:
        # InstanceNorm needs more than one voxel: the deepest map keeps at least 2 along every axis
        self._min_input_size = tuple(2 * r for r in self.axis_reductions[-1])

    def _init_weights(self) -> None:
        """nnU-Net's initialisation: He normal (slope 0.01), zero biases, and the last norm of every
        block zeroed (``init_last_bn_before_add_to_0``): each block starts as its skip."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Conv3d)):
                nn.init.kaiming_normal_(module.weight, a=_LEAKY_SLOPE)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, BasicBlockD):
                norm: Any = module.conv2.norm
                nn.init.zeros_(norm.weight)
                nn.init.zeros_(norm.bias)

    def _load(self, weights: str | Path) -> None:
        from seg_core.io import load_state_file

        if not isinstance(weights, (str, Path)) or Path(weights).suffix not in _WEIGHT_SUFFIXES:
            raise ConfigError(
                f"{self._name} has no pretrained weights (nnU-Net trains it from scratch): encoder_weights must be "
                f"None or a local weights file of this encoder ({', '.join(_WEIGHT_SUFFIXES)}), got {weights!r}"
            )
        state = load_state_file(weights)
        if any(key.startswith("encoder.") for key in state):
            state = {key[len("encoder.") :]: value for key, value in state.items() if key.startswith("encoder.")}
        try:
            self.load_state_dict(state)
        except RuntimeError as error:
            raise CheckpointError(
                f"encoder_weights={str(weights)!r} does not fit {self._name} with depth={self.depth}, "
                f"in_channels={self.in_channels}, strides={self.strides}: {error}"
            ) from error

    def make_dilated(self, output_stride: int) -> None:
        """Dilate the deepest stages so that no axis is reduced more than ``output_stride``, axis by axis
        (`seg_3d.encoders.axis_dilation.dilate_levels`; anisotropic strides work too). The skips'
        average pooling stops pooling along the axes whose stride was removed.

        Args:
            output_stride: 8, 16 or 32 (32, or a value the encoder does not exceed: nothing to do).

        Raises:
            ConfigError: Another value.
        """
        if isinstance(output_stride, bool) or output_stride not in (8, 16, 32):
            raise ConfigError(f"{self._name}: encoder_output_stride must be 8, 16 or 32, got {output_stride!r}")
        if output_stride >= self.reductions[-1]:
            return
        levels: list[list[nn.Module]] = [[stage] for stage in self.stages[1:]]  # stem and stage 0: stride 1
        reduction = [1] * self.spatial_dims
        for modules, stride in zip(levels, self.strides):
            reduction = [r * s for r, s in zip(reduction, stride)]
            removed = tuple(r > output_stride for r in reduction)
            for module in modules:
                for block in module.modules():
                    if isinstance(block, BasicBlockD):
                        block.stop_skip_pooling(removed)
        dilate_levels(levels, self.strides, output_stride, owner=self._name)
        self._output_stride = output_stride
        self._set_min_input_size()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        pyramid = [x]
        x = run_stage(self.stem, x, self.checkpointing)
        x = run_stage(self.stages[0], x, self.checkpointing)  # nnU-Net's stage 0, at full resolution
        for stage in self.stages[1:]:
            x = run_stage(stage, x, self.checkpointing)
            pyramid.append(x)
        return pyramid


def _factory(preset: str) -> Callable[..., ResEncEncoder]:
    def factory(
        *,
        in_channels: int = 3,
        depth: int = 5,
        weights: str | Path | None = None,
        output_stride: int | None = None,
        strides: Sequence[int | Sequence[int]] | None = None,
        checkpointing: bool = False,
        spatial_dims: int = 3,
        kernel_sizes: Sequence[int | Sequence[int]] | None = None,
        base_features: int = 32,
    ) -> ResEncEncoder:
        return ResEncEncoder(
            preset,
            in_channels=in_channels,
            depth=depth,
            weights=weights,
            output_stride=output_stride,
            strides=strides,
            checkpointing=checkpointing,
            spatial_dims=spatial_dims,
            kernel_sizes=kernel_sizes,
            base_features=base_features,
        )

    memory = RESENC_PRESETS[preset].gpu_memory_gb
    factory.__name__ = factory.__qualname__ = f"resenc_{preset}_3d"
    factory.__doc__ = (
        f"nnU-Net's residual encoder, preset {preset.upper()} (the planner targets {memory} GB of GPU memory); "
        "see `ResEncEncoder` for the arguments."
    )
    return factory


#: Registry factories, one per preset (keyword arguments as `ResEncEncoder`).
resenc_m_3d = _factory("m")
resenc_l_3d = _factory("l")
resenc_xl_3d = _factory("xl")
