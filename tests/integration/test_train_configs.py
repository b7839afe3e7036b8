"""The configs seg-train ships validate with the real architectures (seg-decoders installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seg_train.config import load_config, parse_config

CONFIGS = Path(__file__).parents[2] / "packages" / "seg-train" / "src" / "seg_train" / "config"


def test_the_defaults_are_a_valid_config() -> None:
    config = parse_config({})
    assert config.model.architecture == "unet" and config.trainer.epochs == 10


@pytest.mark.parametrize("name", ["starter.toml", "demo.toml"])
def test_shipped_configs_are_valid(name: str) -> None:
    load_config(CONFIGS / name)
