"""The trainer: ``fit``, ``evaluate`` and ``predict``, with exact resume and DDP.

Example:
    >>> import torch, seg_core, seg_data
    >>> from seg_train import Trainer, create_loss
    >>> data = seg_data.create_dataset("synthetic", num_samples=8, size=32)
    >>> model = seg_core.create_model("unet", encoder_name="basic_cnn", encoder_depth=3,
    ...                               decoder_channels=[16, 8, 4], classes=4)
    >>> trainer = Trainer(model, create_loss("cross_entropy", ignore_index=255),
    ...                   torch.optim.AdamW(model.parameters(), lr=1e-3),
    ...                   train_loader=torch.utils.data.DataLoader(data, batch_size=4), epochs=1)
    >>> history = trainer.fit()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pluggy
import torch
from torch import nn
from torch.utils.data import DataLoader

from seg_core.errors import ConfigError
from seg_core.hookspecs import PROJECT_NAME
from seg_train import hookspecs
from seg_train.checkpoint import load_checkpoint, prune_periodic, save_checkpoint
from seg_train.config.schema import TrainerConfig
from seg_train.distributed import DistInfo, all_reduce_sum
from seg_train.progress import Progress
from seg_train.seeding import rng_state, set_rng_state

__all__ = ["Trainer", "main_output", "parse_goal", "select_device"]

log = logging.getLogger("seg_train")


def select_device(device: str = "auto", local_rank: int = 0) -> torch.device:
    """``"auto"``: CUDA (this process's GPU under DDP), then Apple's MPS, then the CPU.

    Raises:
        ConfigError: A device torch does not know, or CUDA/MPS asked for where there is none.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise ConfigError(
            f"trainer.device={device!r} is not a device; use 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps'"
        ) from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={device!r} but torch sees no CUDA GPU here; use 'auto' or 'cpu'")
    return chosen


def parse_goal(goal: str, argument: str = "trainer.best") -> tuple[str, str]:
    """``"max:val/miou"`` -> ``("max", "val/miou")``.

    Raises:
        ConfigError: Not ``max:<metric>`` or ``min:<metric>``.
    """
    mode, sep, name = goal.partition(":")
    if not sep or mode not in ("max", "min") or not name:
        raise ConfigError(f"{argument}={goal!r}: write 'max:<metric>' or 'min:<metric>', e.g. 'max:val/miou'")
    return mode, name


def main_output(output: Any, key: str = "out") -> torch.Tensor:
    """The main prediction of a model that may also return extra outputs (tuple: first; dict: ``key``)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, dict):
        return output[key]
    if isinstance(output, (tuple, list)):
        return output[0]
    raise TypeError(f"the model returned a {type(output).__name__}; expected a tensor, a tuple or a dict")


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model) if isinstance(model, nn.parallel.DistributedDataParallel) else model


class Trainer:
    """Train and evaluate a segmentation model.

    Args:
        model: The model (moved to the device; wrapped in DDP under ``torchrun``).
        loss: Called as ``loss(model_output, target)``.
        optimizer: Built on ``model``'s parameters.
        train_loader: Training batches ``(image, mask)``. At each epoch the trainer calls
            ``set_epoch`` on its sampler and dataset when they have one, so a `DistributedSampler`
            and seg-data's per-sample seeds make the data order depend only on the seed and the
            epoch (`seg_train.run.build_loaders` builds such loaders).
        val_loader: Evaluation batches, or None.
        metric: A torchmetrics metric with ``update(logits, target)`` and a dict ``compute()``
            (`seg_train.SegmentationMetrics`), or None.
        scheduler: A learning-rate scheduler, or None.
        scheduler_interval: Step it after each optimizer ``"step"`` or each ``"epoch"``.
        options: The ``[trainer]`` settings (`TrainerConfig`); keyword overrides below.
        run_dir: The run folder (checkpoints, logs); None keeps nothing on disk.
        metadata: The dataset's metadata (class names for metrics and plots).
        config: The resolved config, saved in checkpoints and shown to loggers.
        loggers: Objects implementing `seg_train.hookspecs` (only rank 0 calls them).
        dist: Process info under DDP (default: a single process).
        **overrides: `TrainerConfig` fields, e.g. ``epochs=3``.

    Attributes:
        epoch: Epochs finished.
        step: Optimizer steps taken.
        history: One dict of metrics per finished epoch.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module,
        optimizer: torch.optim.Optimizer,
        *,
        train_loader: DataLoader[Any] | None = None,
        val_loader: DataLoader[Any] | None = None,
        metric: Any = None,
        scheduler: Any = None,
        scheduler_interval: str = "step",
        options: TrainerConfig | None = None,
        run_dir: str | Path | None = None,
        metadata: Any = None,
        config: dict[str, Any] | None = None,
        loggers: Sequence[object] = (),
        dist: DistInfo | None = None,
        **overrides: Any,
    ) -> None:
        self.options = TrainerConfig.model_validate({**(options or TrainerConfig()).model_dump(), **overrides})
        self.dist = dist or DistInfo()
        self.device = select_device(self.options.device, self.dist.local_rank)
        self.model = model.to(self.device)
        if self.options.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss = loss.to(self.device)
        self.optimizer = optimizer
        self.scheduler = scheduler
        if scheduler_interval not in ("step", "epoch"):
            raise ConfigError(f"scheduler_interval={scheduler_interval!r}; accepted: 'step', 'epoch'")
        self.scheduler_interval = scheduler_interval
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.metric = metric.to(self.device) if metric is not None else None
        self.metadata = metadata
        self.config = config or {}
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.best_mode, self.best_metric = parse_goal(self.options.best)
        self.stop_mode: str | None
        self.stop_metric: str | None
        self.stop_mode, self.stop_metric = (
            parse_goal(self.options.early_stopping.metric, "trainer.early_stopping.metric")
            if self.options.early_stopping.metric
            else (None, None)
        )
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.best_value: float | None = None
        self.best_epoch = 0
        self.bad_evaluations = 0
        self._stop_best: float | None = None
        self.autocast_dtype = {"32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[self.options.precision]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.options.precision == "fp16")
        self.ema: Any = None
        if self.options.ema_decay is not None:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(self.options.ema_decay), use_buffers=True
            )
        self.network: nn.Module = self.model
        if self.dist.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.network = nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if self.options.compile:
            self.network = torch.compile(self.network)  # type: ignore[assignment]
        self.hooks = pluggy.PluginManager(PROJECT_NAME)
        self.hooks.add_hookspecs(hookspecs)
        if self.dist.is_main:
            for logger in loggers:
                self.hooks.register(logger)
            self.hooks.check_pending()

    # -- properties ---------------------------------------------------------------------------
    @property
    def checkpoint_dir(self) -> Path | None:
        """``run_dir/checkpoints`` (None without a run folder)."""
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    @property
    def eval_model(self) -> nn.Module:
        """What evaluation runs: the EMA weights when enabled, else the model."""
        return self.ema.module if self.ema is not None else self.model

    # -- training -----------------------------------------------------------------------------
    def fit(self, epochs: int | None = None) -> list[dict[str, float]]:
        """Train until ``epochs`` (default: ``options.epochs``) are done, or early stopping.

        Returns:
            The history: one dict of metrics per epoch (``train/loss``, ``val/miou``...).

        Raises:
            ConfigError: No training loader.
        """
        if self.train_loader is None:
            raise ConfigError("Trainer.fit needs train_loader=")
        epochs = epochs or self.options.epochs
        self.hooks.hook.seg_train_fit_start(trainer=self)
        stopped = False
        for epoch in range(self.epoch + 1, epochs + 1):
            start = time.perf_counter()
            self.hooks.hook.seg_train_epoch_start(trainer=self, epoch=epoch)
            record: dict[str, float] = {"epoch": float(epoch)}
            record["train/loss"] = self._train_epoch(epoch, epochs)
            record["lr"] = float(self.optimizer.param_groups[0]["lr"])
            if self.val_loader is not None and (epoch % self.options.eval_every == 0 or epoch == epochs):
                record.update(self.evaluate(epoch=epoch))
            if self.scheduler is not None and self.scheduler_interval == "epoch":
                self.scheduler.step()
            self.epoch = epoch
            record["step"] = float(self.step)
            record["time"] = time.perf_counter() - start
            self.history.append(record)
            stopped = self._early_stop(record)
            self._checkpoint(record)
            self.hooks.hook.seg_train_epoch_end(trainer=self, epoch=epoch, metrics=record)
            log.info("epoch %d/%d %s", epoch, epochs, _summary(record))
            if stopped:
                log.info(
                    "early stopping: %s has not improved for %d evaluations", self.stop_metric, self.bad_evaluations
                )
                break
        if self.dist.is_main and self.options.export_best and self.run_dir is not None:
            self.export_best(self.run_dir / "best_model")
        self.hooks.hook.seg_train_fit_end(trainer=self, history=self.history, stopped_early=stopped)
        return self.history

    def _train_epoch(self, epoch: int, epochs: int) -> float:
        loader = self.train_loader
        assert loader is not None
        for owner in (getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None), loader.dataset):
            if owner is not None and hasattr(owner, "set_epoch"):
                owner.set_epoch(epoch)
        self.network.train()
        accumulate = self.options.accumulate
        batches = len(loader)
        steps = math.ceil(batches / accumulate)
        progress = Progress(
            steps, epoch=epoch, epochs=epochs, enabled=self.dist.is_main, log_every=self.options.log_every
        )
        total_loss = torch.zeros((), dtype=torch.float64, device=self.device)
        step_loss = 0.0
        images = 0
        tick = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        for index, (image, target) in enumerate(loader):
            group_start = index - index % accumulate
            group_size = min(accumulate, batches - group_start)
            last = index == group_start + group_size - 1
            image, target = self._to_device(image), target.to(self.device, non_blocking=True)
            sync = contextlib.nullcontext() if last or not self.dist.distributed else self.network.no_sync()  # type: ignore[operator]
            with sync:
                with self._autocast():
                    loss = self.loss(self.network(image), target)
                # The mean over the micro-batches of a step, not their sum (PixSeg sums them).
                self.scaler.scale(loss / group_size).backward()
            detached = loss.detach()
            total_loss += detached.double()
            step_loss += float(detached) / group_size
            images += image.shape[0]
            if not last:
                continue
            if self.options.clip_grad_norm is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), self.options.clip_grad_norm)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            lr = float(self.optimizer.param_groups[0]["lr"])
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            self.step += 1
            now = time.perf_counter()
            ips = images * self.dist.world_size / max(now - tick, 1e-9)
            progress.update(loss=step_loss, lr=lr, images_per_second=ips)
            if self.dist.is_main:
                self.hooks.hook.seg_train_batch_end(
                    trainer=self, step=self.step, loss=step_loss, lr=lr, images_per_second=ips
                )
            step_loss, images, tick = 0.0, 0, now
        progress.close()
        count = torch.tensor(float(batches), dtype=torch.float64, device=self.device)
        return float(all_reduce_sum(total_loss) / all_reduce_sum(count).clamp_min(1))

    def _to_device(self, image: torch.Tensor) -> torch.Tensor:
        image = image.to(self.device, non_blocking=True)
        if self.options.channels_last and image.ndim == 4:
            image = image.contiguous(memory_format=torch.channels_last)
        return image

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    # -- evaluation ---------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(
        self,
        loader: DataLoader[Any] | None = None,
        *,
        epoch: int = 0,
        split: str = "val",
        predictor: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    ) -> dict[str, float]:
        """Evaluate on ``loader`` (default: the validation loader), on the EMA weights when enabled.

        ``predictor(model, images) -> logits`` replaces the plain forward (sliding windows, TTA).

        Under DDP each rank evaluates its share (`EvalShardSampler`: no padding) and the metric's
        states are summed across ranks, so every sample counts once.

        Returns:
            ``{"<split>/loss": ..., "<split>/miou": ..., "<split>/per_class_iou/<class>": ...}``.
        """
        loader = loader if loader is not None else self.val_loader
        if loader is None:
            raise ConfigError("Trainer.evaluate needs a loader (val_loader= or loader=)")
        model = self.eval_model
        if self.dist.distributed:
            # Each rank's BatchNorm statistics drifted on its own batches since DDP last copied rank 0's:
            # evaluate rank 0's (the checkpointed) model on every rank.
            for buffer in model.buffers():
                torch.distributed.broadcast(buffer, 0)
        was_training = model.training
        model.eval()
        if self.metric is not None:
            self.metric.reset()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        count = torch.zeros((), dtype=torch.float64, device=self.device)
        samples = None
        for image, target in loader:
            image, target = self._to_device(image), target.to(self.device, non_blocking=True)
            with self._autocast():
                output = main_output(model(image)) if predictor is None else predictor(model, image)
                loss = self.loss(output, target)
            loss_sum += loss.double() * image.shape[0]
            count += image.shape[0]
            if self.metric is not None:
                self.metric.update(output.float(), target)
            if samples is None and self.dist.is_main:
                samples = _samples(image, target, output)
        model.train(was_training)
        results: dict[str, float] = {
            f"{split}/loss": float(all_reduce_sum(loss_sum) / all_reduce_sum(count).clamp_min(1))
        }
        confusion = None
        if self.metric is not None:
            computed = self.metric.compute()
            confusion = computed.get("confusion_matrix")
            results.update(self._flatten(computed, split))
        if self.dist.is_main:
            self.hooks.hook.seg_train_evaluation_end(
                trainer=self,
                epoch=epoch,
                split=split,
                metrics=results,
                confusion_matrix=None if confusion is None else confusion.cpu(),
                samples=samples,
            )
        return results

    def _flatten(self, computed: dict[str, torch.Tensor], split: str) -> dict[str, float]:
        names = list(getattr(self.metadata, "labels", ()) or ())
        flat: dict[str, float] = {}
        for key, value in computed.items():
            if key == "confusion_matrix":
                continue
            if value.ndim == 0:
                flat[f"{split}/{key}"] = float(value)
            else:
                for i, item in enumerate(value.flatten().tolist()):
                    label = names[i] if i < len(names) else str(i)
                    flat[f"{split}/{key}/{label}"] = float(item)
        return flat

    @torch.no_grad()
    def predict(self, images: torch.Tensor | Iterable[Any]) -> torch.Tensor | list[torch.Tensor]:
        """Logits for a batch (a tensor) or for every batch of a loader (a list), on the CPU.

        Uses the EMA weights when enabled and restores the training mode afterwards.
        """
        model = self.eval_model
        was_training = model.training
        model.eval()
        try:
            if isinstance(images, torch.Tensor):
                with self._autocast():
                    return main_output(model(self._to_device(images))).float().cpu()
            outputs = []
            for batch in images:
                image = batch[0] if isinstance(batch, (tuple, list)) else batch
                with self._autocast():
                    outputs.append(main_output(model(self._to_device(image))).float().cpu())
            return outputs
        finally:
            model.train(was_training)

    # -- best metric, early stopping ------------------------------------------------------------
    def _better(self, value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
        if best is None or math.isnan(best):
            return not math.isnan(value)
        return value > best + min_delta if mode == "max" else value < best - min_delta

    def _early_stop(self, record: dict[str, float]) -> bool:
        if self.stop_metric is None or self.stop_metric not in record:
            return False
        value = record[self.stop_metric]
        assert self.stop_mode is not None
        if self._better(value, self._stop_best, self.stop_mode, self.options.early_stopping.min_delta):
            self._stop_best, self.bad_evaluations = value, 0
        else:
            self.bad_evaluations += 1
        return self.bad_evaluations >= self.options.early_stopping.patience

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything an exact resume needs (see `seg_train.checkpoint`)."""
        loader = self.train_loader
        return {
            "model": _unwrap(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "ema": None if self.ema is None else self.ema.state_dict(),
            "ema_model": None if self.ema is None else _unwrap(self.ema.module).state_dict(),
            "rng": rng_state(),
            "epoch": self.epoch,
            "step": self.step,
            "history": copy.deepcopy(self.history),
            "best": {"value": self.best_value, "epoch": self.best_epoch},
            "early_stopping": {"best": self._stop_best, "bad": self.bad_evaluations},
            "loader_generator": _generator_state(loader),
            "world_size": self.dist.world_size,
            "batch_size": getattr(loader, "batch_size", None) if loader is not None else None,
            "config": self.config,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` saved; a different world size or batch size is noted in the log."""
        _unwrap(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            lengths = {
                name: getattr(self.scheduler, name) for name in _SCHEDULE_LENGTHS if hasattr(self.scheduler, name)
            }
            self.scheduler.load_state_dict(state["scheduler"])
            for name, value in lengths.items():  # this run's length wins (more epochs on resume)
                if getattr(self.scheduler, name) != value:
                    log.warning("the schedule's %s changes from %s to %s on resume (trainer.epochs or the steps "
                                "per epoch changed)", name, getattr(self.scheduler, name), value)  # fmt: skip
                    setattr(self.scheduler, name, value)
        generator = getattr(self.train_loader, "generator", None)
        if generator is not None and state.get("loader_generator") is not None:
            generator.set_state(state["loader_generator"])
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        set_rng_state(state["rng"])
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = list(state["history"])
        self.best_value, self.best_epoch = state["best"]["value"], int(state["best"]["epoch"])
        self._stop_best, self.bad_evaluations = state["early_stopping"]["best"], int(state["early_stopping"]["bad"])
        loader = self.train_loader
        batch_size = getattr(loader, "batch_size", None) if loader is not None else None
        changes = []
        if state.get("world_size") not in (None, self.dist.world_size):
            changes.append(f"world size {state['world_size']} -> {self.dist.world_size}")
        if state.get("batch_size") not in (None, batch_size):
            changes.append(f"batch size {state['batch_size']} -> {batch_size}")
        if changes:
            log.warning(
                "resuming with a different %s: training continues, but the data order and the steps per epoch "
                "differ from the original run from here on",
                " and ".join(changes),
            )

    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint written by this trainer (``checkpoints/latest.pt``).

        Raises:
            CheckpointError: The file is missing, corrupt or not a seg-train checkpoint.
        """
        self.load_state_dict(load_checkpoint(path))
        log.info("resumed from %s after epoch %d (step %d)", path, self.epoch, self.step)

    def _checkpoint(self, record: dict[str, float]) -> None:
        kinds = ["latest"]
        if self.best_metric in record and self._better(record[self.best_metric], self.best_value, self.best_mode):
            self.best_value, self.best_epoch = record[self.best_metric], self.epoch
            kinds.append("best")
        every = self.options.checkpoint_every
        if every and self.epoch % every == 0:
            kinds.append("periodic")
        directory = self.checkpoint_dir
        if directory is None or not self.dist.is_main:
            return
        state = self.state_dict()
        path = save_checkpoint(directory / "latest.pt", state)
        written = [path]
        if "periodic" in kinds:
            written.append(save_checkpoint(directory / f"epoch_{self.epoch:04d}.pt", state))
            prune_periodic(directory, self.options.keep_last)
        if "best" in kinds:
            written.append(save_checkpoint(directory / "best.pt", state))
        for file in written:
            file_kinds = {"latest.pt": ["latest"], "best.pt": ["best"]}.get(file.name, ["periodic"])
            self.hooks.hook.seg_train_checkpoint_saved(trainer=self, path=file, kinds=file_kinds)

    def export_best(self, directory: str | Path) -> Path | None:
        """Write the best checkpoint's weights as a plain ``save_pretrained`` folder.

        Returns:
            The folder, or None when there is no best checkpoint or the model cannot ``save_pretrained``.
        """
        source = None if self.checkpoint_dir is None else self.checkpoint_dir / "best.pt"
        model = _unwrap(self.model)
        if source is None or not source.is_file() or not hasattr(model, "save_pretrained"):
            return None
        state = load_checkpoint(source)
        best = copy.deepcopy(model).cpu()
        best.load_state_dict(state["ema_model"] if state.get("ema_model") else state["model"])
        best.save_pretrained(directory)  # type: ignore[operator]
        log.info("best model (epoch %s, %s %.4f) exported to %s", state["best"]["epoch"], self.best_metric,
                 state["best"]["value"] or float("nan"), directory)  # fmt: skip
        return Path(directory)


#: Scheduler attributes that hold the length of the schedule (kept from the current run on resume).
_SCHEDULE_LENGTHS = ("total_steps", "total_iters", "T_max")


def _generator_state(loader: Any) -> torch.Tensor | None:
    generator = getattr(loader, "generator", None)
    return None if generator is None else generator.get_state()


def _samples(image: torch.Tensor, target: torch.Tensor, output: torch.Tensor, count: int = 4) -> Any:
    if image.ndim != 4 or target.ndim != 3 or output.ndim != 4:
        return None
    prediction = output[:count].argmax(1) if output.shape[1] > 1 else (output[:count, 0] > 0).long()
    return image[:count].float().cpu(), target[:count].cpu(), prediction.cpu()


def _summary(record: dict[str, float]) -> str:
    keys = [k for k in record if k in ("train/loss", "lr") or (k.count("/") == 1 and k.startswith("val/"))]
    return "  ".join(f"{k} {record[k]:.4g}" for k in keys)
