"""Test-time augmentation: flips, rotations and scales against manual computations, batching, windows."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seg_core.errors import ConfigError, InputShapeError
from seg_train.inference import sliding_window_inference
from seg_train.inference.tta import PIXSEG_SCALES, TestTimeAugmentation, TTAView

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
MODE = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _model(dims: int, classes: int = 3, channels: int = 2, seed: int = 0) -> nn.Module:
    """Not flip- nor rotation-equivariant: a random 3-wide kernel, ReLU, a 1x1 conv."""
    torch.manual_seed(seed)
    conv = CONV[dims]
    return nn.Sequential(conv(channels, 4, 3, padding=1), nn.ReLU(), conv(4, classes, 1)).eval()


def _symmetric_model(dims: int, classes: int = 3, channels: int = 2) -> nn.Module:
    """Flip-equivariant: the kernel is the mean of a random kernel over every combination of axis flips."""
    model = _model(dims, classes, channels)
    with torch.no_grad():
        weight = model[0].weight
        axes = range(2, 2 + dims)
        flips = [c for r in range(dims + 1) for c in itertools.combinations(axes, r)]
        weight.copy_(sum(weight.flip(f) if f else weight for f in flips) / len(flips))
    return model


class Counting(nn.Module):
    """Records the input shape of every call."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        return self.model(x)


def _restore_scale(y: torch.Tensor, size: tuple[int, ...]) -> torch.Tensor:
    return y if tuple(y.shape[2:]) == size else F.interpolate(y, size=size, mode=MODE[len(size)], align_corners=False)


def _manual_logits(model, x, view: TTAView, plane=(-2, -1), window=None) -> torch.Tensor:
    """One view's restored logits, computed step by step."""
    size = tuple(x.shape[2:])
    dims = len(size)
    v = x
    if view.scale != 1.0:
        v = F.interpolate(v, size=[int(n * view.scale + 0.5) for n in size], mode=MODE[dims], align_corners=False)
    flip = [a % dims + 2 for a in view.flip]
    rot = [a % dims + 2 for a in plane]
    if flip:
        v = torch.flip(v, flip)
    if view.rotation:
        v = torch.rot90(v, view.rotation, rot)
    with torch.no_grad():
        y = model(v) if window is None else sliding_window_inference(v, model, **window)
    if view.rotation:
        y = torch.rot90(y, -view.rotation, rot)
    if flip:
        y = torch.flip(y, flip)
    return _restore_scale(y, size)


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("merge", ["mean_probabilities", "mean_logits", "max"])
def test_flip_equivariant_model_is_unchanged_by_flip_tta(dims, merge) -> None:
    model = _symmetric_model(dims)
    x = torch.randn(2, 2, *[7, 6, 5][:dims])
    tta = TestTimeAugmentation.standard(dims, merge=merge)
    assert len(tta.views()) == 2**dims
    with torch.no_grad():
        plain = model(x).softmax(1)
        # the check that the model really is equivariant, so that the test means something
        torch.testing.assert_close(model(x.flip(-1)).flip(-1).softmax(1), plain, atol=1e-5, rtol=0)
    torch.testing.assert_close(tta(x, model), plain, atol=1e-5, rtol=0)
    assert torch.equal(tta(x, model, output="labels"), plain.argmax(1).to(torch.uint8))


@pytest.mark.parametrize("merge", ["mean_probabilities", "mean_logits", "max"])
@pytest.mark.parametrize("activation", ["softmax", "sigmoid"])
def test_identity_and_hflip_match_a_manual_two_view_merge(merge, activation) -> None:
    model = _model(2)
    x = torch.randn(2, 2, 6, 9)
    with torch.no_grad():
        l1 = model(x)
        l2 = torch.flip(model(torch.flip(x, [3])), [3])
    assert not torch.allclose(l1, l2, atol=1e-3)  # the flip view differs
    act = (lambda t: t.softmax(1)) if activation == "softmax" else torch.sigmoid
    expected = {
        "mean_probabilities": (act(l1) + act(l2)) / 2,
        "mean_logits": act((l1 + l2) / 2),
        "max": torch.maximum(act(l1), act(l2)),
    }[merge]
    tta = TestTimeAugmentation(flips=((), (-1,)), merge=merge, activation=activation)
    torch.testing.assert_close(tta(x, model), expected, atol=1e-6, rtol=0)
    labels = tta(x, model, output="labels")
    if activation == "softmax":
        assert labels.shape == (2, 6, 9) and labels.dtype == torch.uint8
        assert torch.equal(labels, expected.argmax(1).to(torch.uint8))
    else:
        assert labels.shape == (2, 3, 6, 9) and labels.dtype == torch.uint8
        assert torch.equal(labels, (expected > 0.5).to(torch.uint8))
    if merge == "mean_logits":
        torch.testing.assert_close(tta(x, model, output="logits"), (l1 + l2) / 2, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("shape", "plane"),
    [((6, 10), (-2, -1)), ((8, 8), (0, 1)), ((5, 4, 7), (-3, -1)), ((4, 6, 6), (-2, -1))],
)
def test_rot90_views_are_rotated_back(shape, plane) -> None:
    dims = len(shape)
    model = _model(dims)
    x = torch.randn(1, 2, *shape)
    tta = TestTimeAugmentation(rotations=(0, 1, 2, 3), plane=plane, merge="mean_logits")
    views = tta.views()
    manual = [_manual_logits(model, x, v, plane) for v in views]
    assert not torch.allclose(manual[0], manual[1], atol=1e-3)  # not rotation-equivariant
    torch.testing.assert_close(tta(x, model, output="logits"), sum(manual) / 4, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(30,), (13, 10), (7, 9, 6)])
def test_scaled_views_come_back_at_the_input_size(shape) -> None:
    dims = len(shape)
    model = _model(dims)
    x = torch.randn(2, 2, *shape)
    tta = TestTimeAugmentation(scales=PIXSEG_SCALES, flips=((), (-1,)))
    probabilities = tta(x, model)
    assert probabilities.shape == (2, 3, *shape)
    manual = sum(_manual_logits(model, x, v).softmax(1) for v in tta.views()) / len(tta.views())
    torch.testing.assert_close(probabilities, manual, atol=1e-6, rtol=0)


def test_max_batch_changes_the_calls_not_the_result() -> None:
    x = torch.randn(2, 2, 9, 9)
    results, calls = [], []
    for max_batch in (None, 1, 3):
        model = Counting(_model(2))
        tta = TestTimeAugmentation.standard(2, rotations=True, max_batch=max_batch)  # 16 views, one shape
        results.append(tta(x, model))
        calls.append([c[0] for c in model.calls])
    assert calls == [[32], [2] * 16, [6] * 5 + [2]]
    for result in results[1:]:
        torch.testing.assert_close(result, results[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    ("shape", "shapes"),
    [
        ((8, 12), {(4, 6), (6, 4), (8, 12), (12, 8)}),  # scales x rotations of a non-square plane
        ((8, 8), {(4, 4), (8, 8)}),  # square: rotations keep the shape
        ((4, 6, 8), {(2, 3, 4), (2, 4, 3), (4, 6, 8), (4, 8, 6)}),
    ],
)
def test_one_forward_per_distinct_view_shape(shape, shapes) -> None:
    model = Counting(_model(len(shape)))
    tta = TestTimeAugmentation.standard(len(shape), scales=(0.5, 1.0), rotations=True)
    x = torch.randn(1, 2, *shape)
    assert tta(x, model).shape == (1, 3, *shape)
    assert len(model.calls) == len(shapes)
    assert {c[2:] for c in model.calls} == shapes
    assert sum(c[0] for c in model.calls) == len(tta.views())


@pytest.mark.parametrize("merge", ["mean_probabilities", "max", "mean_logits"])
@pytest.mark.parametrize("dims", [2, 3])
def test_windows_inside_views_equal_a_manual_per_view_sliding_window(merge, dims) -> None:
    model = _model(dims)
    shape = (17, 14) if dims == 2 else (9, 11, 10)
    x = torch.randn(2, 2, *shape)
    window = {"window_size": 8 if dims == 2 else 6, "overlap": 0.5, "mode": "gaussian", "batch_size": 3}
    tta = TestTimeAugmentation(
        scales=(0.75, 1.0) if merge != "mean_logits" else (1.0,), flips=((), (-1,)), rotations=(0, 1), merge=merge
    )
    per_view = [_manual_logits(model, x, v, window=window) for v in tta.views()]
    if merge == "mean_logits":
        expected = (sum(per_view) / len(per_view)).softmax(1)
        result = tta(x, model, window=window, composition="per_view")
    else:
        probabilities = [p.softmax(1) for p in per_view]
        expected = (
            sum(probabilities) / len(per_view) if merge == "mean_probabilities" else torch.stack(probabilities).amax(0)
        )
        result = tta(x, model, window=window)  # auto: per view
    torch.testing.assert_close(result, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    ("shape", "window", "plane"),
    [
        ((24, 24), {"window_size": (8, 12), "overlap": 0.5, "mode": "gaussian"}, (-2, -1)),  # non-square window
        ((16, 20), {"window_size": 8, "overlap": 0.5}, (-2, -1)),
        ((12, 10, 12), {"window_size": (8, 10, 8), "overlap": 0.5, "mode": "gaussian"}, (-3, -1)),
    ],
)
def test_views_inside_windows_equal_windows_inside_views(shape, window, plane) -> None:
    """With a window grid that is symmetric under the flips and rotations the two paths agree."""
    dims = len(shape)
    x = torch.randn(2, 2, *shape)
    tta = TestTimeAugmentation.standard(dims, rotations=True, plane=plane, merge="mean_logits")
    assert tta.merges_inside_windows
    model = Counting(_model(dims))
    per_window = tta(x, model, window={**window, "batch_size": 2}, output="logits")
    # auto took the per-window path: each call is every view (of one shape) of 2 windows, not 2 windows
    assert min(c[0] for c in model.calls) >= 2 * len(tta.views()) // 2
    per_view = tta(x, model, window=window, output="logits", composition="per_view")
    torch.testing.assert_close(per_window, per_view, atol=1e-5, rtol=0)
    for output in ("probabilities", "labels"):
        a = tta(x, model, window=window, output=output, composition="per_window")
        b = tta(x, model, window=window, output=output, composition="per_view")
        if output == "labels":
            assert (a != b).float().mean() < 1e-3  # argmax ties aside
        else:
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_merges_inside_windows_rule() -> None:
    assert TestTimeAugmentation(merge="mean_logits").merges_inside_windows
    assert not TestTimeAugmentation(merge="mean_logits", scales=(0.5, 1.0)).merges_inside_windows
    assert not TestTimeAugmentation(merge="mean_probabilities").merges_inside_windows
    assert not TestTimeAugmentation(merge="max").merges_inside_windows


def test_tuple_and_dict_models_and_one_view() -> None:
    base = _model(2)
    x = torch.randn(1, 2, 8, 8)
    with torch.no_grad():
        expected = base(x).softmax(1)
    identity = TestTimeAugmentation()
    assert identity.views() == [TTAView(1.0, (), 0)]
    torch.testing.assert_close(identity(x, base), expected)
    tta = TestTimeAugmentation(flips=((), (-1,)))
    torch.testing.assert_close(tta(x, lambda t: (base(t), t)), tta(x, base))
    torch.testing.assert_close(tta(x, lambda t: {"aux": t, "seg": base(t)}, output_key="seg"), tta(x, base))
    with pytest.raises(ConfigError, match="output_key"):
        tta(x, lambda t: {"aux": t, "seg": base(t)})


def test_lower_resolution_logits_are_resized_to_the_input() -> None:
    base = _model(2)
    x = torch.randn(1, 2, 16, 16)
    out = TestTimeAugmentation(flips=((), (-1,)))(x, lambda t: base(t)[..., ::2, ::2])
    assert out.shape == (1, 3, 16, 16)


def test_one_channel_models() -> None:
    model = _model(2, classes=1)
    x = torch.randn(1, 2, 6, 6)
    with torch.no_grad():
        logits = model(x)
    labels = TestTimeAugmentation(merge="mean_logits")(x, model, output="labels")
    assert torch.equal(labels, (logits[:, 0] > 0).to(torch.uint8))
    sigmoid = TestTimeAugmentation(activation="sigmoid")(x, model)
    torch.testing.assert_close(sigmoid, logits.sigmoid())
    with pytest.raises(ConfigError, match="one output channel"):
        TestTimeAugmentation()(x, model)


def test_standard() -> None:
    assert TestTimeAugmentation.standard(1).flips == ((), (-1,))
    three = TestTimeAugmentation.standard(3, scales=PIXSEG_SCALES, rotations=True, plane=(-3, -2))
    assert len(three.flips) == 8 and three.rotations == (0, 1, 2, 3) and len(three.views()) == 5 * 8 * 4
    assert TestTimeAugmentation.standard(2, flips=False).views() == [TTAView(1.0, (), 0)]
    with pytest.raises(ConfigError, match="spatial_dims"):
        TestTimeAugmentation.standard(0)
    with pytest.raises(ConfigError, match="two spatial axes"):
        TestTimeAugmentation.standard(1, rotations=True)


def test_lists_are_normalised_to_tuples() -> None:
    tta = TestTimeAugmentation(scales=[1, 0.5], flips=[[], [-1]], rotations=[0, 2], plane=[0, 1])  # type: ignore[arg-type]
    assert tta.scales == (1.0, 0.5) and tta.flips == ((), (-1,)) and tta.rotations == (0, 2) and tta.plane == (0, 1)
    hash(tta)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scales": ()}, "scales"),
        ({"scales": (0.0,)}, "scales"),
        ({"scales": (1.0, -0.5)}, "scales"),
        ({"scales": ("1",)}, "scales"),
        ({"scales": 1.0}, "scales"),
        ({"flips": ()}, "flips"),
        ({"flips": ((), "x")}, "flips"),
        ({"flips": ((1.5,),)}, "flips"),
        ({"flips": ((-1, -1),)}, "twice"),
        ({"rotations": (1.5,)}, "rotations"),
        ({"rotations": (True,)}, "rotations"),
        ({"plane": (0, 0)}, "plane"),
        ({"plane": (1,)}, "plane"),
        ({"merge": "median"}, "mean_probabilities"),
        ({"activation": "relu"}, "softmax"),
        ({"max_batch": 0}, "max_batch"),
        ({"max_batch": 2.0}, "max_batch"),
    ],
)
def test_bad_fields(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        TestTimeAugmentation(**kwargs)


def test_bad_calls() -> None:
    model = _model(2)
    x = torch.randn(1, 2, 8, 8)
    tta = TestTimeAugmentation(flips=((), (-1,)))
    with pytest.raises(ConfigError, match="mean_logits"):
        tta(x, model, output="logits")
    with pytest.raises(ConfigError, match="output="):
        tta(x, model, output="scores")
    with pytest.raises(ConfigError, match="composition"):
        tta(x, model, composition="nested")
    with pytest.raises(ConfigError, match="per_window"):
        tta(x, model, window={"window_size": 4}, composition="per_window")
    with pytest.raises(ConfigError, match="window_size"):
        tta(x, model, window={"overlap": 0.5})
    with pytest.raises(ConfigError, match="unknown key 'size'"):
        tta(x, model, window={"window_size": 4, "size": 3})
    with pytest.raises(ConfigError, match="on the call itself"):
        tta(x, model, window={"window_size": 4, "output": "labels"})
    with pytest.raises(ConfigError, match="mapping"):
        tta(x, model, window=4)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="axis -3"):
        TestTimeAugmentation(flips=((-3,),))(x, model)
    with pytest.raises(ConfigError, match="same axis"):
        TestTimeAugmentation(flips=((0, -2),))(x, model)
    with pytest.raises(ConfigError, match="two spatial axes"):
        TestTimeAugmentation(rotations=(0, 1))(torch.randn(1, 2, 8), _model(1))
    with pytest.raises(ConfigError, match="plane"):
        TestTimeAugmentation(rotations=(1,), plane=(0, 2))(x, model)
    TestTimeAugmentation(rotations=(0, 4), plane=(0, 2))(x, model)  # no quarter turn: the plane is unused
    with pytest.raises(InputShapeError, match="floating"):
        tta(x.long(), model)
    with pytest.raises(InputShapeError, match=r"\(B, C, \*spatial\)"):
        tta(torch.randn(8, 8), model)
    with pytest.raises(InputShapeError, match="logits"):
        tta(x, lambda t: t.flatten(1))


def test_runs_without_gradients() -> None:
    model = _model(2)
    x = torch.randn(1, 2, 8, 8, requires_grad=True)
    assert not TestTimeAugmentation(flips=((), (-1,)))(x, model).requires_grad
