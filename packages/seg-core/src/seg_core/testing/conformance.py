"""The checks behind `check_encoder` and `check_architecture`."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = ["ArchitectureReport", "ConformanceError", "EncoderReport", "check_architecture", "check_encoder"]


class ConformanceError(AssertionError):
    """A component does not follow the seg contract; the message says which rule."""


def _fail(what: str, message: str) -> ConformanceError:
    return ConformanceError(f"{what}: {message}")


@dataclass
class EncoderReport:
    """What `check_encoder` verified (one line per passed check)."""

    name: str
    checks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


@dataclass
class ArchitectureReport:
    """What `check_architecture` verified."""

    name: str
    checks: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _encoder_factory(encoder: str | Callable[..., Any]) -> tuple[str, Callable[..., Any]]:
    if isinstance(encoder, str):
        from seg_core.components import create_encoder

        return encoder, lambda **kw: create_encoder(encoder, **kw)
    return getattr(encoder, "__name__", repr(encoder)), encoder


def _valid_size(size: int | Sequence[int], divisor: Sequence[int], minimum: Sequence[int] | None = None) -> list[int]:
    sizes = [int(size)] * len(divisor) if isinstance(size, int) else [int(s) for s in size]
    minimum = minimum or [1] * len(divisor)
    return [max(math.ceil(s / d) * d, math.ceil(m / d) * d) for s, d, m in zip(sizes, divisor, minimum)]


def _encoder_input_size(encoder: Any, input_size: Any, divisor: Sequence[int] | None = None) -> list[int]:
    fixed = encoder.capabilities.fixed_input_size
    if fixed:
        return [int(v) for v in fixed]
    return _valid_size(input_size, divisor or [max(r) for r in zip(*encoder.axis_reductions)])


def _model_input_size(model: Any, input_size: Any) -> list[int]:
    fixed = model.encoder.capabilities.fixed_input_size
    if fixed:
        return [int(v) for v in fixed]
    return _valid_size(input_size, model.input_divisor, model.min_input_size)


def _check_pyramid_outputs(what: str, encoder: Any, x: torch.Tensor, feats: Sequence[torch.Tensor]) -> None:
    depth = encoder.depth
    if len(feats) != depth + 1:
        raise _fail(what, f"forward returned {len(feats)} maps, expected depth + 1 = {depth + 1}")
    if len(encoder.out_channels) != depth + 1 or len(encoder.reductions) != depth + 1:
        raise _fail(what, "out_channels and reductions must have depth + 1 entries")
    if encoder.reductions[0] != 1 or feats[0].shape != x.shape:
        raise _fail(what, "the first returned map must be the input itself (reduction 1)")
    if encoder.output_stride != encoder.reductions[-1]:
        raise _fail(what, f"output_stride {encoder.output_stride} != deepest reduction {encoder.reductions[-1]}")
    for i, (feat, ch, red) in enumerate(zip(feats, encoder.out_channels, encoder.axis_reductions)):
        if feat.shape[1] != ch:
            raise _fail(what, f"level {i} has {feat.shape[1]} channels but out_channels says {ch}")
        expected = [math.ceil(s / r) for s, r in zip(x.shape[2:], red)]
        if list(feat.shape[2:]) != expected:
            raise _fail(
                what,
                f"level {i} has spatial size {list(feat.shape[2:])}, expected {expected} "
                f"(input {list(x.shape[2:])} / reduction {red})",
            )


def check_encoder(
    encoder: str | Callable[..., Any],
    *,
    depths: Sequence[int] = (3, 4, 5),
    in_channels: Sequence[int] = (1, 3, 4),
    input_size: int | Sequence[int] = 64,
    batch_size: int = 2,
    check_dilation: bool = True,
    check_compile: bool = True,
    check_export: bool = True,
    encoder_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> EncoderReport:
    """Check that an encoder follows the `EncoderMixin` contract.

    Verifies the contract attributes, the number of returned maps, their channels,
    spatial sizes and strides at every depth, changing ``in_channels``, rejecting
    ``in_channels=0``, dilation (when declared), and ``torch.compile`` /
    ``torch.export`` smoke tests (when the encoder declares support).

    Args:
        encoder: A registered name or a factory accepting ``depth``/``in_channels``/... keywords.
        depths: Depths to build.
        in_channels: Channel counts to try.
        input_size: Spatial size (rounded up to what the encoder accepts).
        batch_size: Batch size of the test input.
        check_dilation: Try output strides 16 and 8 when ``supports_dilation``.
        check_compile: Run ``torch.compile(fullgraph=True, backend="eager")`` when declared.
        check_export: Run ``torch.export.export`` when declared.
        encoder_kwargs: Extra arguments for every build, for names that would clash with
            this function's own (e.g. Swin's ``depths``).
        **kwargs: Extra arguments for every build (e.g. ``spatial_dims=3``).

    Returns:
        An `EncoderReport`.

    Raises:
        ConformanceError: The first broken rule, explained.
    """
    from seg_core.encoder import EncoderMixin
    from seg_core.errors import ConfigError

    name, factory = _encoder_factory(encoder)
    kwargs = {**kwargs, **(encoder_kwargs or {})}
    report = EncoderReport(name)
    torch.manual_seed(0)
    last: Any = None
    for depth in depths:
        what = f"encoder {name!r} depth={depth}"
        enc = factory(depth=depth, **kwargs)
        if not isinstance(enc, nn.Module) or not isinstance(enc, EncoderMixin):
            raise _fail(what, f"must be an nn.Module and an EncoderMixin, got {type(enc).__name__}")
        enc.validate_encoder()
        if enc.depth > depth:
            raise _fail(what, f"built depth {enc.depth}, more than requested")
        enc.eval()
        size = _encoder_input_size(enc, input_size)
        x = torch.randn(batch_size, enc.in_channels, *size)
        with torch.no_grad():
            feats = enc(x)
        _check_pyramid_outputs(what, enc, x, feats)
        report.checks.append(
            f"depth {depth}: {enc.depth + 1} maps, channels {enc.out_channels}, reductions {enc.reductions}"
        )
        last = enc
    for n in in_channels:
        what = f"encoder {name!r} in_channels={n}"
        enc = factory(in_channels=n, **kwargs)
        if enc.in_channels != n or enc.out_channels[0] != n:
            raise _fail(what, f"in_channels/out_channels[0] report {enc.in_channels}/{enc.out_channels[0]}")
        enc.eval()
        size = _encoder_input_size(enc, input_size)
        x = torch.randn(1, n, *size)
        with torch.no_grad():
            _check_pyramid_outputs(what, enc, x, enc(x))
        report.checks.append(f"in_channels {n}")
    try:
        factory(in_channels=0, **kwargs)
    except (ConfigError, ValueError):
        report.checks.append("in_channels=0 rejected")
    else:
        raise _fail(f"encoder {name!r}", "in_channels=0 must raise a ConfigError/ValueError")

    caps = last.capabilities
    if check_dilation and caps.supports_dilation:
        for stride in (16, 8):
            enc = factory(output_stride=stride, **kwargs).eval()
            if enc.output_stride != stride:
                raise _fail(f"encoder {name!r}", f"output_stride={stride} gives {enc.output_stride}")
            size = _encoder_input_size(enc, input_size, [32] * enc.spatial_dims)
            x = torch.randn(1, enc.in_channels, *size)
            with torch.no_grad():
                _check_pyramid_outputs(f"encoder {name!r} output_stride={stride}", enc, x, enc(x))
            report.checks.append(f"dilation to output stride {stride}")
    else:
        report.skipped.append("dilation (not supported)")

    _smoke_compile_export(
        f"encoder {name!r}",
        last,
        caps.compilable and check_compile,
        caps.exportable and check_export,
        input_size,
        report,
    )
    return report


def _smoke_compile_export(
    what: str, module: nn.Module, compile_: bool, export: bool, input_size: Any, report: Any
) -> None:
    target: Any = module
    encoder = target.encoder if hasattr(target, "encoder") else target
    if encoder.capabilities.fixed_input_size:
        size = [int(v) for v in encoder.capabilities.fixed_input_size]
    else:
        divisor = getattr(target, "input_divisor", None) or [max(r) for r in zip(*target.axis_reductions)]
        size = _valid_size(input_size, divisor, getattr(target, "min_input_size", None))
    in_ch = int(target.encoder.in_channels if hasattr(target, "encoder") else target.in_channels)
    x = torch.randn(1, in_ch, *size)
    module.eval()
    with torch.no_grad():
        expected = module(x)
    if compile_:
        torch.compiler.reset()
        compiled = torch.compile(module, fullgraph=True, backend="eager")
        with torch.no_grad():
            got = compiled(x)
        _assert_close(what + " under torch.compile", expected, got)
        report.checks.append("torch.compile(fullgraph=True)")
    else:
        report.skipped.append("torch.compile")
    if export:
        program = torch.export.export(module, (x,))
        with torch.no_grad():
            got = program.module()(x)
        _assert_close(what + " under torch.export", expected, got)
        report.checks.append("torch.export")
    else:
        report.skipped.append("torch.export")


def _assert_close(what: str, expected: Any, got: Any) -> None:
    exp = list(expected) if isinstance(expected, (list, tuple)) else [expected]
    out = list(got) if isinstance(got, (list, tuple)) else [got]
    if len(exp) != len(out):
        raise _fail(what, f"returned {len(out)} outputs instead of {len(exp)}")
    for a, b in zip(exp, out):
        if a.shape != b.shape or not torch.allclose(a, b, atol=1e-4, rtol=1e-4):
            raise _fail(what, "output differs from eager mode")


def check_architecture(
    arch: str | Callable[..., Any],
    *,
    encoder_name: str = "basic_cnn",
    depths: Sequence[int] = (3, 4, 5),
    input_size: int | Sequence[int] = 64,
    classes: int = 3,
    batch_sizes: Sequence[int] = (1, 2),
    check_aux: bool = True,
    check_save_load: bool = True,
    check_compile: bool = False,
    check_export: bool = False,
    **kwargs: Any,
) -> ArchitectureReport:
    """Check that an architecture follows the `SegmentationModel` contract.

    For every depth: output size equals input size and has ``classes`` channels;
    training works at every batch size (batch 1 included) and every trainable
    parameter receives a gradient; an aux head returns ``(masks, labels)``;
    ``predict`` restores the training mode and ``pad=True`` handles odd sizes;
    ``save_pretrained``/``from_pretrained`` reproduce the outputs.

    Args:
        arch: A registered architecture name or a factory taking the usual keywords.
        encoder_name: Encoder to build it with.
        depths: Encoder depths to try.
        input_size: Spatial size (rounded up to what the model accepts).
        classes: Output classes.
        batch_sizes: Batch sizes trained in train mode.
        check_aux: Also build with ``aux_params``.
        check_save_load: Round-trip through save_pretrained/from_pretrained (registered names only).
        check_compile: ``torch.compile`` smoke test.
        check_export: ``torch.export`` smoke test.
        **kwargs: Extra constructor arguments.

    Returns:
        An `ArchitectureReport`.

    Raises:
        ConformanceError: The first broken rule, explained.
    """
    from seg_core.architectures import create_model, from_pretrained

    if isinstance(arch, str):
        name = arch

        def factory(**kw: Any) -> Any:
            return create_model(arch, **kw)
    else:
        name, factory = getattr(arch, "__name__", repr(arch)), arch
    report = ArchitectureReport(name)
    model: Any = None
    for depth in depths:
        what = f"{name} with {encoder_name} depth={depth}"
        torch.manual_seed(0)
        model = factory(encoder_name=encoder_name, encoder_depth=depth, classes=classes, **kwargs)
        size = _model_input_size(model, input_size)
        in_ch = model.encoder.in_channels
        model.train()
        for batch in batch_sizes:
            model.zero_grad(set_to_none=True)
            x = torch.randn(batch, in_ch, *size)
            out = model(x)
            if tuple(out.shape) != (batch, classes, *size):
                raise _fail(what, f"output shape {tuple(out.shape)}, expected {(batch, classes, *size)}")
            out.float().mean().backward()
            unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
            if unused:
                raise _fail(what, f"parameters never receive a gradient (build only what is used): {unused[:8]}")
        report.checks.append(
            f"depth {depth}: shape {[classes, *size]}, batches {list(batch_sizes)} train + backward, all params used"
        )
        model.train()
        fixed = bool(model.encoder.capabilities.fixed_input_size)
        probe = size if fixed else [s + 3 for s in size]
        pred = model.predict(torch.randn(1, in_ch, *probe), pad=not fixed)
        if not model.training:
            raise _fail(what, "predict() must restore training mode")
        if list(pred.shape[2:]) != probe:
            raise _fail(what, f"predict(pad={not fixed}) on {probe} returned {list(pred.shape[2:])}")
        if fixed:
            report.skipped.append(f"depth {depth}: odd sizes (the encoder has a fixed input size)")
        report.checks.append(
            f"depth {depth}: predict restores mode" + ("" if fixed else f"; pad=True on odd size {probe}")
        )
        if check_aux:
            aux_model = factory(
                encoder_name=encoder_name, encoder_depth=depth, classes=classes, aux_params={"classes": 2}, **kwargs
            )
            result = aux_model(torch.randn(2, in_ch, *size))
            if not (isinstance(result, tuple) and len(result) == 2 and tuple(result[1].shape) == (2, 2)):
                raise _fail(what, "with aux_params forward must return (masks, labels) with labels (N, classes)")
            report.checks.append(f"depth {depth}: aux head")
    assert model is not None
    if check_save_load and isinstance(arch, str):
        model.eval()
        size = _model_input_size(model, input_size)
        x = torch.randn(1, model.encoder.in_channels, *size)
        with tempfile.TemporaryDirectory() as tmp:
            model.save_pretrained(tmp)
            loaded = from_pretrained(tmp).eval()
        with torch.no_grad():
            if not torch.equal(model(x), loaded(x)):
                raise _fail(name, "from_pretrained(save_pretrained(model)) gives different outputs")
        report.checks.append("save_pretrained/from_pretrained round trip")
    _smoke_compile_export(name, model, check_compile, check_export, input_size, report)
    return report
