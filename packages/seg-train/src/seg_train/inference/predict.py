"""One call to predict: a plain forward, a sliding window, test-time augmentation, or both.

`predict` is what ``seg predict`` and ``seg eval --tta/--window`` run; `parse_window` and
`parse_tta` turn their command-line strings into its arguments.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import torch

from seg_core.errors import ConfigError
from seg_train.inference.sliding_window import OUTPUTS, PADDING_MODES, select_output, sliding_window_inference
from seg_train.inference.tta import (
    MERGES,
    PIXSEG_SCALES,
    TestTimeAugmentation,
    _activate,
    _check_inputs,
    _labels_from_logits,
    _window_arguments,
)

__all__ = ["parse_tta", "parse_window", "predict"]

_ACTIVATIONS = ("softmax", "sigmoid")


def predict(
    model: Callable[..., Any],
    inputs: torch.Tensor,
    *,
    tta: TestTimeAugmentation | None = None,
    window: Mapping[str, Any] | None = None,
    output: str = "labels",
    output_key: str | int | None = None,
    activation: str = "softmax",
) -> torch.Tensor:
    """Predict ``inputs`` with ``model``: whole-image, sliding window, TTA, or TTA with a sliding window.

    A `torch.nn.Module` is put in eval mode for the call and every submodule's train / eval mode is
    restored afterwards; everything runs under `torch.inference_mode`.

    Args:
        model: Returns logits ``(n, K, *spatial)`` for ``(n, C, *spatial)``, or a tuple / dict of them.
        inputs: ``(B, C, *spatial)``, floating point.
        tta: Test-time augmentation (its ``activation`` must equal ``activation``); None: none.
        window: `sliding_window_inference` keyword arguments (``window_size`` required, e.g. from
            `parse_window`); None: whole-image forwards.
        output: ``"labels"``, ``"probabilities"`` or ``"logits"`` (with TTA only for
            ``merge="mean_logits"``).
        output_key: Which output of a model returning a tuple (index) or a dict (key) to keep.
        activation: ``"softmax"`` or ``"sigmoid"`` (multilabel / binary, labels per class).

    Returns:
        ``(B, K, *spatial)`` logits or probabilities; labels ``(B, *spatial)`` (uint8 up to 256
        classes, else int64), or ``(B, K, *spatial)`` uint8 with sigmoid.

    Raises:
        InputShapeError: ``inputs`` is not ``(B, C, *spatial)`` floating point.
        ConfigError: A bad argument, or ``tta.activation`` differs from ``activation``.

    Example:
        >>> import torch
        >>> model = torch.nn.Conv2d(3, 4, 3, padding=1)
        >>> tta = parse_tta("flip", spatial_dims=2)
        >>> labels = predict(model, torch.randn(1, 3, 40, 30), tta=tta, window=parse_window("32", 0.5, "gaussian"))
        >>> labels.shape, labels.dtype
        (torch.Size([1, 40, 30]), torch.uint8)
    """
    _check_inputs(inputs, "predict")
    if output not in OUTPUTS:
        raise ConfigError(f"output={output!r}; accepted: {', '.join(map(repr, OUTPUTS))}")
    if activation not in _ACTIVATIONS:
        raise ConfigError(f"activation={activation!r}; accepted: {', '.join(map(repr, _ACTIVATIONS))}")
    if tta is not None and not isinstance(tta, TestTimeAugmentation):
        raise ConfigError(f"tta={tta!r} must be a TestTimeAugmentation or None (see parse_tta)")
    if tta is not None and tta.activation != activation:
        raise ConfigError(
            f"activation={activation!r} but tta.activation={tta.activation!r}; they must agree "
            "(e.g. dataclasses.replace(tta, activation=...))"
        )
    arguments = _window_arguments(window) if window is not None else None
    modes = {module: module.training for module in model.modules()} if isinstance(model, torch.nn.Module) else {}
    try:
        if isinstance(model, torch.nn.Module):
            model.eval()
        with torch.inference_mode():
            if tta is not None:
                return tta(inputs, model, window=arguments, output=output, output_key=output_key)
            if arguments is not None:
                return sliding_window_inference(
                    inputs, model, output=output, output_key=output_key, activation=activation, **arguments
                )
            logits = select_output(model(inputs), output_key)
            if output == "labels":
                return _labels_from_logits(logits, activation)
            return _activate(logits, activation) if output == "probabilities" else logits
    finally:
        for module, training in modes.items():
            module.training = training


def parse_window(
    spec: str | None, overlap: float = 0.25, mode: str = "constant", padding_mode: str = "constant"
) -> dict[str, Any] | None:
    """Sliding-window arguments for `predict` from a command-line window size.

    Args:
        spec: One size for every spatial axis (``"512"``) or one per axis (``"96,96,64"``, or
            ``"96x96x64"``); None, ``""`` or ``"none"``: no sliding window.
        overlap: The windows' overlap, in [0, 1).
        mode: ``"constant"`` or ``"gaussian"`` blending.
        padding_mode: How an image smaller than the window is padded: ``"constant"`` (zeros),
            ``"reflect"``, ``"replicate"`` or ``"circular"``.

    Returns:
        ``{"window_size": ..., "overlap": overlap, "mode": mode}`` (and ``"padding_mode"`` unless
        ``"constant"``), or None.

    Raises:
        ConfigError: A size that is not a positive int, or a bad overlap or mode.

    Example:
        >>> parse_window("96,96,64", 0.5, "gaussian")
        {'window_size': (96, 96, 64), 'overlap': 0.5, 'mode': 'gaussian'}
    """
    if spec is None or spec.strip().lower() in ("", "none"):
        return None
    forms = "accepted: one size for every axis ('512') or one per axis ('96,96,64' or '96x96x64')"
    parts = [p.strip() for p in spec.lower().replace("x", ",").split(",")]
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise ConfigError(f"window={spec!r} is not a window size; {forms}") from None
    if any(s <= 0 for s in sizes):
        raise ConfigError(f"window={spec!r}: sizes must be positive; {forms}")
    if isinstance(overlap, bool) or not isinstance(overlap, (int, float)) or not 0 <= overlap < 1:
        raise ConfigError(f"overlap={overlap!r} must be in [0, 1)")
    if mode not in ("constant", "gaussian"):
        raise ConfigError(f"mode={mode!r}; accepted: 'constant', 'gaussian'")
    if padding_mode not in PADDING_MODES:
        raise ConfigError(f"padding_mode={padding_mode!r}; accepted: {', '.join(map(repr, PADDING_MODES))}")
    window = {"window_size": sizes[0] if len(sizes) == 1 else tuple(sizes), "overlap": float(overlap), "mode": mode}
    if padding_mode != "constant":
        window["padding_mode"] = padding_mode
    return window


_TTA_FORMS = (
    "accepted: keywords 'flip' (every axis-flip combination), 'hflip' (the last axis), 'scale' "
    f"(scales {', '.join(map(str, PIXSEG_SCALES))}), 'rot90' (four quarter turns), joined with ',' "
    "(e.g. 'flip,scale'); settings 'scales=0.75,1.0,1.25', 'flip=-2,-1' (the combinations of these "
    f"axes), 'rotations=0,1,2,3', 'plane=-3,-1', 'merge={'|'.join(MERGES)}', 'max_batch=N'; parts "
    "separated by ';' (e.g. 'scales=0.75,1.0,1.25;flip'); 'none' for no TTA"
)


def parse_tta(spec: str | None, spatial_dims: int, *, activation: str = "softmax") -> TestTimeAugmentation | None:
    """Test-time augmentation from a command-line string.

    The string is parts separated by ``;``. A part is either keywords joined with ``,``:

    * ``flip``: every combination of axis flips (``2 ** spatial_dims`` views, identity included);
    * ``hflip``: the identity and a flip of the last axis;
    * ``scale``: PixSeg's scales 0.5, 0.75, 1.0, 1.25, 1.5;
    * ``rot90``: the four quarter turns in the last two axes;

    or one setting ``key=value[,value...]``:

    * ``scales=0.75,1.0,1.25``; ``flip=-2,-1`` (every combination of flipping these axes);
    * ``rotations=0,1,2,3``; ``plane=-3,-1`` (the rotation plane);
    * ``merge=mean_probabilities|mean_logits|max``; ``max_batch=4``.

    A field is set once (``scale`` and ``scales=`` together are an error). Views are every
    combination of the scales, flips and rotations. ``None``, ``""`` or ``"none"``: no TTA.

    Args:
        spec: The string.
        spatial_dims: The number of spatial axes of the data (for ``flip`` and axis checks).
        activation: The model's activation, ``"softmax"`` or ``"sigmoid"``.

    Returns:
        The augmentation, or None.

    Raises:
        ConfigError: Anything else, with the accepted forms.

    Example:
        >>> tta = parse_tta("scales=0.75,1.0,1.25;flip", spatial_dims=2)
        >>> tta.scales, len(tta.views())
        ((0.75, 1.0, 1.25), 12)
        >>> parse_tta("flip,scale", spatial_dims=3).flips[-1]
        (-3, -2, -1)
    """
    if spec is None or spec.strip().lower() in ("", "none"):
        return None
    if isinstance(spatial_dims, bool) or not isinstance(spatial_dims, int) or spatial_dims < 1:
        raise ConfigError(f"spatial_dims={spatial_dims!r} must be an int >= 1")
    fields: dict[str, Any] = {}

    def bad(reason: str) -> ConfigError:
        return ConfigError(f"tta={spec!r}: {reason}; {_TTA_FORMS}")

    def put(key: str, value: Any, origin: str) -> None:
        if key in fields:
            raise bad(f"{origin!r} sets {key} a second time")
        fields[key] = value

    def numbers(text: str, kind: type, key: str) -> list[Any]:
        try:
            values = [kind(v.strip()) for v in text.split(",")]
        except ValueError:
            raise bad(f"{key}={text!r} needs comma-separated {kind.__name__}s") from None
        return values

    def flip_sets(axes: list[int], origin: str) -> tuple[tuple[int, ...], ...]:
        resolved = [a % spatial_dims for a in axes if -spatial_dims <= a < spatial_dims]
        if len(resolved) != len(axes) or len(set(resolved)) != len(resolved):
            raise bad(f"{origin!r}: flip axes must be different spatial axes of {spatial_dims}D data")
        negative = [a - spatial_dims for a in resolved]
        return tuple(
            tuple(sorted(combo)) for r in range(len(negative) + 1) for combo in itertools.combinations(negative, r)
        )

    for part in (p.strip() for p in spec.split(";")):
        if not part:
            continue
        if "=" in part:
            key, _, value = (s.strip() for s in part.partition("="))
            key = key.lower()
            if key == "scales":
                put("scales", tuple(numbers(value, float, key)), part)
            elif key in ("flip", "flips"):
                put("flips", flip_sets(numbers(value, int, key), part), part)
            elif key == "rotations":
                put("rotations", tuple(numbers(value, int, key)), part)
            elif key == "plane":
                put("plane", tuple(numbers(value, int, key)), part)
            elif key == "merge":
                put("merge", value, part)
            elif key == "max_batch":
                sizes = numbers(value, int, key)
                if len(sizes) != 1:
                    raise bad(f"max_batch={value!r} needs one int")
                put("max_batch", sizes[0], part)
            else:
                raise bad(f"unknown setting {key!r}")
            continue
        for word in (w.strip().lower() for w in part.split(",")):
            if word == "flip":
                put("flips", flip_sets(list(range(-spatial_dims, 0)), word), word)
            elif word == "hflip":
                put("flips", ((), (-1,)), word)
            elif word == "scale":
                put("scales", PIXSEG_SCALES, word)
            elif word in ("rot90", "rotate"):
                if spatial_dims < 2:
                    raise bad("rot90 needs two spatial axes")
                put("rotations", (0, 1, 2, 3), word)
            else:
                raise bad(f"unknown keyword {word!r}")
    if not fields:
        raise bad("nothing to augment")
    try:
        tta = TestTimeAugmentation(activation=activation, **fields)
    except ConfigError as error:
        raise bad(str(error)) from None
    if any(r % 4 for r in tta.rotations):
        plane = [a % spatial_dims for a in tta.plane if -spatial_dims <= a < spatial_dims]
        if spatial_dims < 2 or len(set(plane)) != 2:
            raise bad(f"plane={tta.plane} is not two different spatial axes of {spatial_dims}D data")
    return tta
