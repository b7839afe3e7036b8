"""The training config: a typed schema (pydantic), one section per part of a run.

The sections follow PixSeg's: ``[model]``, ``[data]`` (with ``[data.loader]``, ``[data.augment]``,
``[data.transform]``), ``[criterion]``, ``[optimizer]``, ``[scheduler]``, ``[trainer]``,
``[logging]`` and ``[paths]``. Fixed sections refuse unknown keys. Component sections
(``[model]``, ``[criterion]``, ``[optimizer]``, ``[scheduler]``, ``[data.options]``) name a
registered component and pass their other keys to it; those keys are checked against the
component's signature before anything runs (`seg_train.config.validate`).

``docs/reference/config.md`` is generated from these classes (``python -m seg_train.config.reference``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt

__all__ = [
    "COMPONENT_SECTIONS",
    "Config",
    "CriterionConfig",
    "DataConfig",
    "EarlyStoppingConfig",
    "LoaderConfig",
    "LoggingConfig",
    "ModelConfig",
    "OptimizerConfig",
    "PathsConfig",
    "SchedulerConfig",
    "TrainerConfig",
]


class _Fixed(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class _Component(BaseModel):
    """A section that names a component; its other keys are the component's arguments."""

    model_config = ConfigDict(extra="allow", validate_default=True)

    def options(self) -> dict[str, Any]:
        """The keys given besides the section's own fields: the component's arguments."""
        return dict(self.model_extra or {})


class ModelConfig(_Component):
    """``[model]``: any registered architecture and its arguments (``seg list architectures``).

    Other keys (``encoder_depth``, ``decoder_channels``...) go to ``seg_core.create_model``;
    ``classes`` defaults to the dataset's number of classes.
    """

    architecture: str = Field("unet", description="Registered architecture name.")
    encoder_name: str = Field("basic_cnn", description="Registered encoder name (`seg list encoders`).")
    encoder_weights: str | None = Field(
        None, description="Encoder weights: None, 'imagenet' (needs network or a cache) or a local file."
    )


class LoaderConfig(_Fixed):
    """``[data.loader]``: the DataLoaders."""

    batch_size: PositiveInt = Field(8, description="Training batch size per process.")
    val_batch_size: PositiveInt | None = Field(None, description="Validation batch size (default: batch_size).")
    num_workers: NonNegativeInt = Field(0, description="DataLoader worker processes.")
    pin_memory: bool = Field(False, description="Pin host memory (faster copies to a GPU).")
    drop_last: bool = Field(True, description="Drop the last incomplete training batch.")


class DataConfig(_Fixed):
    """``[data]``: the dataset (any registered one, ``seg list datasets``), its splits and transforms."""

    dataset: str = Field("synthetic", description="Registered dataset name.")
    root: str | None = Field(None, description="The dataset's folder, in its official layout.")
    train_split: str = Field("train", description="Split to train on.")
    val_split: str | None = Field("val", description="Split to evaluate on; None skips evaluation.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="More arguments for the dataset (both splits), checked against it."
    )
    val_options: dict[str, Any] = Field(
        default_factory=dict, description="Arguments for the validation split only (override `options`)."
    )
    seed: int | None = Field(0, description="Per-sample augmentation seed (None: the global RNG).")
    augment: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "seg_data.SegmentationAugment arguments for training (empty: no augmentation); a dataset may declare "
            "its own transforms (seg-3d's volumes: seg_3d.data.VolumeAugment)."
        ),
    )
    transform: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "seg_data.SegmentationTransform arguments (size, mean, std...), both splits; a dataset may declare its "
            "own transforms (seg-3d's volumes: seg_3d.data.VolumeTransform)."
        ),
    )
    loader: LoaderConfig = Field(default_factory=LoaderConfig)


class CriterionConfig(_Component):
    """``[criterion]``: any registered loss (``seg list losses``) and its arguments.

    ``ignore_index`` and, where the loss has one, ``mode`` default to the dataset's.
    """

    name: str = Field("cross_entropy", description="Registered loss name.")


class OptimizerConfig(_Component):
    """``[optimizer]``: any registered optimizer (``seg list optimizers``), its arguments and parameter groups.

    ``encoder_lr``, ``encoder_weight_decay``, ``no_decay_norm_bias`` and ``encoder_freeze`` shape
    the parameter groups (`seg_train.optim.param_groups`); the rest go to the optimizer.
    """

    name: str = Field("AdamW", description="Registered optimizer name.")
    lr: PositiveFloat = Field(1e-3, description="Learning rate (decoder and heads; the encoder too unless encoder_lr).")


class SchedulerConfig(_Component):
    """``[scheduler]``: any registered LR scheduler (``seg list schedulers``) and its arguments.

    For ``warmup_poly`` / ``warmup_cosine`` (and torch's ``PolynomialLR``, ``OneCycleLR``...),
    ``total_steps`` / ``total_iters`` default to the length of training in the chosen interval.
    """

    name: str | None = Field(None, description="Registered scheduler name; None keeps the learning rate constant.")
    interval: Literal["step", "epoch"] = Field(
        "step", description="Step the scheduler after each optimizer step or epoch."
    )


class EarlyStoppingConfig(_Fixed):
    """``[trainer.early_stopping]``."""

    metric: str | None = Field(None, description="'max:val/miou' or 'min:val/loss'; None disables early stopping.")
    patience: PositiveInt = Field(5, description="Evaluations without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as an improvement.")


class TrainerConfig(_Fixed):
    """``[trainer]``: the training loop."""

    epochs: PositiveInt = Field(10, description="Epochs to train.")
    device: str = Field("auto", description="'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', 'cuda:1', 'mps'.")
    precision: Literal["32", "bf16", "fp16"] = Field(
        "32", description="'32', or autocast to 'bf16' / 'fp16' (fp16 adds a GradScaler)."
    )
    accumulate: PositiveInt = Field(1, description="Micro-batches per optimizer step (the loss is divided by it).")
    clip_grad_norm: PositiveFloat | None = Field(None, description="Clip the gradients' total norm to this value.")
    channels_last: bool = Field(False, description="Use the channels_last memory format.")
    compile: bool = Field(False, description="torch.compile the model.")
    ema_decay: float | None = Field(
        None, gt=0, lt=1, description="Keep an exponential moving average of the weights and evaluate it."
    )
    seed: int = Field(0, description="Seeds python, numpy, torch and the workers.")
    deterministic: bool = Field(False, description="torch.use_deterministic_algorithms (slower on GPU).")
    eval_every: PositiveInt = Field(1, description="Evaluate every N epochs (and after the last).")
    log_every: PositiveInt = Field(10, description="Plain log line every N steps when the output is not a terminal.")
    best: str = Field(
        "max:val/miou", description="Metric that picks the best checkpoint: 'max:<name>' or 'min:<name>'."
    )
    checkpoint_every: NonNegativeInt = Field(
        0, description="Also keep a checkpoint every N epochs (0: only latest and best)."
    )
    keep_last: PositiveInt | None = Field(None, description="Keep only the last K periodic checkpoints.")
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    export_best: bool = Field(True, description="At the end, export the best weights as a save_pretrained folder.")
    absent: Literal["ignore", "zero"] = Field(
        "ignore", description="Metrics: leave classes absent from prediction and target out of the means, or count 0."
    )


class LoggingConfig(_Component):
    """``[logging]``: the loggers (``seg list loggers``); ``local`` is always on.

    Options of a logger go in its own table, ``[logging.<name>]``. API keys are never read from
    the config: W&B takes ``WANDB_API_KEY`` from the environment.
    """

    loggers: list[str] = Field(default_factory=list, description="Loggers to enable besides 'local'.")


class PathsConfig(_Fixed):
    """``[paths]``: where the run folder goes."""

    runs: str = Field("runs", description="Folder holding the run folders.")
    name: str | None = Field(None, description="The run folder's name (default: '<architecture>-<dataset>-<time>').")


class Config(_Fixed):
    """A whole training config."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    criterion: CriterionConfig = Field(default_factory=CriterionConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    trainer: TrainerConfig = Field(default_factory=TrainerConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)


#: Sections whose extra keys are a registered component's arguments: section -> registry kind.
COMPONENT_SECTIONS = {
    "model": "architectures",
    "criterion": "losses",
    "optimizer": "optimizers",
    "scheduler": "schedulers",
}
