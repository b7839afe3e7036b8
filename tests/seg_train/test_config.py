"""The training config: schema, overrides, validation messages, generated reference, starter and demo configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from seg_core.errors import ConfigError
from seg_train.config import apply_overrides, load_config, parse_config
from seg_train.config.reference import render
from seg_train.config.validate import read_toml

ROOT = Path(__file__).parents[2]
CONFIGS = ROOT / "packages" / "seg-train" / "src" / "seg_train" / "config"
# seg-decoders (unet, the default architecture) is not installed in this package's session: a tiny
# architecture registered at run time stands in; tests/integration/test_train_configs.py uses the real ones.
TINY = {"architecture": "tiny_configurable"}


@pytest.fixture(autouse=True)
def _tiny_architecture():
    from seg_core import get_registry

    from ._tiny import TinyConfigurable

    registry = get_registry("architectures")
    registry.add("tiny_configurable", TinyConfigurable)
    yield
    registry.remove("tiny_configurable")


def _with_tiny(data):
    data = dict(data)
    data["model"] = {**TINY, **data.get("model", {})}
    return data


def _problems(data, overrides=()):
    with pytest.raises(ConfigError) as info:
        parse_config(_with_tiny(data), overrides=overrides)
    return str(info.value)


def test_defaults_with_an_installed_architecture_are_valid() -> None:
    config = parse_config({"model": TINY})
    assert config.model.architecture == "tiny_configurable" and config.trainer.epochs == 10


def test_a_misspelt_model_argument_is_caught_before_the_run() -> None:
    message = _problems({"model": {"encoder_depht": 4}})
    assert "model.encoder_depht:" in message and "did you mean 'encoder_depth'" in message


def test_unknown_keys_in_fixed_sections_name_the_path_and_close_matches() -> None:
    message = _problems({"trainer": {"epoch": 3}})
    assert "trainer.epoch: unknown key (did you mean 'epochs'?)" in message
    message = _problems({"trainr": {}})
    assert "trainr: unknown key (did you mean 'trainer'?)" in message


def test_wrong_types_and_choices_say_what_is_accepted() -> None:
    message = _problems({"trainer": {"epochs": "ten", "precision": "fp8"}})
    assert "trainer.epochs:" in message and "'ten'" in message
    assert "trainer.precision: got 'fp8'; accepted: '32', 'bf16' or 'fp16'" in message


def test_unknown_registry_names_get_suggestions() -> None:
    message = _problems(
        {"criterion": {"name": "dise"}, "optimizer": {"name": "adamm"}, "data": {"dataset": "citiscapes"}}
    )
    assert "criterion.name: unknown loss 'dise'. Did you mean: 'dice'?" in message
    assert "optimizer.name: unknown optimizer 'adamm'" in message and "Adam" in message
    assert "data.dataset: unknown dataset 'citiscapes'. Did you mean: 'cityscapes'?" in message


def test_component_arguments_are_checked_against_their_signatures() -> None:
    message = _problems(
        {
            "criterion": {"name": "dice", "smoth": 1.0},
            "optimizer": {"name": "SGD", "momentun": 0.9},
            "scheduler": {"name": "StepLR", "step": 3},
            "data": {"options": {"num_sample": 3}},
        }
    )
    assert "criterion.smoth:" in message and "'smooth'" in message
    assert "optimizer.momentun:" in message and "'momentum'" in message
    assert "scheduler.step:" in message and "step_size" in message
    assert "data.options.num_sample:" in message and "'num_samples'" in message


def test_every_problem_is_reported_at_once() -> None:
    message = _problems({"trainer": {"epochs": 0}, "model": {"architecture": "unet3"}, "criterion": {"name": "x"}})
    assert "model.architecture: unknown architecture 'unet3'" in message
    assert message.startswith("config: 3 problem(s)")


def test_credentials_are_refused_anywhere() -> None:
    message = _problems({"logging": {"loggers": ["wandb"], "wandb": {"api_key": "secret"}}})
    assert "logging.wandb.api_key: credentials never go in a config file" in message and "WANDB_API_KEY" in message


def test_overrides_are_toml_values_and_never_code() -> None:
    data = apply_overrides({}, ["trainer.epochs=3", "model.decoder_channels=[32, 16]", "paths.name=__import__('os')"])
    assert data == {
        "trainer": {"epochs": 3},
        "model": {"decoder_channels": [32, 16]},
        "paths": {"name": "__import__('os')"},
    }
    config = parse_config({"model": TINY}, overrides=["optimizer.lr=0.01", "trainer.precision=bf16"])
    assert config.optimizer.lr == 0.01 and config.trainer.precision == "bf16"
    with pytest.raises(ConfigError, match="key.path=value"):
        apply_overrides({}, ["trainer.epochs"])


def test_files_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[trainer\nepochs = 1\n")
    with pytest.raises(ConfigError, match="bad.toml is not valid TOML"):
        load_config(bad)


def test_starter_config_shows_every_section() -> None:
    data = read_toml(CONFIGS / "starter.toml")
    assert set(data) == {"model", "data", "criterion", "optimizer", "scheduler", "trainer", "logging", "paths"}


def test_the_config_reference_page_is_generated_from_the_schema() -> None:
    page = ROOT / "docs" / "reference" / "config.md"
    assert page.read_text() == render(), (
        "regenerate it: python -m seg_train.config.reference > docs/reference/config.md"
    )


def test_local_logger_options_are_checked_too() -> None:
    message = _problems({"logging": {"local": {"snapshot": 2}}})
    assert "logging.local.snapshot:" in message and "'snapshots'" in message


def test_the_datasets_ignore_index_reaches_every_term_of_a_composed_loss() -> None:
    from seg_data import DatasetMetadata
    from seg_train.run import build_loss

    metadata = DatasetMetadata("probe", 3, ignore_index=7)
    config = parse_config(
        {
            "model": TINY,
            "criterion": {"name": "combined", "terms": [{"name": "cross_entropy"}, {"name": "dice", "weight": 0.5}]},
        }
    )
    loss = build_loss(config, metadata)
    assert loss.weights == [1.0, 0.5]
    assert [(term.ignore_index, term.mode) for term in loss.losses] == [(7, "multiclass"), (7, "multiclass")]
    deep = parse_config({"model": TINY, "criterion": {"name": "deep_supervision", "loss": "dice", "weights": 0.5}})
    assert build_loss(deep, metadata).loss.ignore_index == 7
    explicit = parse_config(
        {"model": TINY, "criterion": {"name": "combined", "terms": [{"name": "cross_entropy", "ignore_index": 9}]}}
    )
    assert build_loss(explicit, metadata).losses[0].ignore_index == 9
