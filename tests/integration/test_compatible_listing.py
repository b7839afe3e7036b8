"""``seg_core.list_encoders(compatible_with=...)`` decides from declared capabilities, like the models do."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("SEG_STRICT_PLUGINS", "1")

import seg_core
from seg_core.errors import IncompatibleEncoderError, UnknownNameError

NINE = ("unet", "unetplusplus", "manet", "linknet", "fpn", "pspnet", "pan", "deeplabv3", "deeplabv3plus")


@pytest.fixture
def runtime_names() -> Iterator[list[tuple[str, str]]]:
    """(kind, name) pairs registered by a test, removed afterwards."""
    added: list[tuple[str, str]] = []
    yield added
    for kind, name in added:
        seg_core.get_registry(kind).remove(name)


def test_basic_encoders_fit_every_architecture() -> None:
    for arch in NINE:
        names = seg_core.list_encoders("basic*", compatible_with=arch)
        assert names == ["basic_cnn", "basic_cnn_s4"], arch


def test_declared_shallow_pyramid_is_filtered_like_the_model_check(runtime_names: list[tuple[str, str]]) -> None:
    pytest.importorskip("torch")
    import seg_decoders
    from seg_core.basic_encoder import BasicCNNEncoder

    encoders = seg_core.get_registry("encoders")
    encoders.add(
        "shallow_cnn",
        functools.partial(BasicCNNEncoder, depth=2),
        spatial_dims=(2, 3),
        out_channels=(3, 16, 32),
        reductions=(1, 2, 4),
    )
    runtime_names.append(("encoders", "shallow_cnn"))
    for arch in NINE:
        listed = "shallow_cnn" in seg_core.list_encoders("shallow*", compatible_with=arch)
        encoder = seg_core.create_encoder("shallow_cnn")
        assert listed == seg_decoders.is_compatible(arch, encoder.capabilities), arch
    assert "shallow_cnn" not in seg_core.list_encoders(compatible_with="fpn")
    assert "shallow_cnn" in seg_core.list_encoders(compatible_with="unet")
    with pytest.raises(IncompatibleEncoderError, match="depth"):
        seg_decoders.FPN(encoder_name="shallow_cnn", encoder_depth=2)


def test_architecture_without_checker_compares_spatial_dims(runtime_names: list[tuple[str, str]]) -> None:
    seg_core.get_registry("encoders").add("volume_only", "seg_core.basic_encoder:basic_cnn", spatial_dims=(3,))
    runtime_names.append(("encoders", "volume_only"))
    seg_core.get_registry("architectures").add("flat_only", "seg_decoders.unet:Unet", spatial_dims=(2,))
    runtime_names.append(("architectures", "flat_only"))
    assert "volume_only" not in seg_core.list_encoders(compatible_with="flat_only")
    assert "basic_cnn" in seg_core.list_encoders(compatible_with="flat_only")
    assert "volume_only" in seg_core.list_encoders(compatible_with="unet")


def test_unknown_architecture_is_an_error() -> None:
    with pytest.raises(UnknownNameError):
        seg_core.list_encoders(compatible_with="not_an_arch")


def test_is_compatible_info_reads_declared_pyramids() -> None:
    from seg_core.spec import is_compatible_info

    stride4 = {"spatial_dims": (2,), "out_channels": (3, 0, 8, 16, 32), "reductions": (1, 2, 4, 8, 16)}
    assert is_compatible_info("deeplabv3plus", stride4)
    assert not is_compatible_info("deeplabv3plus", {**stride4, "out_channels": (3, 8, 0, 16, 32)})
    assert not is_compatible_info("pan", {**stride4, "out_channels": (3, 8, 16, 0, 32)})
    assert is_compatible_info("fpn", {"spatial_dims": (2,)})  # nothing declared: the constructor decides


def test_timm_pyramids_from_the_probe_cache_without_torch(tmp_path: Path) -> None:
    """Listing with a filled cache imports neither torch nor timm; probes decide depth and zero levels."""
    pytest.importorskip("seg_encoders_timm")
    from seg_encoders_timm._cache import timm_version

    cache = {
        "format": 1,
        "timm_version": timm_version(),
        "models": ["deep_net", "shallow_net", "stride4_net", "unprobed_net", "vit_net"],
        "probes": {
            "deep_net": {"kind": "features", "channels": [8, 16, 24, 32, 40], "reductions": [2, 4, 8, 16, 32]},
            "shallow_net": {"kind": "features", "channels": [8, 16], "reductions": [2, 4]},
            "stride4_net": {"kind": "features", "channels": [16, 24, 32], "reductions": [4, 8, 16]},
            "vit_net": {"kind": "vit", "blocks": 12, "patch_size": [16, 16], "width": 192},
        },
    }
    (tmp_path / f"timm-encoders-{timm_version()}.json").write_text(json.dumps(cache))
    code = (
        "import sys, json, seg_core\n"
        "out = {a: seg_core.list_encoders('*_net', compatible_with=a) for a in ('fpn', 'unet', 'pan')}\n"
        "out['info'] = seg_core.get_registry('encoders').info('tu-stride4_net')\n"
        "out['heavy'] = sorted(m for m in ('torch', 'timm') if m in sys.modules)\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "SEG_CACHE_DIR": str(tmp_path), "SEG_STRICT_PLUGINS": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    assert out["fpn"] == ["deep_net", "stride4_net", "unprobed_net", "vit_net"]
    assert out["unet"] == ["deep_net", "shallow_net", "stride4_net", "unprobed_net", "vit_net"]
    assert out["info"]["out_channels"] == [3, 0, 16, 24, 32]
    assert out["info"]["reductions"] == [1, 2, 4, 8, 16]
