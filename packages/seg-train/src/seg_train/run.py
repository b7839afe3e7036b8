"""Build a whole run from a config: data, model, loss, optimizer, scheduler, metric, loggers, run folder.

``seg train`` is `train`, ``seg eval`` is `evaluate`.

Example:
    >>> from seg_train.config import parse_config
    >>> from seg_train.run import train
    >>> config = parse_config({"trainer": {"epochs": 1}, "paths": {"runs": "/tmp/seg-runs"}})
    >>> trainer = train(config)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import logging
import sys
import time
from pathlib import Path
from typing import Any

import tomli_w
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from seg_core.errors import ConfigError
from seg_core.io import atomic_write_bytes
from seg_train.config.schema import Config
from seg_train.config.validate import accepted_arguments
from seg_train.distributed import DistInfo, EvalShardSampler, setup_distributed
from seg_train.factory import create_loss, create_metric, create_optimizer, create_scheduler
from seg_train.seeding import seed_everything
from seg_train.trainer import Trainer

__all__ = [
    "build_datasets",
    "build_loaders",
    "build_loggers",
    "build_loss",
    "build_model",
    "build_scheduler",
    "build_trainer",
    "build_transforms",
    "evaluate",
    "find_resume",
    "train",
]

log = logging.getLogger("seg_train")


def build_transforms(config: Config) -> tuple[Any, Any]:
    """The training and validation transforms, from ``[data.augment]`` and ``[data.transform]``.

    seg-data's 2D `SegmentationAugment` and `SegmentationTransform`, unless the dataset's registry
    entry declares its own builder (``transforms="module:attr"`` info, e.g. seg-3d's volume datasets):
    ``builder(augment, transform, train=...)`` then makes both from the same two tables.
    """
    import seg_data
    from seg_core import get_registry

    data = config.data
    declared = get_registry("datasets").info(data.dataset).get("transforms")
    if declared is not None:
        builder = _import_target(declared, f"dataset {data.dataset!r}: registry info transforms")
        return (
            builder(dict(data.augment), dict(data.transform), train=True),
            builder(dict(data.augment), dict(data.transform), train=False),
        )
    augment = [seg_data.SegmentationAugment(**data.augment)] if data.augment else []
    transform = seg_data.SegmentationTransform(**data.transform)
    return seg_data.Compose([*augment, transform]), transform


def _import_target(target: Any, what: str) -> Any:
    """A ``"module:attr"`` string's object (or ``target`` itself when it is already callable)."""
    if callable(target):
        return target
    import importlib

    from seg_core.errors import PluginError

    module_name, sep, attr = str(target).partition(":")
    try:
        if not sep:
            raise ImportError("not a 'module:attr' string")
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"{what}={target!r} cannot be imported: {type(exc).__name__}: {exc}") from exc


def build_datasets(config: Config) -> tuple[Any, Any, Any]:
    """The training and validation datasets and the metadata, from ``[data]``."""
    import seg_data

    data = config.data
    train_transforms, val_transforms = build_transforms(config)
    common: dict[str, Any] = {"root": data.root} if data.root is not None else {}
    train_set = seg_data.create_dataset(
        data.dataset,
        split=data.train_split,
        transforms=train_transforms,
        seed=data.seed,
        **common,
        **data.options,
    )
    val_set = None
    if data.val_split is not None:
        val_set = seg_data.create_dataset(
            data.dataset,
            split=data.val_split,
            transforms=val_transforms,
            **common,
            **{**data.options, **data.val_options},
        )
    return train_set, val_set, train_set.metadata


def build_loaders(
    config: Config, train_set: Any, val_set: Any, dist: DistInfo
) -> tuple[DataLoader[Any], DataLoader[Any] | None]:
    """DataLoaders whose order depends only on the seed and the epoch (and the world size).

    Training: a seeded `DistributedSampler` (also on one process), seg-data's worker seeding.
    Validation: `EvalShardSampler` (each sample once over all ranks, no padding).
    """
    from seg_data import make_generator, seed_worker

    loader = config.data.loader
    seed = config.trainer.seed
    sampler: DistributedSampler[Any] = DistributedSampler(
        train_set, num_replicas=dist.world_size, rank=dist.rank, shuffle=True, seed=seed
    )
    if len(sampler) < loader.batch_size and loader.drop_last:
        raise ConfigError(
            f"data.loader.batch_size={loader.batch_size} is larger than the {len(sampler)} training samples per "
            "process, and drop_last=true would leave no batch; lower the batch size or set data.loader.drop_last=false"
        )
    common: dict[str, Any] = {
        "num_workers": loader.num_workers,
        "pin_memory": loader.pin_memory,
        "worker_init_fn": seed_worker,
        "persistent_workers": False,  # workers see each epoch's set_epoch
    }
    train_loader = DataLoader(
        train_set,
        batch_size=loader.batch_size,
        sampler=sampler,
        drop_last=loader.drop_last,
        generator=make_generator(seed),
        **common,
    )
    val_loader = None
    if val_set is not None:
        val_loader = DataLoader(
            val_set,
            batch_size=loader.val_batch_size or loader.batch_size,
            sampler=EvalShardSampler(len(val_set), rank=dist.rank, world_size=dist.world_size),
            **common,
        )
    return train_loader, val_loader


def build_model(config: Config, metadata: Any) -> nn.Module:
    """``[model]`` through `seg_core.create_model`; ``classes`` defaults to the dataset's."""
    import seg_core

    options = config.model.options()
    options.setdefault("classes", metadata.num_classes)
    return seg_core.create_model(
        config.model.architecture,
        encoder_name=config.model.encoder_name,
        encoder_weights=config.model.encoder_weights,
        **options,
    )


def build_loss(config: Config, metadata: Any) -> nn.Module:
    """``[criterion]``; ``ignore_index`` and ``mode`` (multiclass) default to the dataset's, also in the
    terms of a ``combined`` loss and in the loss of a ``deep_supervision`` one."""
    options = _loss_defaults(config.criterion.name, config.criterion.options(), metadata)
    return create_loss(config.criterion.name, **options)


def _loss_defaults(name: str, options: dict[str, Any], metadata: Any) -> dict[str, Any]:
    """``options`` with the dataset's ``ignore_index`` and ``mode="multiclass"`` where the loss takes them."""
    from seg_core import get_registry
    from seg_train.losses.compose import combined, deep_supervision

    factory = get_registry("losses").get(name)
    accepted = accepted_arguments(factory) or []
    if "ignore_index" in accepted:
        options.setdefault("ignore_index", metadata.ignore_index)
    if "mode" in accepted:
        options.setdefault("mode", "multiclass")
    if factory is combined and isinstance(options.get("terms"), list):
        options["terms"] = [_term_defaults(term, metadata) for term in options["terms"]]
    if factory is deep_supervision and "loss" in options:
        options["loss"] = _term_defaults(options["loss"], metadata)
    return options


def _term_defaults(term: Any, metadata: Any) -> Any:
    """A loss named in a composed loss (a name or a table) with the dataset's defaults filled in."""
    if isinstance(term, str):
        term = {"name": term}
    if not isinstance(term, dict) or not isinstance(term.get("name"), str):
        return term  # the composed loss names the problem
    arguments = {k: v for k, v in term.items() if k not in ("name", "weight")}
    filled = _loss_defaults(term["name"], arguments, metadata)
    return {**{k: v for k, v in term.items() if k in ("name", "weight")}, **filled}


#: Scheduler arguments that mean "how long training lasts", filled in when the config leaves them out.
_LENGTH_ARGUMENTS = ("total_steps", "total_iters", "T_max")


def build_scheduler(config: Config, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> Any:
    """``[scheduler]``; a length argument (``total_steps``, ``total_iters``, ``T_max``) defaults to the run's."""
    if config.scheduler.name is None:
        return None
    from seg_core import get_registry

    options = config.scheduler.options()
    length = config.trainer.epochs * (steps_per_epoch if config.scheduler.interval == "step" else 1)
    factory = get_registry("schedulers").get(config.scheduler.name)
    accepted = accepted_arguments(factory) or list(inspect.signature(factory).parameters)
    for name in _LENGTH_ARGUMENTS:
        if name in accepted and name not in options:
            options[name] = length
    if config.scheduler.name.lower() == "onecyclelr":
        options.setdefault("max_lr", config.optimizer.lr)
    return create_scheduler(config.scheduler.name, optimizer, **options)


def build_loggers(config: Config) -> list[object]:
    """The local logger (always) and those ``[logging] loggers`` names, with their ``[logging.<name>]`` options."""
    from seg_core import get_registry

    registry = get_registry("loggers")
    extra = config.logging.options()
    names = ["local", *[n for n in config.logging.loggers if n != "local"]]
    return [registry.create(name, **extra.get(name, {})) for name in names]


def run_folder(config: Config) -> Path:
    """``paths.runs / paths.name`` (default name: ``<architecture>-<dataset>-<YYYYmmdd-HHMMSS>``)."""
    name = config.paths.name or f"{config.model.architecture}-{config.data.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    return Path(config.paths.runs) / name


def find_resume(config: Config, resume: str | None) -> Path | None:
    """The checkpoint to resume from: a path, ``"auto"`` (the newest run of this config with a
    ``checkpoints/latest.pt``; None if there is none), or None.

    Raises:
        ConfigError: A path that does not exist.
    """
    if resume is None:
        return None
    if resume != "auto":
        path = Path(resume)
        if path.is_dir():
            path = path / "checkpoints" / "latest.pt"
        if not path.is_file():
            raise ConfigError(f"--resume {resume!r}: {str(path)!r} does not exist")
        return path
    runs = Path(config.paths.runs)
    pattern = config.paths.name or f"{config.model.architecture}-{config.data.dataset}-*"
    found = sorted(runs.glob(f"{pattern}/checkpoints/latest.pt"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _resolved(config: Config) -> dict[str, Any]:
    def drop_none(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: drop_none(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [drop_none(v) for v in value]
        return value

    resolved: dict[str, Any] = drop_none(config.model_dump(mode="json"))
    return resolved


def _log_to(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "train.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("seg_train").addHandler(handler)
    return handler


def build_trainer(config: Config, *, run_dir: Path | None, dist: DistInfo | None = None) -> Trainer:
    """Everything `train` builds, without training (`evaluate` and tests use it)."""
    dist = dist or DistInfo()
    seed_everything(config.trainer.seed, deterministic=config.trainer.deterministic)
    train_set, val_set, metadata = build_datasets(config)
    train_loader, val_loader = build_loaders(config, train_set, val_set, dist)
    model = build_model(config, metadata)
    loss = build_loss(config, metadata)
    optimizer = create_optimizer(config.optimizer.name, model, lr=config.optimizer.lr, **config.optimizer.options())
    steps = -(-len(train_loader) // config.trainer.accumulate)
    scheduler = build_scheduler(config, optimizer, steps)
    metric = create_metric(
        "segmentation", num_classes=metadata.num_classes, ignore_index=metadata.ignore_index,
        absent=config.trainer.absent, class_names=list(metadata.labels),
    )  # fmt: skip
    return Trainer(
        model,
        loss,
        optimizer,
        train_loader=train_loader,
        val_loader=val_loader,
        metric=metric,
        scheduler=scheduler,
        scheduler_interval=config.scheduler.interval,
        options=config.trainer,
        run_dir=run_dir,
        metadata=metadata,
        config=_resolved(config),
        loggers=build_loggers(config) if dist.is_main and run_dir is not None else (),
        dist=dist,
    )


def train(config: Config, *, resume: str | None = None) -> Trainer:
    """Train as the config says; resume from a checkpoint (or ``"auto"``) if asked.

    The run folder (``paths.runs/<name>``, or the resumed run's folder) gets ``config.toml``
    (the resolved config), ``train.log``, ``checkpoints/`` (``latest.pt``, ``best.pt``,
    ``epoch_NNNN.pt``), ``best_model/`` (a ``save_pretrained`` folder) and what the loggers write.

    Returns:
        The trainer, after ``fit`` (``trainer.history``, ``trainer.run_dir``).
    """
    dist = setup_distributed()
    try:
        return _train(config, resume, dist)
    finally:
        if dist.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _train(config: Config, resume: str | None, dist: DistInfo) -> Trainer:
    checkpoint = find_resume(config, resume)
    run_dir = checkpoint.parent.parent if checkpoint is not None else run_folder(config)
    handler = None
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(run_dir / "config.toml", tomli_w.dumps(_resolved(config)).encode())
        handler = _log_to(run_dir)
    if dist.is_main:
        _ensure_console_logging()
    else:
        logging.getLogger("seg_train").setLevel(logging.WARNING)  # one report, from rank 0
    try:
        trainer = build_trainer(config, run_dir=run_dir, dist=dist)
        if checkpoint is not None:
            trainer.resume(checkpoint)
        elif resume == "auto":
            log.info("--resume auto: no earlier run of this config with a checkpoint; starting a new run")
        log.info("run folder: %s", run_dir)
        trainer.fit()
        return trainer
    finally:
        if handler is not None:
            logging.getLogger("seg_train").removeHandler(handler)
            handler.close()


def evaluate(
    config: Config, checkpoint: str | Path, *, tta: Any = None, window: Any = None
) -> tuple[dict[str, float], Any, Any]:
    """Evaluate a checkpoint (training checkpoint or ``save_pretrained`` folder) on the validation split.

    ``tta`` (a `seg_train.inference.TestTimeAugmentation`, or a `seg_train.inference.parse_tta` string
    read for the model's number of spatial axes) and ``window`` (sliding-window arguments) change how
    each image is predicted, as ``seg eval --tta / --window`` ask.

    Returns:
        The metrics, the confusion matrix and the dataset's metadata.

    Raises:
        ConfigError: No validation split in the config.
        CheckpointError: The checkpoint cannot be read.
    """
    if config.data.val_split is None:
        raise ConfigError("seg eval needs data.val_split (the split to evaluate)")
    _ensure_console_logging()
    trainer = build_trainer(config, run_dir=None)
    path = Path(checkpoint)
    if path.is_dir() and (path / "config.json").is_file():
        import seg_core

        loaded = seg_core.from_pretrained(path)
        trainer.model.load_state_dict(loaded.state_dict())
    else:
        from seg_train.checkpoint import load_checkpoint

        state = load_checkpoint(path / "checkpoints" / "latest.pt" if path.is_dir() else path)
        trainer.model.load_state_dict(state["ema_model"] if state.get("ema_model") else state["model"])
    captured: dict[str, Any] = {}

    class _Capture:
        from seg_core import hookimpl

        @hookimpl
        def seg_train_evaluation_end(self, confusion_matrix: Any) -> None:
            captured["confusion"] = confusion_matrix

    trainer.hooks.register(_Capture())
    if isinstance(tta, str):
        from seg_train.inference.predict import parse_tta

        tta = parse_tta(tta, int(getattr(trainer.model, "spatial_dims", 2)))
    predictor = None
    if tta is not None or window is not None:
        from seg_train.inference.predict import predict

        def predictor(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
            # log-probabilities are logits with the same softmax (and the same loss)
            merged = predict(model, image, tta=tta, window=window, output="probabilities")
            return merged.clamp_min(1e-12).log()

    metrics = trainer.evaluate(split=config.data.val_split, predictor=predictor)
    return metrics, captured.get("confusion"), trainer.metadata


def _ensure_console_logging() -> None:
    logger = logging.getLogger("seg_train")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not any(
        isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) for h in logger.handlers
    ):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
