"""A `Plan` as a seg-train config: ``seg train plan.toml`` trains what the planner derived.

The config follows seg-train's schema (``seg_train.config``; ``seg config check`` validates it):

- ``[model]``: a Unet on the preset's residual encoder (``resenc_m_3d`` / ``_l_`` / ``_xl_``) with the
  plan's per-stage strides and kernel sizes (`encoder_geometry`; the kernels go through
  ``encoder_params``), InstanceNorm in the decoder as nnU-Net, the image channels and, when known,
  the classes;
- ``[data]``: the volume dataset the fingerprint came from (``volume_folder``, or ``msd`` for a
  Decathlon folder); ``[data.augment]`` crops the plan's patch (a third centred on foreground, as
  nnU-Net) with flips, in-plane quarter turns and scale jitter; ``[data.transform]`` resamples to the
  target spacing, normalises (`normalization`) and pads validation volumes to the divisor;
- ``[data.loader]``: the plan's batch size (with ``drop_last = false`` when it is close to the number
  of cases: the training split holds only part of them);
- ``[criterion]``: Dice + cross-entropy with equal weights (``combined``), as nnU-Net trains, both
  ignoring label 255 (the volume datasets' ignore index, which fills padded voxels);
- ``[optimizer]`` / ``[scheduler]``: nnU-Net's SGD (lr 0.01, Nesterov momentum 0.99, weight decay
  3e-5) with polynomial decay (power 0.9);
- the plan's reasons as comments at the top.

Example:
    >>> from seg_3d.plan import Fingerprint, plan
    >>> p = plan(Fingerprint.from_lists([(1.0, 1.0, 1.0)] * 4, [(64, 64, 64)] * 4, num_classes=3))
    >>> encoder_geometry(p)["encoder_strides"]
    [[2, 2, 2], [2, 2, 2], [2, 2, 2], [2, 2, 2]]
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seg_3d.plan.fingerprint import DATASET_KINDS
from seg_3d.plan.toml_writer import dumps
from seg_core.errors import ConfigError

if TYPE_CHECKING:
    from seg_3d.plan.planner import Plan

__all__ = [
    "DEFAULT_EPOCHS",
    "FOREGROUND_OVERSAMPLING",
    "IGNORE_INDEX",
    "ROOT_PLACEHOLDER",
    "SCALE_RANGE",
    "encoder_geometry",
    "normalization",
    "plan_config",
    "plan_to_toml",
]

#: Epochs written into the config (nnU-Net trains 1000 epochs of 250 iterations; set what your budget allows).
DEFAULT_EPOCHS = 100
#: Written as ``data.root`` when the plan does not know the dataset folder.
ROOT_PLACEHOLDER = "/path/to/dataset"
#: The share of training patches centred on a foreground voxel (nnU-Net's ``oversample_foreground_percent``).
FOREGROUND_OVERSAMPLING = 0.33
#: Scale jitter of the training patches. nnU-Net zooms by 0.7..1.4 in 20% of the samples; seg-3d's
#: ``VolumeAugment`` jitters every sample, so the range written is narrower.
SCALE_RANGE = (0.85, 1.25)
#: The label of ignored voxels in seg-3d's volume datasets (their default ``ignore_index``; the padding of
#: patches and validation volumes). Written into each loss term: seg-train fills in the dataset's
#: ``ignore_index`` for the criterion's own arguments, not for the terms of a ``combined`` loss.
IGNORE_INDEX = 255


def encoder_geometry(plan: Plan) -> dict[str, Any]:
    """The ``[model]`` keys that carry the plan's topology.

    The ``resenc_*_3d`` encoders' stage mapping (`seg_3d.encoders.resenc`): the stem and nnU-Net's
    stage 0 run at full resolution before the pyramid, and encoder level ``s`` is nnU-Net stage ``s``
    for ``s = 1..depth``. So ``encoder_depth`` is the plan's number of stages minus one,
    ``encoder_strides`` the plan's strides without stage 0's ``(1, 1, 1)``, and the encoder takes the
    kernel sizes of all stages, stage 0 first. The Unet decoder gets one block per level with the
    channels of the stage it returns to (nnU-Net's decoder widths), down to ``features[0]`` at full
    resolution.

    Returns:
        ``{"encoder_depth": int, "encoder_strides": [[...], ...], "decoder_channels": [...],
        "encoder_params": {"kernel_sizes": [[...], ...]}}``.
    """
    return {
        "encoder_depth": plan.depth - 1,
        "encoder_strides": [list(s) for s in plan.strides[1:]],
        "decoder_channels": list(plan.features[-2::-1]),
        "encoder_params": {"kernel_sizes": [list(k) for k in plan.kernel_sizes]},
    }


def plan_config(
    plan: Plan,
    *,
    root: str | Path | None = None,
    dataset: str | None = None,
    epochs: int = DEFAULT_EPOCHS,
) -> dict[str, dict[str, Any]]:
    """The config tables (see the module docstring).

    Args:
        plan: The plan.
        root: The dataset folder (default: the plan's, else `ROOT_PLACEHOLDER`).
        dataset: ``"volume_folder"`` or ``"msd"`` (default: the plan's, else ``"volume_folder"``).
        epochs: ``trainer.epochs``.

    Returns:
        ``{"model": {...}, "data": {...}, ...}``, ready for `seg_3d.plan.toml_writer.dumps` or
        ``seg_train.config.parse_config``.

    Raises:
        ConfigError: An unknown ``dataset`` or ``epochs`` < 1.
    """
    name = dataset or plan.dataset or "volume_folder"
    if name not in DATASET_KINDS:
        raise ConfigError(f"dataset={name!r}: seg plan writes configs for {', '.join(DATASET_KINDS)}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
    folder = str(root) if root is not None else (plan.root or ROOT_PLACEHOLDER)
    model: dict[str, Any] = {
        "architecture": "unet",
        "encoder_name": plan.encoder_name,
        **encoder_geometry(plan),
        "decoder_use_norm": "instancenorm",  # nnU-Net's norm; batch statistics of 2 patches are poor
        "in_channels": plan.in_channels,
    }
    data: dict[str, Any] = {"dataset": name, "root": folder}
    if "num_classes" not in plan.assumed:
        model["classes"] = plan.num_classes
        if name == "volume_folder":  # used when the folder has no metadata.json
            data["options"] = {"num_classes": plan.num_classes}
    divisor = [2**p for p in plan.pools_per_axis]
    data["augment"] = {
        "patch_size": list(plan.patch_size),
        "foreground": FOREGROUND_OVERSAMPLING,
        "flip": 0.5,
        "rot90": 0.5,
        "scale_range": list(SCALE_RANGE),
    }
    data["transform"] = {"target_spacing": list(plan.spacing), **normalization(plan), "divisible_by": divisor}
    data["loader"] = {"batch_size": plan.batch_size, "val_batch_size": 1}
    if plan.batch_size > plan.num_cases * 4 // 5:
        # the batch size is capped by the dataset's size, but the training split holds only part of it
        data["loader"]["drop_last"] = False
    return {
        "model": model,
        "data": data,
        "criterion": {
            "name": "combined",
            "terms": [
                {"name": "cross_entropy", "ignore_index": IGNORE_INDEX},
                {"name": "dice", "mode": "multiclass", "ignore_index": IGNORE_INDEX},
            ],
        },
        "optimizer": {"name": "SGD", "lr": 0.01, "momentum": 0.99, "nesterov": True, "weight_decay": 3e-5},
        "scheduler": {"name": "warmup_poly", "warmup_steps": 0, "power": 0.9},
        "trainer": {"epochs": epochs},
    }


def normalization(plan: Plan) -> dict[str, Any]:
    """The ``[data.transform]`` intensity normalisation, as nnU-Net chooses it per modality.

    A single CT channel with the fingerprint's foreground statistics (nnU-Net's
    ``foreground_intensity_properties_per_channel``: 0.5 / 99.5 percentiles, mean, std) gets nnU-Net's
    CT normalisation: clip to the percentiles, then subtract the mean and divide by the std of the whole
    dataset's foreground. Anything else gets a per-volume, per-channel z-score.

    Example:
        >>> from seg_3d.plan import Fingerprint, plan
        >>> stats = {"0": {"percentile_00_5": -100.0, "percentile_99_5": 300.0, "mean": 80.0, "std": 60.0}}
        >>> fp = Fingerprint.from_lists([(1, 1, 1)], [(32, 32, 32)], modalities=("CT",), intensity=stats)
        >>> normalization(plan(fp))
        {'normalize': 'ct', 'window': [-100.0, 300.0], 'mean': 80.0, 'std': 60.0}
    """
    stats = (plan.intensity or {}).get("0")
    keys = ("percentile_00_5", "percentile_99_5", "mean", "std")
    if (
        plan.modalities is not None
        and len(plan.modalities) == 1
        and plan.modalities[0].upper() == "CT"
        and isinstance(stats, Mapping)
        and all(isinstance(stats.get(k), (int, float)) for k in keys)
        and float(stats["std"]) > 0
        and float(stats["percentile_00_5"]) < float(stats["percentile_99_5"])
    ):
        return {
            "normalize": "ct",
            "window": [float(stats["percentile_00_5"]), float(stats["percentile_99_5"])],
            "mean": float(stats["mean"]),
            "std": float(stats["std"]),
        }
    return {"normalize": "zscore"}


def plan_to_toml(
    plan: Plan,
    *,
    root: str | Path | None = None,
    dataset: str | None = None,
    epochs: int = DEFAULT_EPOCHS,
    reasons: bool = True,
) -> str:
    """The plan as a commented seg-train TOML config (`plan_config`).

    Args:
        plan: The plan.
        root: The dataset folder (see `plan_config`).
        dataset: The dataset name (see `plan_config`).
        epochs: ``trainer.epochs``.
        reasons: Write the plan's reasons as comments at the top.

    Returns:
        The TOML text.
    """
    tables = plan_config(plan, root=root, dataset=dataset, epochs=epochs)
    header = [
        f"seg plan: nnU-Net-style 3D full-resolution plan, ResEnc {plan.preset.upper()} "
        f"({plan.gpu_memory_gb:g} GB target), {plan.num_cases} cases",
        f"target spacing {' x '.join(f'{s:g}' for s in plan.spacing)} mm; patch "
        f"{' x '.join(map(str, plan.patch_size))}; {plan.depth} stages; batch size {plan.batch_size}",
        "check it with `seg config check FILE`, train with `seg train FILE`",
    ]
    if tables["data"]["root"] == ROOT_PLACEHOLDER:
        header.append("data.root is a placeholder: set it to the dataset folder (--set data.root=...)")
    if reasons:
        header += ["", "why:", *(f"  {r}" for r in plan.reasons)]
    comments = {
        "model": ["nnU-Net stage 0 runs at full resolution inside the encoder; encoder level s is stage s"],
        "data.augment": ["training patches: the plan's patch size, a third centred on foreground (nnU-Net)"],
        "data.transform": ["both splits: resample to the target spacing, normalise, pad to the network's divisor"],
        "criterion": ["Dice + cross-entropy, equal weights (nnU-Net's loss)"],
        "optimizer": ["nnU-Net's optimizer: SGD, Nesterov momentum 0.99, lr 0.01, weight decay 3e-5"],
        "trainer": ["nnU-Net trains 1000 epochs of 250 iterations; raise epochs as your budget allows"],
    }
    return dumps(tables, header=header, comments=comments)
