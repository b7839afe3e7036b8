"""The ResEnc feature-map estimate against nnU-Net's two published numbers and sums done by hand."""

from __future__ import annotations

import pytest

from seg_3d.plan.memory import feature_map_size, stage_sizes
from seg_core.errors import ConfigError


def test_reproduces_nnunet_3d_reference_number() -> None:
    # residual_encoder_unet_planners.py __main__: 3D ResEnc, 128^3, 6 stages, 3 classes, deep supervision
    size = feature_map_size(
        (128, 128, 128),
        [(1, 1, 1)] + [(2, 2, 2)] * 5,
        (32, 64, 128, 256, 320, 320),
        (1, 3, 4, 6, 6, 6),
        classes=3,
        deep_supervision=True,
    )
    assert size == 558_319_104


def test_reproduces_nnunet_2d_reference_number() -> None:
    # the same file's 2D network: 512^2, 7 stages, features up to 512, 3 classes, deep supervision
    size = feature_map_size(
        (512, 512),
        [(1, 1)] + [(2, 2)] * 6,
        (32, 64, 128, 256, 512, 512, 512),
        (1, 3, 4, 6, 6, 6, 6),
        classes=3,
        deep_supervision=True,
    )
    assert size == 129_793_792


def test_64_cube_by_hand() -> None:
    # voxels per stage: 262144, 32768, 4096, 512, 64; features 32, 64, 128, 256, 320
    stem = 32 * 262144
    encoder = 2 * 32 * 262144 + 7 * 64 * 32768 + 9 * 128 * 4096 + 13 * 256 * 512 + 13 * 320 * 64
    decoder = 2 * (256 * 512 + 128 * 4096 + 64 * 32768 + 32 * 262144)
    head = 2 * 262144
    expected = stem + encoder + decoder + head
    assert expected == 69_341_184
    got = feature_map_size((64, 64, 64), [(1, 1, 1)] + [(2, 2, 2)] * 4, (32, 64, 128, 256, 320), (1, 3, 4, 6, 6), 2)
    assert got == expected


def test_projection_counts_for_a_channel_change_without_stride() -> None:
    # 2^3 voxels, strides all 1: stem 32*8; stage 0 2*32*8 (no projection); stage 1 64*8*(2*3+1) (channels change);
    # decoder 2*32*8; head 2*8
    got = feature_map_size((2, 2, 2), [(1, 1, 1), (1, 1, 1)], (32, 64), (1, 3), classes=2)
    assert got == 256 + 512 + 3584 + 512 + 16


def test_anisotropic_stage_sizes() -> None:
    assert stage_sizes((20, 64, 64), [(1, 1, 1), (1, 2, 2), (2, 2, 2)]) == [(20, 64, 64), (20, 32, 32), (10, 16, 16)]


def test_lengths_must_match() -> None:
    with pytest.raises(ConfigError, match="one feature count"):
        feature_map_size((8, 8, 8), [(1, 1, 1), (2, 2, 2)], (32,), (1, 3), classes=2)
