"""Bad arguments are refused at construction, naming the argument."""

from __future__ import annotations

from typing import Any

import pytest

import seg_core
import seg_decoders
from seg_core.errors import ConfigError, IncompatibleEncoderError, UnknownNameError
from seg_core.spec import check_compatible, is_compatible

from ._common import ENCODER_ARCHS, build


@pytest.mark.parametrize(
    ("arch", "kwargs", "message"),
    [
        ("unet", {"classes": 0}, "classes must be an int >= 1, got 0"),
        ("unet", {"decoder_channels": [16, 8]}, "decoder_channels has 2 entries"),
        ("unet", {"decoder_use_norm": "batchnrm"}, "decoder_use_norm='batchnrm'"),
        ("unet", {"decoder_attention_type": "cbam"}, "decoder_attention_type must be None or 'scse'"),
        ("unet", {"decoder_attention_type": "scse", "decoder_channels": [16, 8, 8]}, "needs >= 16 channels"),
        ("unet", {"activation": "softmax3"}, "unknown activation 'softmax3'"),
        ("unet", {"decoder_interpolation": "cubic"}, "decoder_interpolation='cubic'"),
        ("unet", {"aux_params": {"classes": 2, "pooling": "gem"}}, "pooling must be 'avg' or 'max'"),
        ("fpn", {"decoder_segmentation_channels": 48}, "decoder_segmentation_channels must be a multiple of 32"),
        ("fpn", {"decoder_merge_policy": "mul"}, "decoder_merge_policy must be 'add' or 'cat'"),
        ("fpn", {"decoder_dropout": 1.5}, "decoder_dropout must be a float in"),
        ("deeplabv3", {"decoder_atrous_rates": (6, 12)}, "decoder_atrous_rates must be three ints"),
        ("deeplabv3", {"encoder_output_stride": 32}, "encoder_output_stride \\[8, 16\\], got 32"),
        ("pan", {"encoder_output_stride": 8}, "encoder_output_stride \\[16, 32\\], got 8"),
        ("pspnet", {"psp_out_channels": 0}, "psp_out_channels must be an int >= 1"),
        ("linknet", {"head_upsampling": (2, 2, 2)}, "head_upsampling must be None"),
    ],
)
def test_construction_errors(arch: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(arch, 3, **kwargs)


@pytest.mark.parametrize("arch", ["fpn", "pan", "deeplabv3plus"])
def test_depth_below_three_is_incompatible(arch: str) -> None:
    with pytest.raises(IncompatibleEncoderError, match="encoder_depth >= 3"):
        build(arch, 2)


def test_groupnorm_width_error_names_argument() -> None:
    with pytest.raises(ConfigError, match="decoder_use_norm='groupnorm'.*divisible"):
        build("unet", 3, decoder_use_norm="groupnorm")


def test_check_compatible() -> None:
    caps = seg_core.create_encoder("basic_cnn", depth=2).capabilities
    assert is_compatible("unet", caps)
    assert not is_compatible("fpn", caps)
    with pytest.raises(IncompatibleEncoderError, match="DeepLabV3Plus needs encoder_depth >= 3"):
        check_compatible("deeplabv3plus", caps)
    s4 = seg_core.create_encoder("basic_cnn_s4", depth=4).capabilities
    assert all(is_compatible(a, s4) for a in ENCODER_ARCHS)
    assert not is_compatible("lraspp", seg_core.create_encoder("basic_cnn_s4", depth=3).capabilities)
    with pytest.raises(UnknownNameError, match="unknown architecture 'maskformer'"):
        check_compatible("maskformer", caps)
    assert not is_compatible("deeplabv3plus", caps) and is_compatible(seg_decoders.Unet.spec, caps)


def test_typo_in_shared_argument_suggests_the_name() -> None:
    with pytest.raises(ConfigError, match=r"unexpected argument\(s\) 'encodr_depth' \(did you mean 'encoder_depth'"):
        seg_core.create_model("unet", encodr_depth=3)
    with pytest.raises(ConfigError, match="'decoder_chanels' \\(did you mean 'decoder_channels'"):
        seg_decoders.Unet(decoder_chanels=[8])  # type: ignore[call-arg]
