"""seg-3d's plugin hook module (light: imports neither torch nor heavy dependencies).

The tables below are the one list of what seg-3d registers: its 3D encoders (every one takes
``strides``, i.e. the architectures' ``encoder_strides=``), its volume datasets, and the
``seg plan`` command. Each row is ``(name, "module:attr", info)``; ``info`` goes to the registry
(description, family, capabilities), so ``seg list encoders`` shows them without importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seg_3d.encoders.resenc_presets import RESENC_PRESETS, features
from seg_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from seg_core.registry import Registrar

#: ResNet / ResNeXt and DenseNet families (``seg_3d.encoders.resnet``, ``seg_3d.encoders.densenet``):
#: ``(timm name, family, description, channels of levels 0..5)``; registered as ``<timm name>_3d``.
_RESNET_DENSENET: tuple[tuple[str, str, str, tuple[int, ...]], ...] = (
    ("resnet18", "resnet", "ResNet-18 (basic blocks 2-2-2-2)", (3, 64, 64, 128, 256, 512)),
    ("resnet34", "resnet", "ResNet-34 (basic blocks 3-4-6-3)", (3, 64, 64, 128, 256, 512)),
    ("resnet50", "resnet", "ResNet-50 (bottlenecks 3-4-6-3)", (3, 64, 256, 512, 1024, 2048)),
    ("resnet101", "resnet", "ResNet-101 (bottlenecks 3-4-23-3)", (3, 64, 256, 512, 1024, 2048)),
    ("resnet152", "resnet", "ResNet-152 (bottlenecks 3-8-36-3)", (3, 64, 256, 512, 1024, 2048)),
    ("resnext50_32x4d", "resnet", "ResNeXt-50 32x4d (grouped bottlenecks 3-4-6-3)", (3, 64, 256, 512, 1024, 2048)),
    ("resnext101_32x4d", "resnet", "ResNeXt-101 32x4d (grouped bottlenecks)", (3, 64, 256, 512, 1024, 2048)),
    ("resnext101_32x8d", "resnet", "ResNeXt-101 32x8d (grouped bottlenecks)", (3, 64, 256, 512, 1024, 2048)),
    ("densenet121", "densenet", "DenseNet-121 (dense blocks 6-12-24-16)", (3, 64, 256, 512, 1024, 1024)),
    ("densenet169", "densenet", "DenseNet-169 (dense blocks 6-12-32-32)", (3, 64, 256, 512, 1280, 1664)),
    ("densenet201", "densenet", "DenseNet-201 (dense blocks 6-12-48-32)", (3, 64, 256, 512, 1792, 1920)),
)
RESNET_ENCODERS: tuple[tuple[str, str, dict[str, Any]], ...] = tuple(
    (
        f"{timm_name}_3d",
        f"seg_3d.encoders.{family}:{timm_name}_3d",
        {
            "description": f"{description} in 3D, per-level strides; timm's {timm_name} weights inflate",
            "family": f"{family}_3d",
            "spatial_dims": (3,),
            "out_channels": channels,
            "reductions": (1, 2, 4, 8, 16, 32),
        },
    )
    for timm_name, family, description, channels in _RESNET_DENSENET
)

#: EfficientNet b0..b7 and nnU-Net's residual encoder presets (``seg_3d.encoders.efficientnet``,
#: ``seg_3d.encoders.resenc``).
#: EfficientNet: level 1 is the stem, levels 2..5 the stages that downsample (channels per variant,
#: timm's width scaling); ResEnc: level ``s`` is nnU-Net stage ``s`` (stem and stage 0 run at full resolution first).
_EFFICIENTNET_CHANNELS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("b0", (3, 32, 24, 40, 112, 320)),
    ("b1", (3, 32, 24, 40, 112, 320)),
    ("b2", (3, 32, 24, 48, 120, 352)),
    ("b3", (3, 40, 32, 48, 136, 384)),
    ("b4", (3, 48, 32, 56, 160, 448)),
    ("b5", (3, 48, 40, 64, 176, 512)),
    ("b6", (3, 56, 40, 72, 200, 576)),
    ("b7", (3, 64, 48, 80, 224, 640)),
)
EFFICIENTNET_RESENC_ENCODERS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    *(
        (
            f"efficientnet_{variant}_3d",
            f"seg_3d.encoders.efficientnet:efficientnet_{variant}_3d",
            {
                "description": f"EfficientNet-{variant.upper()} in 3D (timm's efficientnet_{variant} weights inflate)",
                "family": "efficientnet",
                "spatial_dims": (3,),
                "out_channels": channels,
                "reductions": (1, 2, 4, 8, 16, 32),
            },
        )
        for variant, channels in _EFFICIENTNET_CHANNELS
    ),
    *(
        (
            f"resenc_{preset}_3d",
            f"seg_3d.encoders.resenc:resenc_{preset}_3d",
            {
                "description": (
                    f"nnU-Net's residual encoder (ResEnc), preset {preset.upper()} "
                    f"({RESENC_PRESETS[preset].gpu_memory_gb} GB planner target)"
                ),
                "family": "resenc",
                "spatial_dims": (3,),
                "out_channels": (3, *features(6)[1:]),  # nnU-Net's stages 1..5 (stage 0 runs before level 1)
                "reductions": (1, 2, 4, 8, 16, 32),
            },
        )
        for preset in RESENC_PRESETS
    ),
)

#: Volume datasets (``seg_3d.data``): ``(name, "module:attr", info)``; info holds ``description``
#: and ``metadata`` (a ``"module:attr"`` metadata builder), as seg-data's datasets, and
#: ``transforms``: the builder seg-train uses for ``[data.augment]`` / ``[data.transform]``
#: (3D transforms instead of seg-data's 2D ones).
_VOLUME_TRANSFORMS = "seg_3d.data.transforms:build_transforms"
DATASETS: tuple[tuple[str, str, dict[str, Any]], ...] = tuple(
    (
        name,
        f"seg_3d.data.datasets.{name}:{name}",
        {
            "description": description,
            "metadata": f"seg_3d.data.datasets.{name}:{name}_metadata",
            "transforms": _VOLUME_TRANSFORMS,
        },
    )
    for name, description in (
        ("volume_folder", "3D: images/ + labels/ volumes (NIfTI, npy/npz, NRRD/MHA) paired by stem"),
        ("msd", "3D: Medical Segmentation Decathlon / nnU-Net layout (imagesTr, labelsTr, dataset.json)"),
        ("synthetic_volumes", "3D: generated spheres, cubes and ellipsoids on noise (demo and tests)"),
    )
)


@hookimpl
def seg_register_encoders(registry: Registrar) -> None:
    """Register the 3D encoders (lazy targets), and timm_3d's models as ``t3d-*`` when it is installed."""
    from seg_3d.encoders.timm3d import Timm3dEncoderProvider, timm3d_names

    for name, target, info in (*RESNET_ENCODERS, *EFFICIENTNET_RESENC_ENCODERS):
        registry.add(name, target, **info)
    if timm3d_names():
        registry.add_provider(Timm3dEncoderProvider())


@hookimpl
def seg_register_datasets(registry: Registrar) -> None:
    """Register the volume datasets (lazy targets with their metadata builders)."""
    for name, target, info in DATASETS:
        registry.add(name, target, **info)


# --- seg plan (seg_3d.plan.cli) ---
@hookimpl
def seg_cli_commands(commands: Any) -> None:
    """``seg plan``: nnU-Net-style planning from a dataset to a trainable config (lazy: nothing heavy until it runs)."""
    commands.add(
        "plan",
        help="plan a 3D training from a dataset's spacings and shapes (nnU-Net rules) and write the seg-train config",
        setup="seg_3d.plan.cli:setup_plan",
        run="seg_3d.plan.cli:run_plan",
    )
