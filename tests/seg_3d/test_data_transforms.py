"""3D transforms keep image and label aligned, never change a label except to ignore, and oversample foreground."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seg_3d.data import ops
from seg_3d.data.datasets.synthetic_volumes import synthetic_volumes
from seg_3d.data.datasets.volume_folder import volume_folder
from seg_3d.data.transforms import (
    PatchDraw,
    VolumeAugment,
    VolumeTransform,
    build_transforms,
    volume_scope,
)
from seg_core.errors import ConfigError, InputShapeError

IGNORE = 255


def _labelled(shape: tuple[int, int, int], classes: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A label map and an image derived from it: image = 10 * label + 1 (never 0 inside the volume)."""
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, classes, shape, generator=g)
    return (10.0 * label + 1.0)[None], label


def _consistent(image: torch.Tensor, label: torch.Tensor) -> None:
    inside = label != IGNORE
    assert torch.equal(image[0][inside], 10.0 * label[inside] + 1.0)
    assert torch.all(image[0][~inside] == 0)


def _ramps(shape: tuple[int, int, int]) -> torch.Tensor:
    """Three channels holding each voxel's own (d, h, w) index: linear, so trilinear sampling is exact."""
    grids = torch.meshgrid(*(torch.arange(n, dtype=torch.float32) for n in shape), indexing="ij")
    return torch.stack(grids)


def test_flips_and_quarter_turns_match_numpy() -> None:
    image, label = _labelled((4, 6, 6))
    x, y = VolumeAugment(flip=1.0, flip_axes=(0, 2)).apply(
        image, label, PatchDraw((0, 0, 0), (1, 1, 1), False, (0, 2), None)
    )
    assert np.array_equal(y.numpy(), np.flip(label.numpy(), (0, 2)))
    _consistent(x, y)
    for k in (1, 2, 3):
        draw = PatchDraw((0, 0, 0), (1, 1, 1), False, (), (k, (1, 2)))
        x, y = VolumeAugment(rot90=1.0).apply(image, label, draw)
        assert np.array_equal(y.numpy(), np.rot90(label.numpy(), k, axes=(1, 2)))
        assert np.array_equal(x[0].numpy(), np.rot90(image[0].numpy(), k, axes=(1, 2)))
    with pytest.raises(InputShapeError, match="only k=2"):
        ops.rot90(image, label, 1, (0, 1))


def test_quarter_turns_keep_the_patch_shape() -> None:
    aug = VolumeAugment(patch_size=(4, 8, 6), rot90=1.0, rot90_planes=((0, 1), (1, 2), (0, 2)))
    g = torch.Generator().manual_seed(0)
    label = torch.zeros(10, 10, 10, dtype=torch.long)
    ks = set()
    for _ in range(50):
        draw = aug.draw(label, g)
        assert draw.rotation is not None
        if draw.rotation[0] % 2:
            ks.add(draw.rotation[1])
        assert tuple(aug.apply(torch.zeros(1, 10, 10, 10), label, draw)[1].shape) == (4, 8, 6)
    assert ks == set()  # no plane of a (4, 8, 6) patch has equal sizes: half turns only
    square = VolumeAugment(patch_size=(4, 8, 8), rot90=1.0)
    assert {square.draw(label, g).rotation[0] for _ in range(40)} == {1, 2, 3}  # type: ignore[index]


def _numpy_crop(array: np.ndarray, start: list[int], size: tuple[int, ...], fill: float) -> np.ndarray:
    pad = [(max(0, -s), max(0, s + n - dim)) for s, n, dim in zip(start, size, array.shape, strict=True)]
    padded = np.pad(array, pad, constant_values=fill)
    index = tuple(slice(s + p[0], s + p[0] + n) for s, p, n in zip(start, pad, size, strict=True))
    return padded[index]


def test_random_patches_are_exact_crops_padded_with_ignore() -> None:
    image, label = _labelled((6, 12, 9))
    g = torch.Generator().manual_seed(3)
    for size in [(4, 8, 8), (8, 8, 12), (6, 12, 9)]:  # smaller, larger than the volume, equal
        aug = VolumeAugment(patch_size=size, foreground=0.5)
        for _ in range(20):
            draw = aug.draw(label, g)
            x, y = aug.apply(image, label, draw)
            start = [round(c - (n - 1) / 2) for c, n in zip(draw.center, size, strict=True)]
            assert np.array_equal(y.numpy(), _numpy_crop(label.numpy(), start, size, IGNORE))
            _consistent(x, y)
            if all(n >= m for n, m in zip(size, label.shape, strict=True)):  # a smaller volume lies inside the patch
                assert int((y != IGNORE).sum()) == label.numel()


def test_foreground_oversampling_rate_and_class_balance() -> None:
    label = torch.zeros(24, 24, 24, dtype=torch.long)
    label[3, 20, 12] = 2  # one voxel of class 2
    label[12:, :, :] = 1  # half the volume is class 1
    label[0, 0, 0] = IGNORE  # ignore is not foreground
    aug = VolumeAugment(patch_size=6)  # default: a third
    g = torch.Generator().manual_seed(0)
    draws = [aug.draw(label, g) for _ in range(900)]
    forced = [d for d in draws if d.foreground]
    assert 0.28 < len(forced) / len(draws) < 0.39  # 1/3 +- 3.5 binomial standard deviations
    with_class_2 = 0
    for draw in forced:
        _, y = aug.apply(torch.zeros(1, 24, 24, 24), label, draw)
        assert bool(((y == 1) | (y == 2)).any())  # centred on foreground: it is in the patch
        with_class_2 += int(bool((y == 2).any()))
    assert 0.35 < with_class_2 / len(forced) < 0.65  # a class first, then a voxel: the tiny class gets half
    random = [d for d in draws if not d.foreground][:300]
    hits = sum(int(bool((aug.apply(torch.zeros(1, 24, 24, 24), label, d)[1] == 2).any())) for d in random)
    assert hits / len(random) < 0.1  # uniform patches rarely hold the single voxel: oversampling is what finds it
    only_background = torch.zeros_like(label)
    assert not any(aug.draw(only_background, g).foreground for _ in range(30))  # nothing to oversample
    always = VolumeAugment(patch_size=8, foreground=1.0)
    assert all(always.draw(label, g).foreground for _ in range(30))


def test_scaled_patches_sample_image_and_label_at_the_same_points() -> None:
    shape = (10, 14, 12)
    _, label = _labelled(shape, classes=5, seed=1)
    image = _ramps(shape)
    aug = VolumeAugment(patch_size=(8, 9, 10), scale_range=(0.6, 1.7), foreground=0.5)
    g = torch.Generator().manual_seed(1)
    for _ in range(25):
        draw = aug.draw(label, g)
        x, y = aug.apply(image, label, draw)
        assert set(y.unique().tolist()) <= set(label.unique().tolist()) | {IGNORE}
        coords = [
            torch.tensor(draw.center[a]) + (torch.arange(n, dtype=torch.float64) - (n - 1) / 2) * draw.step[a]
            for a, n in enumerate((8, 9, 10))
        ]
        nearest = [torch.floor(c + 0.5).long() for c in coords]
        valid = [(n >= 0) & (n < s) for n, s in zip(nearest, shape, strict=True)]
        inside = valid[0][:, None, None] & valid[1][None, :, None] & valid[2][None, None, :]
        idx = [n.clamp(0, s - 1) for n, s in zip(nearest, shape, strict=True)]
        expected = label[idx[0][:, None, None], idx[1][None, :, None], idx[2][None, None, :]]
        assert torch.equal(y[inside], expected[inside]) and bool((y[~inside] == IGNORE).all())
        for a in range(3):  # the image channel of axis a holds the sampled coordinate where it is in the volume
            view = [1, 1, 1]
            view[a] = -1
            interior = _interior(coords, shape)
            want = coords[a].float().view(view).expand_as(x[a])
            assert torch.allclose(x[a][interior], want[interior], atol=1e-4)


def _interior(coords: list[torch.Tensor], shape: tuple[int, int, int]) -> torch.Tensor:
    oks = [((c >= 0) & (c <= n - 1)) for c, n in zip(coords, shape, strict=True)]
    return oks[0][:, None, None] & oks[1][None, :, None] & oks[2][None, None, :]


def test_resampling_keeps_labels_on_the_image() -> None:
    shape = (6, 10, 9)
    _, label = _labelled(shape, classes=4, seed=2)
    label[0, 0, :3] = IGNORE
    spacing, target = (3.0, 1.0, 0.8), (1.7, 1.3, 1.1)
    x, y = ops.resample(_ramps(shape), label, spacing, target)
    assert y is not None
    out = ops.resampled_shape(shape, spacing, target)
    assert tuple(y.shape) == out == tuple(round(n * s / t) for n, s, t in zip(shape, spacing, target, strict=True))
    assert set(y.unique().tolist()) <= set(label.unique().tolist())
    # nearest: output voxel o reads floor((o + 0.5) * in / out) (numpy reference)
    idx = [
        np.minimum(np.floor((np.arange(m) + 0.5) * n / m).astype(int), n - 1) for n, m in zip(shape, out, strict=True)
    ]
    expected = label.numpy()[np.ix_(*idx)]
    assert np.array_equal(y.numpy(), expected)
    # the image was sampled at the same voxel centres: rounding its coordinate ramps gives the label's source voxel
    for a in range(3):
        want = np.clip((np.arange(out[a]) + 0.5) * shape[a] / out[a] - 0.5, 0, shape[a] - 1)
        view = [1, 1, 1]
        view[a] = -1
        assert np.allclose(x[a].numpy(), np.broadcast_to(want.reshape(view), out), atol=1e-4)
        assert np.array_equal(np.floor(x[a].numpy() + 0.5).astype(int), np.broadcast_to(idx[a].reshape(view), out))


def test_cubic_resampling_is_bicubic_in_plane() -> None:
    image = torch.rand(2, 5, 12, 10, generator=torch.Generator().manual_seed(0))
    x, _ = ops.resample(image, None, (2.0, 1.0, 1.0), (2.0, 0.6, 0.7), interpolation="cubic")
    reference = F.interpolate(image, size=x.shape[-2:], mode="bicubic", align_corners=False)  # slices as a batch
    assert torch.allclose(x, reference, atol=1e-5)
    constant = torch.full((1, 4, 6, 6), 3.0)
    y, _ = ops.resample(constant, None, (1.0, 1.0, 1.0), (0.7, 1.3, 0.9), interpolation="cubic")
    assert torch.allclose(y, torch.full_like(y, 3.0), atol=1e-5)


def test_zscore_and_ct_window_match_numpy() -> None:
    g = torch.Generator().manual_seed(0)
    image = torch.randn(2, 4, 5, 6, generator=g) * torch.tensor([3.0, 50.0]).view(2, 1, 1, 1) + 7
    out = ops.zscore(image).numpy()
    arr = image.numpy()
    for c in range(2):
        assert np.allclose(out[c], (arr[c] - arr[c].mean()) / arr[c].std(), atol=1e-5)
    masked = image.clone()
    masked[:, :2] = 0
    nz = ops.zscore(masked, nonzero=True).numpy()
    for c in range(2):
        values = masked[c].numpy()[masked[c].numpy() != 0]
        assert np.allclose(nz[c][:, :][masked[c].numpy() != 0], (values - values.mean()) / values.std(), atol=1e-5)
        assert np.all(nz[c][:2] == 0)
    hu = torch.linspace(-1000, 1000, 2 * 4 * 5 * 6).view(2, 4, 5, 6)
    assert np.allclose(ops.ct_window(hu, (-160, 240)).numpy(), (np.clip(hu.numpy(), -160, 240) + 160) / 400)
    assert np.allclose(
        ops.ct_window(hu, (-160, 240), mean=40.0, std=80.0).numpy(), (np.clip(hu.numpy(), -160, 240) - 40) / 80
    )
    tf = VolumeTransform(normalize="ct", window=[-160, 240])
    x, _ = tf(hu, torch.zeros(4, 5, 6, dtype=torch.long))
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    with pytest.raises(ConfigError, match="window"):
        VolumeTransform(normalize="ct")


def test_padding_to_a_multiple_fills_ignore() -> None:
    image, label = _labelled((5, 8, 7))
    with volume_scope(-100):
        x, y = VolumeTransform(divisible_by=(4, 8, 8))(image, label)
    assert tuple(y.shape) == (8, 8, 8)
    assert torch.equal(y[:5, :, :7], label) and bool((y[5:] == -100).all()) and bool((y[:, :, 7:] == -100).all())
    assert torch.equal(x[:, :5, :, :7], image) and float(x[:, 5:].abs().sum()) == 0.0


def test_transforms_use_the_datasets_ignore_index_and_spacing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="the dataset's is -100"), volume_scope(-100):
        VolumeAugment(patch_size=4, ignore_index=255)(torch.zeros(1, 4, 4, 4), torch.zeros(4, 4, 4, dtype=torch.long))
    with pytest.raises(ConfigError, match="case's spacing"):
        VolumeTransform(target_spacing=2.0)(torch.zeros(1, 4, 4, 4), torch.zeros(4, 4, 4, dtype=torch.long))
    for folder in ("images", "labels"):
        (tmp_path / folder).mkdir()
    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, (4, 10, 10))
    np.savez(
        tmp_path / "images" / "a.npz", data=(10.0 * label + 1).astype(np.float32), spacing=np.array([4.0, 1.0, 1.0])
    )
    np.savez(tmp_path / "labels" / "a.npz", data=label, spacing=np.array([4.0, 1.0, 1.0]))
    ds = volume_folder(tmp_path, num_classes=3, transforms=VolumeTransform(target_spacing=(2.0, 2.0, 2.0)))
    x, y = ds[0]
    assert tuple(y.shape) == tuple(x.shape[1:]) == (8, 5, 5)  # 4 x 4 mm -> 8 x 2 mm, 10 x 1 mm -> 5 x 2 mm
    idx = [np.floor((np.arange(m) + 0.5) * n / m).astype(int) for n, m in zip((4, 10, 10), (8, 5, 5), strict=True)]
    assert np.array_equal(y.numpy(), label[np.ix_(*idx)])


def test_pipeline_keeps_image_derived_labels_consistent_and_is_seeded() -> None:
    tf = build_transforms(
        {"patch_size": [6, 8, 8], "flip": 0.5, "rot90": 0.5, "rot90_planes": [[1, 2]], "foreground": 0.5},
        {},
        train=True,
    )
    base = synthetic_volumes(num_samples=6, size=(8, 12, 12), num_classes=4, noise=0.0)
    ds = synthetic_volumes(num_samples=6, size=(8, 12, 12), num_classes=4, noise=0.0, transforms=tf, seed=5)
    ds.generate = _derived(base)
    for i in range(len(ds)):
        x, y = ds[i]
        assert tuple(x.shape) == (1, 6, 8, 8)
        _consistent(x, y)
    first = [ds[i] for i in range(3)]
    again = [ds[i] for i in range(3)]
    assert all(torch.equal(a[1], b[1]) for a, b in zip(first, again, strict=True))
    ds.set_epoch(1)
    later = [ds[i] for i in range(3)]
    assert any(not torch.equal(a[1], b[1]) for a, b in zip(first, later, strict=True))


def _derived(base: object) -> object:
    def make(index: int) -> tuple[np.ndarray, np.ndarray, object]:
        _, label, meta = base.load_case(index)  # type: ignore[attr-defined]
        return (10.0 * label + 1.0)[None].astype(np.float32), label, meta

    return make


def test_bad_options_are_named() -> None:
    with pytest.raises(ConfigError, match="foreground"):
        VolumeAugment(foreground=1.5)
    with pytest.raises(ConfigError, match="patch_size"):
        VolumeAugment(patch_size=(8, 8))
    with pytest.raises(ConfigError, match="scale_range"):
        VolumeAugment(scale_range=(1.2, 0.8))
    with pytest.raises(ConfigError, match="normalise.*normalize"):
        build_transforms({}, {"normalise": "zscore"}, train=False)
    with pytest.raises(InputShapeError, match=r"image \(1, 4, 4, 4\) and label \(4, 4, 5\)"):
        VolumeAugment()(torch.zeros(1, 4, 4, 4), torch.zeros(4, 4, 5, dtype=torch.long))
