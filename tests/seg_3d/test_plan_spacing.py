"""Target spacing: the median, and nnU-Net's 10th-percentile rule for anisotropic datasets (hand-derived values)."""

from __future__ import annotations

import pytest

from seg_3d.plan._stats import median, percentile
from seg_3d.plan.spacing import resampled_shapes, target_spacing
from seg_core.errors import ConfigError


def test_percentile_matches_linear_interpolation_by_hand() -> None:
    # sorted [1, 2, 3, 4]: h = 3 * q / 100
    assert percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)  # h = 1.5
    assert percentile([4, 1, 3, 2], 10) == pytest.approx(1.3)  # h = 0.3 -> 1 + 0.3 * (2 - 1)
    assert percentile([4, 1, 3, 2], 100) == 4.0
    assert percentile([7.0], 10) == 7.0
    assert median([3, 1, 2]) == 2.0


def test_isotropic_dataset_takes_the_median() -> None:
    spacings = [(1.0, 1.0, 1.0), (1.2, 0.8, 0.9), (0.8, 1.0, 1.1)]
    result = target_spacing(spacings, [(100, 100, 100)] * 3)
    assert result.spacing == pytest.approx((1.0, 1.0, 1.0))
    assert not result.anisotropic
    assert "median" in result.reasons[-1]


def test_acdc_like_dataset_takes_the_10th_percentile_of_the_slice_axis() -> None:
    # nnU-Net's motivating case: 160 cases at 10 mm (9 slices), 40 at 5 mm (18 slices), 1.5625 mm in plane.
    spacings = [(10.0, 1.5625, 1.5625)] * 160 + [(5.0, 1.5625, 1.5625)] * 40
    shapes = [(9, 256, 216)] * 160 + [(18, 256, 216)] * 40
    result = target_spacing(spacings, shapes)
    # median z = 10 > 3 x 1.5625 and median size 9 x 3 = 27 < 216: anisotropic.
    # 10th percentile of the sorted z spacings (40 fives, then 160 tens): h = 199 * 0.1 = 19.9 -> 5.0
    assert result.anisotropic
    assert result.worst_axis == 0
    assert result.median == pytest.approx((10.0, 1.5625, 1.5625))
    assert result.spacing == pytest.approx((5.0, 1.5625, 1.5625))
    assert any("10th percentile" in r for r in result.reasons)


def test_10th_percentile_never_goes_below_the_finest_other_axis() -> None:
    # 8 cases at 4 mm and 2 at 0.5 mm along z; 1 mm in plane: median z = 4 > 3 x 1 and 10 x 3 < 200.
    spacings = [(4.0, 1.0, 1.0)] * 8 + [(0.5, 1.0, 1.0)] * 2
    shapes = [(10, 200, 200)] * 10
    result = target_spacing(spacings, shapes)
    # 10th percentile: sorted [0.5, 0.5, 4, ...], h = 9 * 0.1 = 0.9 -> 0.5 < 1 mm -> max(1, 0.5) + 1e-5
    assert result.anisotropic
    assert result.spacing[0] == pytest.approx(1.0 + 1e-5, abs=1e-12)
    assert result.spacing[1:] == (1.0, 1.0)


def test_thick_slices_with_many_slices_keep_the_median() -> None:
    # 10 x 0.5 mm is > 3x anisotropic, but 200 slices x 3 = 600 is not < 512 voxels: the size test fails.
    spacings = [(10.0, 0.5, 0.5)] * 4 + [(5.0, 0.5, 0.5)] * 6
    result = target_spacing(spacings, [(200, 512, 512)] * 10)
    # median z: sorted [5 x6, 10 x4], h = 9 * 0.5 = 4.5 -> indices 4 and 5 are both 5 -> 5.0
    assert result.spacing == pytest.approx((5.0, 0.5, 0.5))
    assert not result.anisotropic
    assert "not short" in result.reasons[-1]


def test_threshold_is_strict() -> None:
    # exactly 3x coarser is not anisotropic (nnU-Net tests target[worst] > 3 * max(others))
    spacings = [(3.0, 1.0, 1.0)] * 5 + [(1.0, 1.0, 1.0)] * 5
    result = target_spacing(spacings, [(10, 300, 300)] * 10)
    # median z: sorted [1 x5, 3 x5], h = 4.5 -> 1 + 0.5 * 2 = 2.0; 2 <= 3, so the median stays
    assert result.spacing == pytest.approx((2.0, 1.0, 1.0))
    uniform = target_spacing([(3.0, 1.0, 1.0)] * 4, [(10, 300, 300)] * 4)
    assert uniform.spacing == (3.0, 1.0, 1.0)
    assert not uniform.anisotropic


def test_worst_axis_can_be_any_axis() -> None:
    spacings = [(0.7, 0.7, 6.0)] * 9 + [(0.7, 0.7, 2.0)]
    result = target_spacing(spacings, [(400, 400, 30)] * 10)
    # 10th percentile of axis 2: sorted [2, 6 x9], h = 0.9 -> 2 + 0.9 * 4 = 5.6
    assert result.worst_axis == 2
    assert result.spacing == pytest.approx((0.7, 0.7, 5.6))


def test_override_and_errors() -> None:
    assert target_spacing([(1, 1, 1)], [(8, 8, 8)], override=(2, 2, 2)).spacing == (2.0, 2.0, 2.0)
    with pytest.raises(ConfigError, match="override"):
        target_spacing([(1, 1, 1)], [(8, 8, 8)], override=(2, 2))
    with pytest.raises(ConfigError, match="one spacing and one shape"):
        target_spacing([], [])


def test_resampled_shapes_round_spacing_ratio_times_shape() -> None:
    assert resampled_shapes([(5.0, 0.8, 0.8)], [(80, 512, 512)], (2.5, 1.6, 0.8)) == [(160, 256, 512)]
    # 0.7 / 1.0 * 301 = 210.7 -> 211
    assert resampled_shapes([(1.0, 1.0, 0.7)], [(10, 10, 301)], (1.0, 1.0, 1.0)) == [(10, 10, 211)]
