"""Strides, kernels, depth and padding from nnU-Net's pooling rule; every expectation is traced by hand in comments."""

from __future__ import annotations

import pytest

from seg_3d.plan.topology import pad_to_multiple, topology
from seg_core.errors import ConfigError

S2 = (2, 2, 2)
P = (1, 2, 2)  # in-plane only
K3 = (3, 3, 3)
K1 = (1, 3, 3)


def test_isotropic_128_cube_halves_every_axis_five_times() -> None:
    # sizes 128 -> 64 -> 32 -> 16 -> 8 -> 4: pooled while >= 8, i.e. 5 times; all spacings equal: kernel 3
    t = topology((1.0, 1.0, 1.0), (128, 128, 128))
    assert t.strides == ((1, 1, 1), S2, S2, S2, S2, S2)
    assert t.kernel_sizes == (K3,) * 6
    assert t.n_stages == 6
    assert t.pools_per_axis == (5, 5, 5)
    assert t.divisor == (32, 32, 32)
    assert t.patch_size == (128, 128, 128)


def test_isotropic_256_cube_has_seven_stages() -> None:
    t = topology((1.0, 1.0, 1.0), (256, 256, 256))  # 256 .. 8 pooled: 6 times
    assert t.n_stages == 7
    assert all(s == S2 for s in t.strides[1:])
    assert t.divisor == (64, 64, 64)


def test_patch_is_padded_to_the_divisor() -> None:
    # Hippocampus (nnU-Net docs): median 36 x 50 x 35 at 1 mm -> 3 pools per axis -> padded to 40 x 56 x 40
    t = topology((1.0, 1.0, 1.0), (36, 50, 35))
    assert t.pools_per_axis == (3, 3, 3)
    assert t.patch_size == (40, 56, 40)
    # BraTS-like 140 x 170 x 140: 140 -> 70 -> 35 -> 18 -> 9 -> 5 and 170 -> 85 -> 43 -> 22 -> 11 -> 6: 5 pools
    assert topology((1.0, 1.0, 1.0), (140, 170, 140)).patch_size == (160, 192, 160)
    assert pad_to_multiple((32, 33), (16, 16)) == (32, 48)


def test_thick_slice_volume_pools_in_plane_until_spacing_is_within_2x() -> None:
    # 3.6 x 0.6 x 0.6 mm, patch 20 x 320 x 320:
    # stage 1: 3.6 / 0.6 = 6 >= 2 -> (1, 2, 2); kernel at 0.6 mm: 1 x 3 x 3
    # stage 2: 3.6 / 1.2 = 3 >= 2 -> (1, 2, 2); kernel at 1.2 mm: 1 x 3 x 3
    # stage 3: 3.6 / 2.4 = 1.5 < 2 -> (2, 2, 2); kernel at 2.4 mm: 3 x 3 x 3; sizes (10, 40, 40)
    # stage 4: (2, 2, 2) -> sizes (5, 20, 20); then z (5 < 8) stays: stages 5, 6 are (1, 2, 2) -> (5, 5, 5)
    t = topology((3.6, 0.6, 0.6), (20, 320, 320))
    assert t.strides == ((1, 1, 1), P, P, S2, S2, P, P)
    assert t.kernel_sizes == (K1, K1, K3, K3, K3, K3, K3)
    assert t.pools_per_axis == (2, 6, 6)
    assert t.divisor == (4, 64, 64)
    assert t.patch_size == (20, 320, 320)
    assert "spacing 3.6 >= 2 x 0.6" in t.notes[0]
    assert "size 5 < 8" in t.notes[-1]


def test_thick_slice_example_from_the_reference_note() -> None:
    # 5 x 0.8 x 0.8 mm, patch 32 x 224 x 224: 5/0.8 = 6.25, 5/1.6 = 3.1 -> two in-plane stages, then
    # 5/3.2 = 1.56 -> isotropic pooling while z >= 8: 32 -> 16 -> 8 -> 4 (three times)
    t = topology((5.0, 0.8, 0.8), (32, 224, 224))
    assert t.strides == ((1, 1, 1), P, P, S2, S2, S2)
    assert t.kernel_sizes == (K1, K1, K3, K3, K3, K3)


def test_very_anisotropic_volume_never_pools_depth() -> None:
    # 10 x 0.5 x 0.5 mm, 6 slices: z is never a candidate (6 < 8); in plane 256 -> ... -> 4: 6 pools.
    # z kernel: 10 / (0.5 * 2**k) < 2 first at k = 4 (10 / 8 = 1.25), so stages 0-3 are 1 x 3 x 3.
    t = topology((10.0, 0.5, 0.5), (6, 256, 256))
    assert t.strides == ((1, 1, 1),) + (P,) * 6
    assert t.kernel_sizes == (K1, K1, K1, K1, K3, K3, K3)
    assert t.pools_per_axis == (0, 6, 6)
    assert t.divisor == (1, 64, 64)
    assert t.patch_size == (6, 256, 256)


def test_ratio_of_exactly_two_is_not_pooled() -> None:
    # nnU-Net keeps axes with spacing / finest < 2 (strict): 2 mm vs 1 mm waits one stage.
    # stage 1: (1, 2, 2), kernel 1 x 3 x 3 (2 / 1 = 2 is not < 2); then all at 2 mm: (2, 2, 2) while z >= 8 and
    # the others >= 8: sizes (64, 32, 32) -> (32, 16, 16) -> (16, 8, 8) -> (8, 4, 4); then only z (8) is a
    # candidate and a single axis needs >= 12: stop.
    t = topology((2.0, 1.0, 1.0), (64, 64, 64))
    assert t.strides == ((1, 1, 1), P, S2, S2, S2)
    assert t.kernel_sizes == (K1, K3, K3, K3, K3)
    assert t.divisor == (8, 16, 16)


def test_a_single_candidate_axis_needs_three_times_the_minimum() -> None:
    assert topology((1.0, 1.0, 1.0), (4, 4, 10)).strides == ((1, 1, 1),)  # 10 < 12: no stage
    t = topology((1.0, 1.0, 1.0), (4, 4, 12))  # 12 >= 12: one stage on axis 2, then 6 < 8
    assert t.strides == ((1, 1, 1), (1, 1, 2))
    assert t.kernel_sizes == (K3, K3)


def test_max_pools_caps_each_axis() -> None:
    t = topology((1.0, 1.0, 1.0), (128, 128, 128), max_pools=3)
    assert t.n_stages == 4
    assert t.divisor == (8, 8, 8)


def test_invalid_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="same number of axes"):
        topology((1.0, 1.0), (8, 8, 8))
    with pytest.raises(ConfigError, match="> 0"):
        topology((1.0, 0.0, 1.0), (8, 8, 8))


def test_acdc_like_example_from_the_reference_note() -> None:
    # 5 x 1.5625 mm, patch 20 x 256 x 224: 5 / 1.5625 = 3.2 -> (1, 2, 2), kernel 1 x 3 x 3; then 5 / 3.125 = 1.6:
    # (2, 2, 2) twice -> (5, 32, 28); z = 5 < 8: (1, 2, 2) twice -> (5, 8, 7); then only axis 1 (8) is a
    # candidate and a single axis needs >= 12: stop. num_pool 2, 5, 5 as the note's nnU-Net run.
    t = topology((5.0, 1.5625, 1.5625), (20, 256, 224))
    assert t.strides == ((1, 1, 1), P, S2, S2, P, P)
    assert t.kernel_sizes == (K1, K3, K3, K3, K3, K3)
    assert t.pools_per_axis == (2, 5, 5)
