"""Test-time augmentation: multi-scale, axis flips and 90° rotations, merged into one prediction.

Each *view* is a (scale, flip, rotation) of the input: the input is resized (``scale``), flipped
along some spatial axes, then rotated by ``rotation * 90°`` in a plane; the model's logits for the
view are rotated back, flipped back and resized back to the input's size, and the views are merged
(mean of probabilities, mean of logits, or per-class max of probabilities).

Views that have the same shape are concatenated along the batch axis and run in one forward (at most
``max_batch`` views at a time); views of different shapes (other scales, odd rotations of a
non-square plane) run in separate forwards. With a sliding window over each view, an odd rotation
also swaps the per-axis window arguments (``window_size``, ``overlap``, ``sigma_scale``) of the
rotation plane, so that the rotated view is cut into the rotated windows; such views run in their
own sliding-window pass.

With a sliding window (``window=``), the two ways of combining them are:

* **windows inside each view** (``"per_view"``, the general path): every view is run through
  `sliding_window_inference` with ``output="logits"``, un-augmented, and merged. Works for every
  merge and scale.
* **views inside each window** (``"per_window"``): the model is wrapped so that each window is
  run under every view and its logits are averaged there; one sliding-window pass then blends the
  merged logits. Blending is linear and the views at scale 1 only permute pixels, so this is only
  possible for ``merge="mean_logits"`` with every scale 1.0, and is then cheaper: one accumulator
  instead of one per view, bigger batches, and streamed labels (``output="labels"``).

``composition="auto"`` (the default) takes the per-window path exactly when it is possible
(`TestTimeAugmentation.merges_inside_windows`), else the per-view path. The two give the same
result when the window grid is symmetric under the views' flips and rotations (e.g. when the image
size minus the window is a multiple of the window step, or one window covers the image) or the
model has no border effects; otherwise they differ by the models' border effects at the windows'
edges (both are valid estimates).
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F

from seg_core.errors import ConfigError, InputShapeError
from seg_train.inference.sliding_window import OUTPUTS, select_output, sliding_window_inference

__all__ = [
    "COMPOSITIONS",
    "MERGES",
    "PIXSEG_SCALES",
    "TTAView",
    "TestTimeAugmentation",
]

#: How views are merged.
MERGES = ("mean_probabilities", "mean_logits", "max")
#: How TTA and a sliding window are combined.
COMPOSITIONS = ("auto", "per_view", "per_window")
#: The multi-scale test of PixSeg (and mmsegmentation's ``aug_test``).
PIXSEG_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)

_ACTIVATIONS = ("softmax", "sigmoid")
_INTERPOLATION = {1: "linear", 2: "bilinear", 3: "trilinear"}
#: `sliding_window_inference` arguments that TTA sets itself.
_WINDOW_RESERVED = ("inputs", "model", "output", "output_key", "activation")
#: Per-axis window arguments, swapped with the rotation plane's axes for odd rotations.
_WINDOW_PER_AXIS = ("window_size", "overlap", "sigma_scale")


class TTAView(NamedTuple):
    """One augmentation of the input.

    Attributes:
        scale: The resize factor of every spatial axis.
        flip: The spatial axes flipped (``()``: none).
        rotation: Quarter turns in the TTA's plane (``torch.rot90``'s ``k``).
    """

    scale: float
    flip: tuple[int, ...]
    rotation: int


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _window_arguments(window: Mapping[str, Any]) -> dict[str, Any]:
    """Check a mapping of `sliding_window_inference` keyword arguments; return it as a dict.

    Raises:
        ConfigError: Not a mapping, no ``window_size``, an unknown key, or a key set by the caller.
    """
    if not isinstance(window, Mapping):
        raise ConfigError(
            f"window={window!r} must be a mapping of sliding_window_inference arguments, e.g. {{'window_size': 96}}"
        )
    accepted = [p for p in inspect.signature(sliding_window_inference).parameters if p not in _WINDOW_RESERVED]
    for key in window:
        if key in _WINDOW_RESERVED:
            raise ConfigError(
                f"window[{key!r}]: set {key} on the call itself, not in the window arguments "
                f"(accepted window keys: {', '.join(accepted)})"
            )
        if key not in accepted:
            raise ConfigError(f"window has an unknown key {key!r}; accepted: {', '.join(accepted)}")
    if "window_size" not in window:
        raise ConfigError("window needs a 'window_size' (one int, or one per spatial axis)")
    return dict(window)


def _check_inputs(inputs: Any, who: str) -> None:
    if not isinstance(inputs, torch.Tensor) or inputs.ndim < 3:
        shape = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise InputShapeError(f"{who} takes (B, C, *spatial) inputs; got {shape}")
    if not inputs.is_floating_point():
        raise InputShapeError(f"{who} takes floating-point inputs; got {inputs.dtype} (use .float())")


def _activate(logits: torch.Tensor, activation: str) -> torch.Tensor:
    return logits.sigmoid() if activation == "sigmoid" else logits.softmax(1)


def _labels_from_logits(logits: torch.Tensor, activation: str) -> torch.Tensor:
    """As `sliding_window_inference`: sigmoid ``logit > 0`` per class; softmax argmax (one channel: ``> 0``)."""
    if activation == "sigmoid":
        return (logits > 0).to(torch.uint8)
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).to(torch.uint8)
    return logits.argmax(1).to(torch.int64 if logits.shape[1] > 256 else torch.uint8)


def _labels_from_probabilities(probabilities: torch.Tensor, activation: str) -> torch.Tensor:
    """Sigmoid: ``p > 0.5`` per class (B, K, ...); softmax: the argmax (B, ...)."""
    if activation == "sigmoid":
        return (probabilities > 0.5).to(torch.uint8)
    return probabilities.argmax(1).to(torch.int64 if probabilities.shape[1] > 256 else torch.uint8)


@dataclass(frozen=True)
class TestTimeAugmentation:
    """Test-time augmentation: every combination of ``scales`` x ``flips`` x ``rotations``, merged.

    Rotations use ``torch.rot90`` in ``plane`` on the (resized) view and rotate the logits back; a
    non-square plane works (the view's two axes swap) for fully convolutional models, which accept
    any size. Flips and rotations together repeat some views (a flip of both plane axes is a 180°
    turn); they are kept, which weights those views twice.

    Attributes:
        scales: Resize factors (bilinear / trilinear, ``align_corners=False``); each view's logits
            are resized back to the input size. E.g. `PIXSEG_SCALES`.
        flips: Sets of spatial axes to flip, e.g. ``((), (-1,), (-2,), (-2, -1))``; ``()`` is the
            identity. Axes count among the spatial axes: ``0`` is the first, ``-1`` the last.
        rotations: Quarter turns (multiples of 90°, ``torch.rot90``'s ``k``) in ``plane``.
        plane: The two spatial axes the rotations turn, e.g. ``(-3, -1)`` for a 3D axial plane.
        merge: ``"mean_probabilities"`` (mean of the softmax / sigmoid), ``"mean_logits"`` (mean of
            the logits), or ``"max"`` (per class, the max of the probabilities; not normalised).
        activation: ``"softmax"`` (classes exclude each other) or ``"sigmoid"`` (multilabel).
        max_batch: At most this many views (``max_batch * B`` images) per forward; None: all the
            views that share a shape in one forward.

    Raises:
        ConfigError: A field with a bad value (named, with the accepted values).

    Example:
        >>> import torch
        >>> tta = TestTimeAugmentation.standard(2, scales=(0.75, 1.0))
        >>> len(tta.views())
        8
        >>> model = torch.nn.Conv2d(3, 4, 3, padding=1)
        >>> tta(torch.randn(2, 3, 32, 24), model).shape
        torch.Size([2, 4, 32, 24])
    """

    __test__ = False  # not a pytest test class despite the name

    scales: tuple[float, ...] = (1.0,)
    flips: tuple[tuple[int, ...], ...] = ((),)
    rotations: tuple[int, ...] = (0,)
    plane: tuple[int, int] = (-2, -1)
    merge: str = "mean_probabilities"
    activation: str = "softmax"
    max_batch: int | None = None

    def __post_init__(self) -> None:
        scales = self._sequence("scales", self.scales, "positive numbers, e.g. (0.75, 1.0, 1.25)")
        for s in scales:
            if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
                raise ConfigError(
                    f"scales={self.scales!r}: each scale must be a positive number, e.g. (0.75, 1.0, 1.25)"
                )
        flips = self._sequence("flips", self.flips, "sets of spatial axes, e.g. ((), (-1,), (-2,), (-2, -1))")
        normal_flips = []
        for entry in flips:
            if isinstance(entry, (str, bytes)) or not isinstance(entry, Sequence) or not all(map(_is_int, entry)):
                raise ConfigError(
                    f"flips={self.flips!r}: each entry must be a tuple of spatial axes (ints), "
                    "e.g. ((), (-1,), (-2,), (-2, -1)); () is the identity"
                )
            if len(set(entry)) != len(entry):
                raise ConfigError(f"flips={self.flips!r}: the entry {tuple(entry)} names an axis twice")
            normal_flips.append(tuple(entry))
        rotations = self._sequence("rotations", self.rotations, "quarter turns, e.g. (0, 1, 2, 3)")
        if not all(map(_is_int, rotations)):
            raise ConfigError(
                f"rotations={self.rotations!r}: each rotation must be an int (quarter turns), e.g. (0, 1, 2, 3)"
            )
        plane = self.plane
        if (
            isinstance(plane, (str, bytes))
            or not isinstance(plane, Sequence)
            or len(plane) != 2
            or not all(map(_is_int, plane))
            or plane[0] == plane[1]
        ):
            raise ConfigError(f"plane={plane!r} must be two different spatial axes, e.g. (-2, -1) or (-3, -1)")
        if self.merge not in MERGES:
            raise ConfigError(f"merge={self.merge!r}; accepted: {', '.join(map(repr, MERGES))}")
        if self.activation not in _ACTIVATIONS:
            raise ConfigError(f"activation={self.activation!r}; accepted: {', '.join(map(repr, _ACTIVATIONS))}")
        if self.max_batch is not None and (not _is_int(self.max_batch) or self.max_batch < 1):
            raise ConfigError(
                f"max_batch={self.max_batch!r} must be None (all views of a shape at once) or an int >= 1"
            )
        object.__setattr__(self, "scales", tuple(float(s) for s in scales))
        object.__setattr__(self, "flips", tuple(normal_flips))
        object.__setattr__(self, "rotations", tuple(rotations))
        object.__setattr__(self, "plane", (plane[0], plane[1]))

    @staticmethod
    def _sequence(name: str, value: Any, accepted: str) -> tuple[Any, ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
            raise ConfigError(f"{name}={value!r} must be a non-empty tuple of {accepted}")
        return tuple(value)

    @classmethod
    def standard(
        cls,
        spatial_dims: int,
        *,
        scales: Sequence[float] = (1.0,),
        flips: bool = True,
        rotations: bool = False,
        plane: tuple[int, int] = (-2, -1),
        merge: str = "mean_probabilities",
        activation: str = "softmax",
        max_batch: int | None = None,
    ) -> TestTimeAugmentation:
        """The usual TTA: every combination of axis flips, optionally the four rotations, at ``scales``.

        Args:
            spatial_dims: The number of spatial axes (1, 2 or 3).
            scales: Resize factors, e.g. `PIXSEG_SCALES`.
            flips: Every subset of the spatial axes (``2 ** spatial_dims`` flips, identity included);
                False: no flip.
            rotations: The four quarter turns in ``plane`` (needs two spatial axes); False: none.
            plane: The rotation plane.
            merge: See the class.
            activation: See the class.
            max_batch: See the class.

        Returns:
            The augmentation.

        Raises:
            ConfigError: ``spatial_dims`` < 1, or rotations with one spatial axis.

        Example:
            >>> TestTimeAugmentation.standard(2).flips
            ((), (-2,), (-1,), (-2, -1))
        """
        if not _is_int(spatial_dims) or spatial_dims < 1:
            raise ConfigError(f"spatial_dims={spatial_dims!r} must be an int >= 1")
        if rotations and spatial_dims < 2:
            raise ConfigError("rotations=True needs at least two spatial axes (a plane to rotate)")
        axes = range(-spatial_dims, 0)
        flip_sets = [c for r in range(spatial_dims + 1) for c in itertools.combinations(axes, r)] if flips else [()]
        return cls(
            scales=tuple(scales),
            flips=tuple(flip_sets),
            rotations=(0, 1, 2, 3) if rotations else (0,),
            plane=plane,
            merge=merge,
            activation=activation,
            max_batch=max_batch,
        )

    def views(self) -> list[TTAView]:
        """Every view, scales slowest, then flips, then rotations.

        Example:
            >>> TestTimeAugmentation(flips=((), (-1,)), rotations=(0, 1)).views()[1]
            TTAView(scale=1.0, flip=(), rotation=1)
        """
        return [TTAView(s, f, r) for s in self.scales for f in self.flips for r in self.rotations]

    @property
    def merges_inside_windows(self) -> bool:
        """Whether views can be merged inside each sliding window (``merge="mean_logits"``, every scale 1.0).

        ``composition="auto"`` then takes the cheaper per-window path.
        """
        return self.merge == "mean_logits" and all(s == 1.0 for s in self.scales)

    def __call__(
        self,
        inputs: torch.Tensor,
        model: Callable[..., Any],
        *,
        window: Mapping[str, Any] | None = None,
        output: str = "probabilities",
        output_key: str | int | None = None,
        composition: str = "auto",
    ) -> torch.Tensor:
        """Predict every view and merge them into one prediction (under ``torch.no_grad()``).

        Args:
            inputs: ``(B, C, *spatial)``, floating point.
            model: Returns logits ``(n, K, *spatial)`` for ``(n, C, *spatial)``, or a tuple / dict of
                them (see ``output_key``). Logits of another spatial size are resized to the input's.
            window: `sliding_window_inference` keyword arguments (``window_size`` required, e.g.
                ``{"window_size": 96, "overlap": 0.5, "mode": "gaussian"}``) to run each view (or
                each window, see ``composition``) with a sliding window; None: whole-image forwards.
            output: ``"probabilities"``; ``"logits"`` (only with ``merge="mean_logits"``: other
                merges produce probabilities); or ``"labels"``.
            output_key: Which output of a model returning a tuple (index) or a dict (key) to keep.
            composition: With a window, ``"per_view"`` (a sliding window over each view),
                ``"per_window"`` (every view inside each window: needs `merges_inside_windows`), or
                ``"auto"`` (``"per_window"`` when possible, it is cheaper; else ``"per_view"``).

        Returns:
            ``(B, K, *spatial)`` probabilities or logits; labels ``(B, *spatial)`` (the argmax, uint8
            up to 256 classes, else int64), or ``(B, K, *spatial)`` uint8 with sigmoid (``p > 0.5``).

        Raises:
            InputShapeError: ``inputs`` is not ``(B, C, *spatial)`` floating point, or the model's
                output does not fit.
            ConfigError: A bad argument, an axis or plane the input does not have, ``"logits"``
                with a probability merge, or a softmax probability merge of a one-channel model.

        Example:
            >>> import torch
            >>> tta = TestTimeAugmentation(flips=((), (-1,)), merge="mean_logits")
            >>> model = torch.nn.Conv3d(1, 3, 3, padding=1)
            >>> labels = tta(torch.randn(1, 1, 20, 20, 12), model, window={"window_size": 16}, output="labels")
            >>> labels.shape, labels.dtype
            (torch.Size([1, 20, 20, 12]), torch.uint8)
        """
        _check_inputs(inputs, "TestTimeAugmentation")
        if output not in OUTPUTS:
            raise ConfigError(f"output={output!r}; accepted: {', '.join(map(repr, OUTPUTS))}")
        if output == "logits" and self.merge != "mean_logits":
            raise ConfigError(
                f"output='logits' needs merge='mean_logits': merge={self.merge!r} combines probabilities, "
                "so there are no merged logits; use output='probabilities' or merge='mean_logits'"
            )
        if composition not in COMPOSITIONS:
            raise ConfigError(f"composition={composition!r}; accepted: {', '.join(map(repr, COMPOSITIONS))}")
        geometry = _Geometry.of(self, inputs.ndim - 2)
        with torch.no_grad():
            if window is None:
                return self._merged(inputs, geometry, _forward(model, output_key), output, None)
            arguments = _window_arguments(window)
            if composition == "per_window" and not self.merges_inside_windows:
                raise ConfigError(
                    "composition='per_window' merges the views' logits inside each window: it needs "
                    f"merge='mean_logits' and every scale 1.0 (got merge={self.merge!r}, scales={self.scales}); "
                    "use composition='per_view' or 'auto'"
                )
            if composition == "per_view" or (composition == "auto" and not self.merges_inside_windows):
                return self._merged(inputs, geometry, _forward(model, output_key), output, arguments)
            forward = _forward(model, output_key)

            def merged_window(batch: torch.Tensor) -> torch.Tensor:
                return self._merged(batch, geometry, forward, "logits", None)

            return sliding_window_inference(
                inputs, merged_window, output=output, activation=self.activation, **arguments
            )

    def _merged(
        self,
        inputs: torch.Tensor,
        geometry: _Geometry,
        forward: Callable[[torch.Tensor], torch.Tensor],
        output: str,
        window: dict[str, Any] | None,
    ) -> torch.Tensor:
        """Run every view (whole-image, or a sliding window over each), un-augment and merge."""
        size = tuple(inputs.shape[2:])
        batch = inputs.shape[0]
        views = self.views()
        total: torch.Tensor | None = None
        for group in _groups(views, geometry, size, window):
            shape = geometry.shape(group[0], size)
            step = len(group) if self.max_batch is None else self.max_batch
            for first in range(0, len(group), step):
                chunk = group[first : first + step]
                augmented = torch.cat([geometry.augment(inputs, view, shape) for view in chunk])
                if window is None:
                    logits = forward(augmented)
                else:
                    logits = sliding_window_inference(
                        augmented, forward, output="logits", **geometry.view_window(window, chunk[0])
                    )
                if logits.ndim != inputs.ndim or logits.shape[0] != augmented.shape[0]:
                    raise InputShapeError(
                        f"the model returned shape {tuple(logits.shape)} for a batch of views of shape "
                        f"{tuple(augmented.shape)}; TTA needs logits (N, K, *spatial)"
                    )
                if self.merge != "mean_logits" and self.activation == "softmax" and logits.shape[1] == 1:
                    raise ConfigError(
                        "the model has one output channel: its softmax is always 1, so "
                        f"merge={self.merge!r} cannot work; use activation='sigmoid' (binary) or merge='mean_logits'"
                    )
                for i, view in enumerate(chunk):
                    restored = geometry.restore(logits[i * batch : (i + 1) * batch], view, size)
                    if self.merge != "mean_logits":
                        restored = _activate(restored.float(), self.activation).to(restored.dtype)
                    if total is None:
                        total = restored.clone()
                    elif self.merge == "max":
                        torch.maximum(total, restored, out=total)
                    else:
                        total += restored
        assert total is not None
        merged = total if self.merge == "max" else total / len(views)
        if self.merge == "mean_logits":
            if output == "logits":
                return merged
            if output == "labels":
                return _labels_from_logits(merged, self.activation)
            return _activate(merged, self.activation)
        return _labels_from_probabilities(merged, self.activation) if output == "labels" else merged


def _forward(model: Callable[..., Any], output_key: str | int | None) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(batch: torch.Tensor) -> torch.Tensor:
        return select_output(model(batch), output_key)

    return forward


def _groups(
    views: list[TTAView], geometry: _Geometry, size: tuple[int, ...], window: dict[str, Any] | None
) -> Iterator[list[TTAView]]:
    """The views grouped by their augmented spatial shape (and, with a window, by their window
    arguments: an odd rotation swaps per-axis window sizes), in order of first appearance."""
    groups: dict[tuple[tuple[int, ...], bool], list[TTAView]] = {}
    for view in views:
        swapped = window is not None and geometry.view_window(window, view) != window
        groups.setdefault((geometry.shape(view, size), swapped), []).append(view)
    yield from groups.values()


@dataclass(frozen=True)
class _Geometry:
    """A TTA's axes resolved for an input with ``dims`` spatial axes (tensor dims count B and C)."""

    dims: int
    flips: dict[tuple[int, ...], tuple[int, ...]]  # the configured flip -> tensor dims
    plane: tuple[int, int]  # tensor dims of the rotation plane

    @classmethod
    def of(cls, tta: TestTimeAugmentation, dims: int) -> _Geometry:
        def resolve(axis: int, field: str, value: Any) -> int:
            if not -dims <= axis < dims:
                raise ConfigError(
                    f"{field}={value!r}: axis {axis} is not a spatial axis of a {dims}D input "
                    f"(spatial axes are 0..{dims - 1} or -{dims}..-1)"
                )
            return axis % dims + 2

        flips = {}
        for flip in tta.flips:
            resolved = tuple(resolve(axis, "flips", tta.flips) for axis in flip)
            if len(set(resolved)) != len(resolved):
                raise ConfigError(
                    f"flips={tta.flips!r}: the entry {flip} names the same axis twice for a {dims}D input"
                )
            flips[flip] = resolved
        plane = (2, 3)
        if any(r % 4 for r in tta.rotations):
            if dims < 2:
                raise ConfigError(f"rotations={tta.rotations!r} need two spatial axes; the input has {dims}")
            first, second = (resolve(axis, "plane", tta.plane) for axis in tta.plane)
            if first == second:
                raise ConfigError(f"plane={tta.plane!r} names the same axis twice for a {dims}D input")
            plane = (first, second)
        if any(s != 1.0 for s in tta.scales) and dims not in _INTERPOLATION:
            raise ConfigError(f"scales={tta.scales!r}: resizing supports 1 to 3 spatial axes; the input has {dims}")
        return cls(dims, flips, plane)

    def scaled(self, view: TTAView, size: tuple[int, ...]) -> tuple[int, ...]:
        if view.scale == 1.0:
            return size
        return tuple(max(1, int(n * view.scale + 0.5)) for n in size)

    def shape(self, view: TTAView, size: tuple[int, ...]) -> tuple[int, ...]:
        """The spatial shape of the view of an input of ``size``."""
        shape = list(self.scaled(view, size))
        if view.rotation % 2:
            a, b = self.plane[0] - 2, self.plane[1] - 2
            shape[a], shape[b] = shape[b], shape[a]
        return tuple(shape)

    def augment(self, inputs: torch.Tensor, view: TTAView, shape: tuple[int, ...]) -> torch.Tensor:
        x = inputs
        scaled = self.scaled(view, tuple(inputs.shape[2:]))
        if scaled != tuple(inputs.shape[2:]):
            x = F.interpolate(x, size=scaled, mode=_INTERPOLATION[self.dims], align_corners=False)
        if view.flip:
            x = x.flip(self.flips[view.flip])
        if view.rotation % 4:
            x = torch.rot90(x, view.rotation % 4, self.plane)
        assert tuple(x.shape[2:]) == shape
        return x

    def restore(self, logits: torch.Tensor, view: TTAView, size: tuple[int, ...]) -> torch.Tensor:
        """Undo the view on its logits: rotate back, flip back, resize to the input's ``size``."""
        y = logits
        if view.rotation % 4:
            y = torch.rot90(y, -(view.rotation % 4), self.plane)
        if view.flip:
            y = y.flip(self.flips[view.flip])
        if tuple(y.shape[2:]) != size:
            if self.dims not in _INTERPOLATION:
                raise InputShapeError(
                    f"the model's logits have spatial shape {tuple(y.shape[2:])}, not the input's {size}, "
                    f"and resizing supports 1 to 3 spatial axes"
                )
            y = F.interpolate(y, size=size, mode=_INTERPOLATION[self.dims], align_corners=False)
        return y

    def view_window(self, window: dict[str, Any], view: TTAView) -> dict[str, Any]:
        """The window arguments for a view: per-axis values follow an odd rotation's swapped axes."""
        if not view.rotation % 2:
            return window
        swapped = dict(window)
        a, b = self.plane[0] - 2, self.plane[1] - 2
        for key in _WINDOW_PER_AXIS:
            value = window.get(key)
            if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) == self.dims:
                values = list(value)
                values[a], values[b] = values[b], values[a]
                swapped[key] = tuple(values)
        return swapped
