"""timm_3d's models as ``t3d-*`` encoders (the ``tests-seg-3d-timm3d`` nox session installs the optional extra)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import seg_core
from seg_core.errors import ConfigError
from seg_core.testing import check_encoder


def test_names_are_listed_without_importing_torch_or_timm_3d() -> None:
    code = (
        "import sys, seg_core; names = seg_core.list_encoders('t3d-resnet*'); "
        "print('t3d-resnet18' in names, 'torch' in sys.modules, 'timm_3d' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False", "False"]


def test_the_names_read_from_the_sources_are_timm_3ds_models() -> None:
    import timm_3d

    from seg_3d.encoders.timm3d import timm3d_names

    assert set(timm3d_names()) == set(timm_3d.list_models())


def test_a_timm_3d_resnet_is_a_conforming_encoder_and_builds_a_unet() -> None:
    check_encoder("t3d-resnet18", depths=(3, 5), in_channels=(1, 3), input_size=(32, 32, 32))
    encoder = seg_core.create_encoder("t3d-resnet18", in_channels=1, depth=4)
    assert encoder.reductions == [1, 2, 4, 8, 16] and encoder.out_channels == [1, 64, 64, 128, 256]
    model = seg_core.create_model(
        "unet", encoder_name="t3d-resnet18", in_channels=1, classes=2, encoder_depth=4, decoder_channels=[32, 16, 8, 4]
    )
    assert model.eval()(torch.randn(1, 1, 32, 32, 32)).shape == (1, 2, 32, 32, 32)


def test_local_weights_and_refused_strides(tmp_path) -> None:
    import timm_3d

    source = timm_3d.create_model("resnet18", features_only=True, pretrained=False, in_chans=1)
    path = tmp_path / "r18.pth"
    torch.save(source.state_dict(), path)
    encoder = seg_core.create_encoder("t3d-resnet18", in_channels=1, depth=2, weights=str(path))
    for name, value in source.state_dict().items():
        assert torch.equal(encoder.model.state_dict()[name], value)
    with pytest.raises(ConfigError, match="encoder_strides is not supported; use a seg-3d encoder"):
        seg_core.create_model("unet", encoder_name="t3d-resnet18", encoder_strides=[2] * 5)
