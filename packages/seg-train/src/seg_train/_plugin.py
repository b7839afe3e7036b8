"""seg-train's plugin hook module (light: imports neither torch nor heavy dependencies).

Every loss, optimizer, learning-rate scheduler and metric seg-train provides is registered here
as a lazy ``"module:attr"`` target, so a config can name it and ``seg list losses`` needs no torch.
The tables below are the one list of what seg-train registers; ``tests/seg_train/test_registration.py``
checks them against the modules (every target resolves, every public loss class is registered) and
against the installed torch (every ``torch.optim`` optimizer and scheduler is available by name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seg_core.hookspecs import hookimpl

if TYPE_CHECKING:
    from seg_core.registry import Registrar, Registries

#: ``(name, target, aliases, description)``. The aliases keep smp's class names, so a config or a
#: port from smp may say ``DiceLoss`` as well as ``dice``.
LOSSES: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "cross_entropy",
        "seg_train.losses.cross_entropy:CrossEntropyLoss",
        ("CrossEntropyLoss", "ce"),
        "cross-entropy (torch semantics; binary/multilabel use BCE)",
    ),
    (
        "soft_cross_entropy",
        "seg_train.losses.cross_entropy:SoftCrossEntropyLoss",
        ("SoftCrossEntropyLoss",),
        "label-smoothed cross-entropy (smp's arguments)",
    ),
    (
        "soft_bce",
        "seg_train.losses.cross_entropy:SoftBCEWithLogitsLoss",
        ("SoftBCEWithLogitsLoss",),
        "binary cross-entropy with label smoothing and ignore_index",
    ),
    ("dice", "seg_train.losses.region:DiceLoss", ("DiceLoss",), "soft Dice loss"),
    ("jaccard", "seg_train.losses.region:JaccardLoss", ("JaccardLoss", "iou"), "soft Jaccard (IoU) loss"),
    ("tversky", "seg_train.losses.region:TverskyLoss", ("TverskyLoss",), "Tversky loss (alpha on FP, beta on FN)"),
    (
        "generalized_dice",
        "seg_train.losses.region:GeneralizedDiceLoss",
        ("GeneralizedDiceLoss", "generalised_dice"),
        "generalised Dice overlap (Sudre et al. 2017)",
    ),
    ("mcc", "seg_train.losses.region:MCCLoss", ("MCCLoss",), "Matthews correlation coefficient loss"),
    ("focal", "seg_train.losses.focal:FocalLoss", ("FocalLoss",), "focal loss (Lin et al. 2017)"),
    (
        "lovasz",
        "seg_train.losses.lovasz:LovaszLoss",
        ("LovaszLoss",),
        "Lovasz hinge / Lovasz-softmax (Berman et al. 2018)",
    ),
    ("combined", "seg_train.losses.compose:combined", ("CombinedLoss",), "weighted sum of losses named in a config"),
    (
        "deep_supervision",
        "seg_train.losses.compose:deep_supervision",
        ("DeepSupervisionLoss",),
        "a loss applied with weights to the main and extra (aux, deep-supervision) outputs",
    ),
)

#: Every optimizer in ``torch.optim``, by its class name (lookups ignore case).
TORCH_OPTIMIZERS: tuple[str, ...] = (
    "ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "Muon",
    "NAdam", "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam",
)  # fmt: skip

#: seg-train's own optimizers: ``(name, target, description)``.
OPTIMIZERS: tuple[tuple[str, str, str], ...] = (
    ("Padam", "seg_train.optim.padam:Padam", "partially adaptive moment estimation (Chen & Gu 2018)"),
)

#: Every learning-rate scheduler in ``torch.optim.lr_scheduler``, by its class name.
TORCH_SCHEDULERS: tuple[str, ...] = (
    "ChainedScheduler", "ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR",
    "ExponentialLR", "LambdaLR", "LinearLR", "MultiStepLR", "MultiplicativeLR", "OneCycleLR",
    "PolynomialLR", "ReduceLROnPlateau", "SequentialLR", "StepLR",
)  # fmt: skip

#: seg-train's own schedulers: ``(name, target, aliases, description)``.
SCHEDULERS: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    (
        "warmup_poly",
        "seg_train.optim.schedulers:WarmupPolyLR",
        ("WarmupPolyLR", "poly"),
        "linear warmup, then polynomial decay",
    ),
    (
        "warmup_cosine",
        "seg_train.optim.schedulers:WarmupCosineLR",
        ("WarmupCosineLR",),
        "linear warmup, then cosine decay",
    ),
)

#: The registry kind seg-train adds for metrics, and what it holds: ``(name, target, description)``.
METRICS_KIND = "metrics"
METRICS: tuple[tuple[str, str, str], ...] = (
    (
        "segmentation",
        "seg_train.metrics.segmentation:SegmentationMetrics",
        "confusion-matrix metrics: accuracy, mIoU, fwIoU, Dice, per class",
    ),
    (
        "hausdorff95",
        "seg_train.metrics.surface:HausdorffDistance95",
        "95th-percentile Hausdorff distance in physical units (3D / medical)",
    ),
)


#: Loggers and callbacks: ``(name, target, description)``. ``local`` is always on; the others are
#: enabled by the config's ``[logging] loggers = [...]``.
LOGGERS: tuple[tuple[str, str, str], ...] = (
    (
        "local",
        "seg_train.loggers.local:LocalLogger",
        "metrics.jsonl/csv, config, run log, confusion matrices, snapshots, curves",
    ),
    (
        "tensorboard",
        "seg_train.loggers.tensorboard:TensorBoardLogger",
        "TensorBoard scalars, images and hparams (extra tensorboard)",
    ),
    ("wandb", "seg_train.loggers.wandb:WandbLogger", "Weights & Biases (extra wandb; key from WANDB_API_KEY)"),
    ("mlflow", "seg_train.loggers.mlflow:MLflowLogger", "MLflow tracking (extra mlflow)"),
)


@hookimpl
def seg_add_hookspecs(pluginmanager: Any) -> None:
    """Add the training events (`seg_train.hookspecs`)."""
    from seg_train import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def seg_cli_commands(commands: Any) -> None:
    """``seg train``, ``seg eval``, ``seg demo`` and ``seg config`` (lazy: nothing heavy until one runs)."""
    for name, help_text in (
        ("train", "train a model from a TOML config (seg train config.toml [--resume PATH|auto] [--set k=v])"),
        ("eval", "evaluate a checkpoint on the config's validation split (metrics table, confusion matrix)"),
        ("predict", "predict image files or folders with a trained model (masks, color masks, overlays)"),
        ("demo", "train on the built-in synthetic dataset and print the run folder and final metrics"),
        ("config", "write a starter config (seg config init) or validate one (seg config check)"),
    ):
        commands.add(name, help=help_text, setup=f"seg_train.cli:setup_{name}", run=f"seg_train.cli:run_{name}")


@hookimpl
def seg_register_loggers(registry: Registrar) -> None:
    """Register the loggers."""
    for name, target, description in LOGGERS:
        registry.add(name, target, description=description)


@hookimpl
def seg_register(registries: Registries) -> None:
    """Add the ``metrics`` kind."""
    if METRICS_KIND not in registries:
        registries.add_kind(METRICS_KIND)


@hookimpl
def seg_register_losses(registry: Registrar) -> None:
    """Register the losses (smp's class names are aliases)."""
    for name, target, aliases, description in LOSSES:
        registry.add(name, target, aliases=aliases, description=description)


@hookimpl
def seg_register_optimizers(registry: Registrar) -> None:
    """Register every torch optimizer and seg-train's own."""
    for name in TORCH_OPTIMIZERS:
        registry.add(name, f"torch.optim:{name}", description=f"torch.optim.{name}", family="torch")
    for name, target, description in OPTIMIZERS:
        registry.add(name, target, description=description, family="seg_train")


@hookimpl
def seg_register_schedulers(registry: Registrar) -> None:
    """Register every torch LR scheduler and seg-train's warmup schedulers."""
    for name in TORCH_SCHEDULERS:
        registry.add(
            name, f"torch.optim.lr_scheduler:{name}", description=f"torch.optim.lr_scheduler.{name}", family="torch"
        )
    for name, target, aliases, description in SCHEDULERS:
        registry.add(name, target, aliases=aliases, description=description, family="seg_train")


@hookimpl
def seg_register_kind(kind: str, registry: Registrar) -> None:
    """Register the metrics."""
    if kind == METRICS_KIND:
        for name, target, description in METRICS:
            registry.add(name, target, description=description)
