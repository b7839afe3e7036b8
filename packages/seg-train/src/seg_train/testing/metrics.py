"""The checks behind `check_metric`: a conformance kit for torchmetrics segmentation metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["MetricReport", "check_metric"]


@dataclass(frozen=True)
class MetricReport:
    """What `check_metric` verified.

    Attributes:
        name: The metric's registered name or class name.
        checks: One line per passed check.
        skipped: ``"check: reason"`` for each check that does not apply to the metric.
    """

    name: str
    checks: tuple[str, ...]
    skipped: tuple[str, ...]


def _fail(name: str, message: str) -> AssertionError:
    return AssertionError(f"metric {name!r}: {message}")


def _as_dict(value: Any) -> dict[str, Tensor]:
    """A compute() result as ``{key: tensor}`` (a bare tensor is ``{"value": tensor}``)."""
    if isinstance(value, Tensor):
        return {"value": value}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    raise TypeError(f"compute() must return a tensor or a dict of tensors; got {type(value).__name__}")


def _compare(name: str, what: str, a: Any, b: Any, *, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    da, db = _as_dict(a), _as_dict(b)
    if set(da) != set(db):
        raise _fail(name, f"{what}: result keys differ: {sorted(da)} vs {sorted(db)}")
    for key in da:
        x, y = da[key], db[key]
        if not isinstance(x, Tensor) or not isinstance(y, Tensor):
            raise _fail(name, f"{what}: result {key!r} is not a tensor")
        if x.shape != y.shape:
            raise _fail(name, f"{what}: result {key!r} has shape {tuple(x.shape)} vs {tuple(y.shape)}")
        if not torch.allclose(x.double().cpu(), y.double().cpu(), rtol=rtol, atol=atol, equal_nan=True):
            raise _fail(name, f"{what}: result {key!r} differs: {x.tolist()} vs {y.tolist()}")


class _Inputs:
    """Random inputs of the kind the metric expects (its ``mode`` and ``preds`` attributes)."""

    def __init__(self, metric: Any, num_classes: int, device: torch.device) -> None:
        self.mode = str(getattr(metric, "mode", "multiclass"))
        preds = str(getattr(metric, "preds", "labels"))
        self.kind = "logits" if preds == "auto" else preds
        self.num_classes = num_classes
        self.device = device
        self.generator = torch.Generator().manual_seed(0)

    @property
    def channel_dim(self) -> bool:
        """Whether preds carry a class dim (and target too, in multilabel mode)."""
        return self.mode == "multilabel" or (self.mode == "multiclass" and self.kind != "labels")

    def target(self, n: int, spatial: tuple[int, ...]) -> Tensor:
        if self.mode == "multilabel":
            t = torch.randint(0, 2, (n, self.num_classes, *spatial), generator=self.generator)
        elif self.mode == "binary":
            t = torch.randint(0, 2, (n, *spatial), generator=self.generator)
        else:
            t = torch.randint(0, self.num_classes, (n, *spatial), generator=self.generator)
            flat = t.view(n, -1)
            k = min(self.num_classes, flat.shape[1])
            flat[:, :k] = torch.arange(k)  # every class present in every image
        return t.to(self.device)

    def scores(self, target: Tensor, *, perfect: bool = False) -> Tensor:
        """Predictions for ``target``: random ones, or exactly right ones."""
        if self.mode == "multiclass":
            if self.kind == "labels":
                labels = target.clone()
                if not perfect:
                    noise = torch.randint(0, self.num_classes, target.shape, generator=self.generator).to(self.device)
                    flip = torch.rand(target.shape, generator=self.generator).to(self.device) < 0.3
                    labels = torch.where(flip, noise, labels)
                return labels
            onehot = torch.nn.functional.one_hot(target.long(), self.num_classes).movedim(-1, 1).float()
            logits = onehot * 4.0
            if not perfect:
                logits = logits + 3.0 * torch.randn(onehot.shape, generator=self.generator).to(self.device)
            return logits.softmax(dim=1) if self.kind == "probabilities" else logits
        if self.kind == "labels":
            if perfect:
                return target.clone()
            flip = torch.rand(target.shape, generator=self.generator).to(self.device) < 0.3
            return torch.where(flip, 1 - target, target)
        logits = (target.float() * 2 - 1) * 4.0
        if not perfect:
            logits = logits + 3.0 * torch.randn(target.shape, generator=self.generator).to(self.device)
        return logits.sigmoid() if self.kind == "probabilities" else logits

    def batch(self, n: int, spatial: tuple[int, ...], *, perfect: bool = False) -> tuple[Tensor, Tensor]:
        target = self.target(n, spatial)
        return self.scores(target, perfect=perfect), target

    def to_5d(self, tensor: Tensor, is_target: bool, depth: int) -> Tensor:
        """Lay a ``(N, [C,] H, W)`` tensor out as ``(N, [C,] depth, H // depth, W)``."""
        has_channel = self.channel_dim and (not is_target or self.mode == "multilabel")
        lead = 2 if has_channel else 1
        h, w = tensor.shape[lead], tensor.shape[lead + 1]
        return tensor.reshape(*tensor.shape[:lead], depth, h // depth, w)


def _metric_factory(metric_or_name: Any, num_classes: int, kwargs: dict[str, Any]) -> tuple[str, Any]:
    from torchmetrics import Metric

    if isinstance(metric_or_name, str):
        from seg_core import get_registry

        registry = get_registry("metrics")
        name = metric_or_name

        def build() -> Any:
            return registry.create(name, num_classes=num_classes, **kwargs)

        return name, build
    if not isinstance(metric_or_name, Metric):
        raise TypeError(f"check_metric needs a torchmetrics.Metric or a registered name; got {metric_or_name!r}")
    if kwargs:
        raise TypeError(f"keyword arguments {sorted(kwargs)} only apply to a metric given by name")
    template = metric_or_name

    def clone() -> Any:
        fresh = template.clone()
        fresh.reset()
        return fresh

    return type(template).__name__, clone


def _state_kind(metric: Any) -> str:
    """``"sum"`` when every state is summed, ``"cat"`` when states are summed or concatenated."""
    from torchmetrics.utilities.data import dim_zero_cat, dim_zero_sum

    reductions = set(metric._reductions.values())
    if reductions <= {dim_zero_sum}:
        return "sum"
    if reductions <= {dim_zero_sum, dim_zero_cat}:
        return "cat"
    return "other"


def _run(metric: Any, *batches: tuple[Tensor, Tensor]) -> dict[str, Tensor]:
    for preds, target in batches:
        metric.update(preds, target)
    return _as_dict(metric.compute())


def check_metric(
    metric_or_name: Any,
    *,
    num_classes: int = 3,
    device: torch.device | str | None = None,
    **kwargs: Any,
) -> MetricReport:
    """Check that a segmentation metric follows the torchmetrics contract seg relies on.

    The checks: the metric is a ``torchmetrics.Metric`` whose every state has a
    ``dist_reduce_fx`` (so DDP syncs it); ``update``/``compute`` work on 2D ``(N, H, W)`` and 3D
    ``(N, D, H, W)`` inputs; the same pixels laid out as 4D ``(N, C, H, W)`` or 5D
    ``(N, C, D, H', W)`` scores give the same result (for pixel-wise, sum-state metrics);
    accumulating two batches equals one concatenated batch, also through ``forward`` (for
    sum- and cat-state metrics); ``reset()`` restores the defaults; results are on the input
    device; inputs are not mutated; a perfect prediction gets ``metric.perfect_scores`` (when the
    metric declares that ``{key: value}`` mapping).

    Inputs follow the metric's ``mode`` (``"multiclass"``, ``"binary"``, ``"multilabel"``) and
    ``preds`` (``"logits"``, ``"probabilities"``, ``"labels"``; ``"auto"`` gets logits)
    attributes when it has them; otherwise ``(N, *)`` integer labels and targets.

    Args:
        metric_or_name: A ``torchmetrics.Metric`` instance (cloned, never updated itself) or a
            name registered in the ``"metrics"`` registry.
        num_classes: Number of classes of the generated inputs (and of the metric built by name).
        device: Device to run on; the metric's own device (or CPU, for a name) when None.
        **kwargs: Arguments for building a metric given by name.

    Returns:
        A `MetricReport` listing the checks that ran and those skipped (with the reason).

    Raises:
        AssertionError: The first broken rule, explained.
        TypeError: ``metric_or_name`` is neither a metric nor a name.

    Example:
        >>> from seg_train.testing.metrics import check_metric
        >>> report = check_metric("segmentation", num_classes=3)
        >>> "reset clears the state" in report.checks
        True
    """
    name, build = _metric_factory(metric_or_name, num_classes, kwargs)
    first = build()
    from torchmetrics import Metric

    if not isinstance(first, Metric):
        raise _fail(name, f"must be a torchmetrics.Metric, got {type(first).__name__}")
    if device is None:
        device = first.device if not isinstance(metric_or_name, str) else torch.device("cpu")
    device = torch.device(device)

    def fresh() -> Any:
        return build().to(device)

    checks: list[str] = []
    skipped: list[str] = []

    # DDP sync: every state must say how to reduce across processes.
    for state, fx in first._reductions.items():
        if fx is None:
            raise _fail(name, f"state {state!r} has no dist_reduce_fx, so it is not synchronised across processes")
    checks.append("every state has a dist_reduce_fx")

    inputs = _Inputs(first, num_classes, device)
    state_kind = _state_kind(first)

    # 2D and 3D, on the input device, without mutating the inputs.
    results: dict[str, dict[str, Tensor]] = {}
    for label, spatial in (("2D", (12, 16)), ("3D", (4, 12, 16))):
        preds, target = inputs.batch(2, spatial)
        saved = (preds.clone(), target.clone())
        try:
            results[label] = _run(fresh(), (preds, target))
        except AssertionError:
            raise
        except Exception as exc:  # report which input broke it
            raise _fail(name, f"update/compute failed on {label} inputs {tuple(preds.shape)}: {exc!r}") from exc
        for what, before, after in (("preds", saved[0], preds), ("target", saved[1], target)):
            if before.dtype != after.dtype or before.shape != after.shape or not torch.equal(before, after):
                raise _fail(name, f"update() mutated its {what} input ({label})")
        for key, value in results[label].items():
            if not isinstance(value, Tensor):
                raise _fail(name, f"result {key!r} is {type(value).__name__}, not a tensor")
            if value.device != device:
                raise _fail(name, f"result {key!r} is on {value.device}, the inputs on {device}")
    checks += ["update/compute on 2D inputs", "update/compute on 3D inputs", "inputs not mutated"]
    checks.append("results on the input device")

    # Same pixels, 4D vs 5D layout.
    if state_kind == "sum":
        preds, target = inputs.batch(2, (12, 16))
        as_5d = (inputs.to_5d(preds, False, 3), inputs.to_5d(target, True, 3))
        _compare(name, "same pixels as 4D vs 5D inputs", _run(fresh(), (preds, target)), _run(fresh(), as_5d))
        checks.append("same result for the same pixels as 4D and 5D inputs")
    else:
        skipped.append("4D vs 5D layout: the metric is not pixel-wise (its states are not all sums)")

    b1, b2 = inputs.batch(2, (12, 16)), inputs.batch(3, (12, 16))

    # reset() clears.
    metric = fresh()
    _run(metric, b1)
    metric.reset()
    for state, default in metric._defaults.items():
        value = getattr(metric, state)
        if isinstance(default, list):
            if value != []:
                raise _fail(name, f"reset() left the list state {state!r} non-empty")
        elif not torch.equal(value, default.to(value.device)):
            raise _fail(name, f"reset() did not restore state {state!r} to its default")
    _compare(name, "update after reset() vs a fresh metric", _run(metric, b2), _run(fresh(), b2))
    checks.append("reset clears the state")

    # Two batches vs one concatenated batch, via update and via forward.
    joined = (torch.cat([b1[0], b2[0]]), torch.cat([b1[1], b2[1]]))
    if state_kind in ("sum", "cat"):
        reference = _run(fresh(), joined)
        _compare(name, "two batches vs one concatenated batch", _run(fresh(), b1, b2), reference)
        checks.append("two batches accumulate like one concatenated batch")
        metric = fresh()
        metric(*b1)
        metric(*b2)
        _compare(
            name, "forward() on two batches vs update() on their concatenation", _as_dict(metric.compute()), reference
        )
        checks.append("forward accumulates like update")
    else:
        skipped.append("batch accumulation: the metric has states that are neither summed nor concatenated")

    # A perfect prediction.
    perfect = getattr(first, "perfect_scores", None)
    if isinstance(perfect, Mapping) and perfect:
        for label, spatial in (("2D", (12, 16)), ("3D", (4, 12, 16))):
            result = _run(fresh(), inputs.batch(2, spatial, perfect=True))
            for key, expected in perfect.items():
                if key not in result:
                    raise _fail(name, f"perfect_scores names {key!r}, which compute() does not return")
                got = float(result[key])
                if not math.isclose(got, float(expected), rel_tol=1e-6, abs_tol=1e-6):
                    raise _fail(name, f"a perfect {label} prediction gives {key}={got}, expected {expected}")
        checks.append("a perfect prediction gets the perfect scores")
    else:
        skipped.append("perfect prediction: the metric declares no perfect_scores")

    return MetricReport(name=name, checks=tuple(checks), skipped=tuple(skipped))
