"""The how-to "Write a logger plugin" works as written: its files, installed as a real distribution."""

from __future__ import annotations

import inspect
import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pluggy
import pytest

import seg_train.hookspecs
from seg_core.plugins import reset_plugin_manager
from seg_core.testing import write_distribution

HOWTO = Path(__file__).parents[2] / "docs" / "howto" / "write-a-logger-plugin.md"


def _block(title: str) -> str:
    match = re.search(rf'```\w+ title="{re.escape(title)}"\n(.*?)```', HOWTO.read_text(), re.S)
    assert match, f"the how-to has no code block titled {title}"
    return match.group(1)


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    write_distribution(
        site,
        "my-loggers",
        "0.1.0",
        {"my_loggers": "my_loggers._plugin"},
        {
            "my_loggers.__init__": "",
            "my_loggers._plugin": _block("src/my_loggers/_plugin.py"),
            "my_loggers.logger": _block("src/my_loggers/logger.py"),
        },
    )
    monkeypatch.syspath_prepend(str(site))
    reset_plugin_manager()
    yield site
    reset_plugin_manager()
    for name in [m for m in sys.modules if m == "my_loggers" or m.startswith("my_loggers.")]:
        del sys.modules[name]


def test_the_howto_logger_registers_and_runs(installed: Path, tmp_path: Path) -> None:
    from seg_core import get_registry

    registry = get_registry("loggers")
    cls = registry.get("my_logger")
    assert cls.__module__ == "my_loggers.logger" and cls.__name__ == "BestMetricLogger"
    assert registry.source("my_logger").distribution == "my-loggers"
    params = inspect.signature(cls).parameters.values()
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in params)

    logger = registry.create("my_logger", metric="val/loss", mode="min")
    pm = pluggy.PluginManager("seg")
    pm.add_hookspecs(seg_train.hookspecs)
    pm.register(logger)
    pm.check_pending()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # a resumed run: epoch 1 is in the history already
    trainer = types.SimpleNamespace(run_dir=run_dir, history=[{"epoch": 1.0, "val/loss": 0.3}], epoch=1, step=10)
    pm.hook.seg_train_fit_start(trainer=trainer)
    for epoch, loss in ((2, 0.5), (3, float("nan")), (4, 0.4)):
        metrics = {"epoch": float(epoch), "val/loss": loss}
        trainer.history.append(metrics)
        pm.hook.seg_train_epoch_end(trainer=trainer, epoch=epoch, metrics=metrics)
    pm.hook.seg_train_fit_end(trainer=trainer, history=trainer.history, stopped_early=True)
    summary = json.loads((run_dir / "best.json").read_text())
    assert summary == {"metric": "val/loss", "best": {"value": 0.3, "epoch": 1.0}, "stopped_early": True}


def test_the_howto_test_passes(installed: Path, tmp_path: Path) -> None:
    namespace: dict[str, object] = {}
    exec(_block("tests/test_logger.py"), namespace)  # the how-to's own test
    namespace["test_best_metric_logger"](tmp_path)  # type: ignore[operator]


def test_the_howto_config_enables_it(installed: Path) -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib

    config = tomllib.loads(_block("config.toml"))
    assert config["logging"]["loggers"] == ["my_logger"]
    from seg_core import get_registry

    logger = get_registry("loggers").create("my_logger", **config["logging"]["my_logger"])
    assert (logger.metric, logger.mode) == ("val/loss", "min")
