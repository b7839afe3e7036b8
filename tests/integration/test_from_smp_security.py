"""``from_smp``: an smp config.json cannot make timm read or download weights (smp forwards extra keys to timm)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("SEG_STRICT_PLUGINS", "1")

torch = pytest.importorskip("torch")
pytest.importorskip("seg_encoders_timm")

import seg_decoders  # noqa: E402
from seg_core.errors import ConfigError  # noqa: E402


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("checkpoint_path", "EVIL"),
        ("pretrained_cfg", {"file": "EVIL"}),
        ("pretrained_cfg_overlay", {"file": "EVIL"}),
        ("pretrained", True),
        ("cache_dir", "DIR"),
    ],
)
def test_smp_config_cannot_pass_timm_loading_options(tmp_path: Path, option: str, value: Any) -> None:
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pth"
    torch.save({"payload": _Evil(marker)}, evil)
    value = json.loads(
        json.dumps(value).replace('"EVIL"', json.dumps(str(evil))).replace('"DIR"', json.dumps(str(tmp_path)))
    )
    folder = tmp_path / "smp"
    folder.mkdir()
    config = {"_model_class": "Unet", "encoder_name": "tu-test_resnet", "encoder_depth": 3, option: value}
    (folder / "config.json").write_text(json.dumps(config))
    torch.save({}, folder / "pytorch_model.bin")
    with pytest.raises(ConfigError, match=rf"'{option}'.*encoder_params"):
        seg_decoders.from_smp(folder)
    assert not marker.exists()
