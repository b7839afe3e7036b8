"""``optimize_for_inference``: the inference fast path smp does not offer.

Four steps, each optional, on a copy of the model in eval mode:

1. **BatchNorm folding.** Every BatchNorm whose input is the output of a convolution, and
   only used by it, is folded into that convolution (``torch.nn.utils.fusion.fuse_conv_bn_eval``)
   and replaced by ``nn.Identity``. The pairs are found by running the model once on an example
   input and watching every torch call (a ``TorchFunctionMode``), not by guessing from module
   names: a convolution whose output also feeds something else, a BatchNorm that does more than
   normalise (timm's ``BatchNormAct2d``) or one fed by anything but a convolution is left alone and
   listed in the report with the reason.
2. **channels_last** weights and inputs (``channels_last_3d`` for volumes); the output is returned
   contiguous, so code that calls ``.view`` on it keeps working.
3. **Reduced precision** (``dtype=torch.bfloat16``) and **dynamic int8 quantization** of
   ``nn.Linear`` layers (``quantize=True``; CPU: weights in int8, activations quantized per
   batch; convolutions stay in float, dynamic quantization does not apply to them). Both are
   lossy; the report gives the largest deviation from the original on the example input.
4. **torch.compile** (``compile=True``, inductor).

Without ``dtype`` and ``quantize`` the result equals the eager model within 1e-4 (tested for
every registered 2D architecture). In fp32 a convolution network on the CPU already runs close
to the machine's matmul peak (docs/benchmarks.md), so the large gain on the CPU is bf16.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from seg_core.errors import ConfigError

__all__ = ["OptimizationReport", "optimize_for_inference"]

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass
class OptimizationReport:
    """What `optimize_for_inference` did.

    Attributes:
        folded: ``(convolution, batchnorm)`` module names folded together.
        not_folded: BatchNorm module name -> why it was left as it is.
        channels_last: Whether weights and inputs use the channels-last layout.
        dtype: The dtype the model runs in, when ``dtype`` was given (else None).
        quantized: Names of the ``nn.Linear`` layers quantized to int8.
        max_deviation: With a lossy option (``dtype``, ``quantize``), the largest absolute
            difference from the original model's output on the example input; else 0.0.
        compiled: Whether the model was wrapped by ``torch.compile``.
    """

    folded: list[tuple[str, str]] = field(default_factory=list)
    not_folded: dict[str, str] = field(default_factory=dict)
    channels_last: bool = False
    dtype: str | None = None
    quantized: list[str] = field(default_factory=list)
    max_deviation: float = 0.0
    compiled: bool = False

    def __str__(self) -> str:
        lines = [f"folded {len(self.folded)} BatchNorm into convolutions"]
        lines += [f"  kept {name}: {why}" for name, why in sorted(self.not_folded.items())]
        lines.append(f"channels_last: {self.channels_last}")
        if self.dtype:
            lines.append(f"dtype: {self.dtype}")
        if self.quantized:
            lines.append(f"int8 dynamic: {len(self.quantized)} Linear")
        if self.dtype or self.quantized:
            lines.append(f"max deviation from the original on the example input: {self.max_deviation:.3g}")
        lines.append(f"compiled: {self.compiled}")
        return "\n".join(lines)


class _Uses(TorchFunctionMode):
    """Counts how often each tensor is passed to a torch function, and remembers batch_norm outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.uses: dict[int, int] = {}
        self.batch_norm_outputs: set[int] = set()
        self.keep: list[Any] = []  # holds every tensor seen, so that no id is reused during the run

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.keep.append((args, kwargs, out))
        if not _tensors(out):
            return out  # a metadata query (``x.dim()``, ``x.shape``): not a use of the values
        seen: set[int] = set()
        for value in _tensors((args, kwargs)):
            if id(value) not in seen:  # one use per call, however many times it is passed
                seen.add(id(value))
                self.uses[id(value)] = self.uses.get(id(value), 0) + 1
        if func is torch.nn.functional.batch_norm and isinstance(out, torch.Tensor):
            self.batch_norm_outputs.add(id(out))
        return out


def _tensors(value: Any) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensors(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tensors(v)]
    return []


def _example(model: nn.Module) -> torch.Tensor:
    """A valid input for ``model``: batch 2, >= 64 per axis, a multiple of the model's divisor."""
    encoder = getattr(model, "encoder", None)
    channels = int(getattr(encoder, "in_channels", 3))
    dims = int(getattr(encoder, "spatial_dims", 2))
    divisor = tuple(getattr(model, "input_divisor", (1,) * dims))
    minimum = tuple(getattr(model, "min_input_size", (1,) * dims))
    size = [math.ceil(max(64 if dims == 2 else 32, m) / d) * d for d, m in zip(divisor, minimum)]
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    dtype = parameter.dtype if parameter is not None and parameter.is_floating_point() else torch.float32
    generator = torch.Generator().manual_seed(0)
    return torch.randn(2, channels, *size, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)


def _find_pairs(model: nn.Module, example: torch.Tensor, report: OptimizationReport) -> list[tuple[str, str]]:
    """Run ``model`` once and return the (conv, bn) pairs that can be folded."""
    names = {id(m): n for n, m in model.named_modules()}
    conv_outputs: dict[int, list[int]] = {}  # conv module id -> ids of its outputs
    bn_inputs: dict[int, list[int]] = {}  # bn module id -> ids of its inputs
    bn_plain: dict[int, bool] = {}
    producer: dict[int, int] = {}  # output tensor id -> conv module id
    mode = _Uses()
    hooks = []

    def conv_hook(module: nn.Module, args: Any, out: Any) -> None:
        if isinstance(out, torch.Tensor):
            conv_outputs.setdefault(id(module), []).append(id(out))
            producer[id(out)] = id(module)

    def bn_pre(module: nn.Module, args: Any) -> None:
        bn_inputs.setdefault(id(module), []).append(id(args[0]) if args and isinstance(args[0], torch.Tensor) else -1)

    def bn_post(module: nn.Module, args: Any, out: Any) -> None:
        plain = isinstance(out, torch.Tensor) and id(out) in mode.batch_norm_outputs
        bn_plain[id(module)] = bn_plain.get(id(module), True) and plain

    for module in model.modules():
        if isinstance(module, _CONVS):
            hooks.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, _NORMS):
            hooks.append(module.register_forward_pre_hook(bn_pre))
            hooks.append(module.register_forward_hook(bn_post))
    try:
        with torch.no_grad(), mode:
            model(example)
    finally:
        for hook in hooks:
            hook.remove()

    pairs: list[tuple[str, str]] = []
    for module in model.modules():
        if not isinstance(module, _NORMS):
            continue
        name = names[id(module)]
        inputs = bn_inputs.get(id(module))
        if not inputs:
            report.not_folded[name] = "not used by the forward pass"
            continue
        if not module.track_running_stats or module.running_mean is None:
            report.not_folded[name] = "no running statistics (track_running_stats=False)"
            continue
        if not bn_plain.get(id(module), False):
            report.not_folded[name] = "does more than normalise (e.g. an activation inside)"
            continue
        convs = {producer.get(i) for i in inputs}
        if None in convs or len(convs) != 1:
            report.not_folded[name] = "its input is not the output of one convolution"
            continue
        conv_id = convs.pop()
        assert conv_id is not None
        outputs = conv_outputs[conv_id]
        if sorted(outputs) != sorted(inputs) or any(mode.uses.get(i, 0) != 1 for i in outputs):
            report.not_folded[name] = f"the output of {names[conv_id]!r} is also used elsewhere"
            continue
        pairs.append((names[conv_id], name))
    return pairs


def _fold(model: nn.Module, pairs: list[tuple[str, str]]) -> None:
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for conv_name, bn_name in pairs:
        conv: Any = model.get_submodule(conv_name)
        bn: Any = model.get_submodule(bn_name)
        fused = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.modules.conv._ConvTransposeNd))
        _replace(model, conv_name, fused)
        _replace(model, bn_name, nn.Identity())


def _replace(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def _quantize(model: nn.Module, example: torch.Tensor, report: OptimizationReport) -> nn.Module:
    if example.device.type != "cpu":
        raise ConfigError("quantize=True is dynamic int8 quantization, which runs on the CPU: move the model to 'cpu'")
    linear = [n for n, m in model.named_modules() if type(m) is nn.Linear]
    if not linear:
        return model
    with warnings.catch_warnings():
        # eager dynamic quantization is deprecated in favour of torchao; it works and is what torch ships
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*", category=UserWarning)
        from torch.ao.quantization import quantize_dynamic

        quantized: nn.Module = quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
    report.quantized = linear
    return quantized


class _InferenceWrapper(nn.Module):
    """Feeds the wrapped model inputs in its layout and dtype; returns contiguous outputs in the input's dtype."""

    def __init__(self, model: nn.Module, memory_format: torch.memory_format | None, dtype: torch.dtype | None) -> None:
        super().__init__()
        self.model = model
        self.memory_format = memory_format
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> Any:
        source = x.dtype
        if self.dtype is not None:
            x = x.to(self.dtype)
        if self.memory_format is not None:
            x = x.contiguous(memory_format=self.memory_format)
        out = self.model(x)
        if isinstance(out, torch.Tensor):
            return out.to(source).contiguous()
        return out

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["model"], name)


def optimize_for_inference(
    model: nn.Module,
    *,
    fold_batchnorm: bool = True,
    channels_last: bool = True,
    dtype: torch.dtype | None = None,
    quantize: bool = False,
    compile: bool = False,
    example_input: torch.Tensor | None = None,
    inplace: bool = False,
) -> nn.Module:
    """Return a faster inference copy of ``model``: BatchNorm folded, channels-last, optionally bf16, quantized, compiled.

    Args:
        model: A segmentation model (any ``nn.Module`` taking one tensor works).
        fold_batchnorm: Fold BatchNorm layers into the convolutions that feed them.
        channels_last: Use the channels-last memory layout (weights and inputs).
        dtype: Run in this floating dtype (``torch.bfloat16``: about twice as fast on CPUs
            with AVX512-BF16 or AMX, and on GPUs; inputs are cast, outputs come back in the
            input's dtype). Lossy: see ``report.max_deviation``. None keeps the model's dtype.
        quantize: Dynamic int8 quantization of the ``nn.Linear`` layers (CPU only; lossy).
        compile: Wrap the result with ``torch.compile`` (inductor; the first call compiles).
        example_input: An input to trace the model with (default: batch 2 of random values
            at a valid size of at least 64 per axis).
        inplace: Change ``model`` itself instead of a deep copy.

    Returns:
        The optimized model in eval mode, with ``requires_grad`` off and its
        `OptimizationReport` as ``.optimization_report``. Without ``dtype`` and
        ``quantize`` its outputs equal the eager model's within 1e-4.

    Raises:
        ConfigError: ``quantize=True`` with a model that is not on the CPU, or a ``dtype``
            that is not a floating type.

    Example:
        >>> import seg_core
        >>> model = seg_core.create_model("unet", encoder_name="basic_cnn", encoder_depth=3)
        >>> fast = seg_core.optimize_for_inference(model)
        >>> len(fast.optimization_report.folded) > 0
        True
    """
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ConfigError(f"dtype must be a floating torch dtype such as torch.bfloat16, got {dtype!r}")
    report = OptimizationReport()
    target = model if inplace else copy.deepcopy(model)
    target.eval()
    for parameter in target.parameters():
        parameter.requires_grad_(False)
    example = example_input if example_input is not None else _example(target)
    reference = None
    if dtype is not None or quantize:
        with torch.no_grad():
            reference = target(example)
    if fold_batchnorm:
        pairs = _find_pairs(target, example, report)
        _fold(target, pairs)
        report.folded = pairs
    result: nn.Module = target
    if quantize:
        result = _quantize(result, example, report)
    memory_format = None
    if channels_last and example.dim() in (4, 5):
        memory_format = torch.channels_last_3d if example.dim() == 5 else torch.channels_last
        result = result.to(memory_format=memory_format)
        report.channels_last = True
    if dtype is not None:
        result = result.to(dtype)
        report.dtype = str(dtype).removeprefix("torch.")
    if memory_format is not None or dtype is not None:
        result = _InferenceWrapper(result, memory_format, dtype)
    if isinstance(reference, torch.Tensor):
        with torch.no_grad():
            out = result(example)
        if isinstance(out, torch.Tensor):
            report.max_deviation = float((out.float() - reference.float()).abs().max())
    if compile:
        result = torch.compile(result)  # type: ignore[assignment]
        report.compiled = True
    result.optimization_report = report  # type: ignore[assignment]
    return result
