"""The whole planner: against the reference note's nnU-Net computations and against numbers derived by hand.

The note (/work/shared/reference/monai-nnunet.md, section 2.12) ran nnU-Net v2.8.1's planning code on
these fingerprints; Lung is also checked there against a published plans file. Those outputs are an
independent reference for the shrink loop, which is too long to trace by hand.
"""

from __future__ import annotations

import pytest

from seg_3d.encoders.resenc_presets import RESENC_PRESETS
from seg_3d.plan import Fingerprint, plan
from seg_3d.plan.memory import feature_map_size
from seg_core.errors import ConfigError

S2 = (2, 2, 2)
P = (1, 2, 2)


def _uniform(spacing: tuple[float, float, float], shape: tuple[int, int, int], cases: int, classes: int) -> Fingerprint:
    return Fingerprint.from_lists([spacing] * cases, [shape] * cases, num_classes=classes)


BRATS = _uniform((1.0, 1.0, 1.0), (140, 170, 140), 1251, 4)  # note example 5
THICK = _uniform((5.0, 0.8, 0.8), (80, 512, 512), 100, 3)  # note example 3
LUNG = _uniform((1.244980, 0.785156, 0.785156), (252, 512, 512), 63, 2)  # note example 2 (real plans file)


@pytest.mark.parametrize(
    ("preset", "patch", "batch"),
    [("m", (128, 128, 128), 2), ("l", (160, 192, 160), 3), ("xl", (160, 192, 160), 5)],
)
def test_isotropic_brats_like(preset: str, patch: tuple[int, ...], batch: int) -> None:
    p = plan(BRATS, preset)
    assert p.patch_size == patch
    assert p.batch_size == batch
    assert all(s == S2 for s in p.strides[1:])
    assert all(k == (3, 3, 3) for k in p.kernel_sizes)
    assert p.depth == 6  # 128 and 160 x 192 x 160 both pool 5 times per axis


@pytest.mark.parametrize(
    ("preset", "patch", "depth"),
    [("m", (32, 224, 192), 6), ("l", (48, 320, 256), 7), ("xl", (56, 384, 384), None)],
)
def test_thick_slice_ct(preset: str, patch: tuple[int, ...], depth: int | None) -> None:
    p = plan(THICK, preset)
    assert p.spacing == (5.0, 0.8, 0.8)  # anisotropic, but the 10th percentile equals the median here
    assert p.patch_size == patch
    assert p.batch_size == 2
    assert p.strides[:3] == ((1, 1, 1), P, P)  # z waits until the in-plane spacing is within 2x
    assert p.kernel_sizes[:3] == ((1, 3, 3), (1, 3, 3), (3, 3, 3))
    if preset == "m":
        assert p.strides == ((1, 1, 1), P, P, S2, S2, S2)
    if depth is not None:
        assert p.depth == depth
    if preset == "l":
        assert p.strides[-1] == P


@pytest.mark.parametrize(
    ("preset", "patch", "pools"),
    [("m", (80, 192, 160), (4, 5, 5)), ("l", (112, 256, 256), (4, 6, 6)), ("xl", (128, 320, 320), (5, 6, 6))],
)
def test_lung(preset: str, patch: tuple[int, ...], pools: tuple[int, ...]) -> None:
    p = plan(LUNG, preset)
    assert p.patch_size == patch
    assert p.pools_per_axis == pools
    assert p.batch_size == 2
    assert p.features == tuple(min(32 * 2**s, 320) for s in range(p.depth))


def test_larger_presets_give_larger_patches() -> None:
    for fingerprint in (THICK, LUNG):
        voxels = {name: _prod(plan(fingerprint, name).patch_size) for name in RESENC_PRESETS}
        assert voxels["m"] < voxels["l"] < voxels["xl"]


def _prod(values: tuple[int, ...]) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def test_isotropic_256_cube_shrinks_to_128_with_six_stages() -> None:
    p = plan(_uniform((1.0, 1.0, 1.0), (256, 256, 256), 50, 2), "m")
    budget = RESENC_PRESETS["m"].reference_3d
    # By hand: the loop starts at 256^3 (7 stages), far above the budget, and shrinks one divisor step at a
    # time, the last axis first on ties, so a cube c^3 becomes (c, c, c-32), (c, c-32, c-32), ... The 128^3
    # network is the 558,319,104 reference network without deep supervision and with 2 classes:
    # 558,319,104 - 3 x (128^3 + 64^3 + 32^3 + 16^3 + 8^3) + 2 x 128^3 = 555,323,392 <= 680e6. The step before
    # it, 160 x 128 x 128, scales every stage by 160 / 128 (160 = 5 x 32): 694,154,240 > 680e6.
    at_128 = 558_319_104 - 3 * (128**3 + 64**3 + 32**3 + 16**3 + 8**3) + 2 * 128**3
    assert at_128 == 555_323_392 <= budget < at_128 * 160 // 128
    assert p.patch_size == (128, 128, 128)
    assert p.feature_map_size == at_128
    assert p.depth == 6
    assert all(s == S2 for s in p.strides[1:])
    assert all(k == (3, 3, 3) for k in p.kernel_sizes)
    start = feature_map_size(
        (256,) * 3, [(1, 1, 1)] + [S2] * 6, (32, 64, 128, 256, 320, 320, 320), (1, 3, 4, 6, 6, 6, 6), 2
    )
    assert start > budget


def test_very_anisotropic_volume_keeps_depth() -> None:
    # 10 x 0.5 x 0.5 mm, 6 x 256 x 256: z is never pooled (6 < 8), kernels 1 x 3 x 3 until 10 / 8 < 2
    p = plan(_uniform((10.0, 0.5, 0.5), (6, 256, 256), 20, 2), "m")
    assert p.spacing == (10.0, 0.5, 0.5)
    assert all(s[0] == 1 for s in p.strides)
    assert p.patch_size[0] == 6
    assert p.kernel_sizes[:4] == ((1, 3, 3),) * 4


def test_anisotropy_rule_is_applied_in_the_plan() -> None:
    spacings = [(10.0, 1.5625, 1.5625)] * 160 + [(5.0, 1.5625, 1.5625)] * 40
    shapes = [(9, 256, 216)] * 160 + [(18, 256, 216)] * 40
    p = plan(Fingerprint.from_lists(spacings, shapes, num_classes=4), "m")
    assert p.spacing == (5.0, 1.5625, 1.5625)
    # resampled: 10/5 x 9 = 18 and 5/5 x 18 = 18 slices: the median shape is 18 x 256 x 216
    assert p.median_shape == (18, 256, 216)
    assert any("10th percentile" in r for r in p.reasons)


# Batch size: 64^3 at 1 mm with 2 classes is 69,341,184 elements (test_plan_memory.py), far below M's
# 680,000,000: round(680e6 / 69,341,184 * 2) = round(19.61) = 20. The dataset cap is
# round(cases x 64^3 / 64^3) = cases, and the result is at least 2.
@pytest.mark.parametrize(("cases", "batch"), [(30, 20), (10, 10), (1, 2)])
def test_batch_size_raw_dataset_cap_and_minimum(cases: int, batch: int) -> None:
    p = plan(_uniform((1.0, 1.0, 1.0), (64, 64, 64), cases, 2), "m")
    assert p.patch_size == (64, 64, 64)
    assert p.feature_map_size == 69_341_184
    assert p.batch_size == batch


def test_gpu_memory_scales_the_budget() -> None:
    # 4 GB with M (8 GB): budget 340e6 -> round(340e6 / 69,341,184 * 2) = round(9.81) = 10
    p = plan(_uniform((1.0, 1.0, 1.0), (64, 64, 64), 30, 2), "m", gpu_memory_gb=4)
    assert p.reference == pytest.approx(340_000_000)
    assert p.batch_size == 10
    assert any("differs from the preset" in r for r in p.reasons)


def test_reasons_explain_each_decision() -> None:
    p = plan(THICK, "m")
    text = p.explain()
    for word in ("target spacing", "initial patch", "memory budget", "shrink", "stage 0", "batch size", "features"):
        assert word in text
    assert "kernel 1 on axis 0" in text


def test_defaults_for_unknown_classes_and_channels() -> None:
    p = plan(Fingerprint.from_lists([(1, 1, 1)], [(32, 32, 32)]))
    assert (p.num_classes, p.in_channels) == (2, 1)
    assert any("assuming 2" in r for r in p.reasons)


def test_errors() -> None:
    with pytest.raises(ConfigError, match="preset"):
        plan(BRATS, "s")
    with pytest.raises(ConfigError, match="3D"):
        plan(Fingerprint.from_lists([(1.0, 1.0)], [(64, 64)]))
    with pytest.raises(ConfigError, match="gpu_memory_gb"):
        plan(BRATS, gpu_memory_gb=0)
    with pytest.raises(ConfigError, match="too small"):
        plan(BRATS, gpu_memory_gb=1e-6)
    with pytest.raises(ConfigError, match="num_classes"):
        plan(BRATS, num_classes=0)
