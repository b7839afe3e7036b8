"""MLflowLogger with a file store under tmp_path, read back with MlflowClient."""

from __future__ import annotations

import inspect
import json
import os
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import pluggy
import pytest
import torch

import seg_data
import seg_train.hookspecs

pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient

from seg_train.loggers.mlflow import RUN_FILE, MLflowLogger


@pytest.fixture(autouse=True)
def hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """The logger sets MLFLOW_ALLOW_FILE_STORE for its file store: undo it after each test."""
    for name in ("MLFLOW_ALLOW_FILE_STORE", "MLFLOW_TRACKING_URI"):
        monkeypatch.setenv(name, "")  # recorded, so that teardown restores the original state
        monkeypatch.delenv(name)


def fake_trainer(run_dir: Path, **overrides: Any) -> types.SimpleNamespace:
    values: dict[str, Any] = {
        "run_dir": run_dir,
        "config": {
            "model": {"architecture": "unet", "decoder_channels": [16, 8], "note": "x" * 7000},
            "optimizer": {"name": "AdamW", "lr": 0.001},
            "logging": {"mlflow": {"experiment": "toy"}, "wandb": {"api_key": "do-not-log"}},
        },
        "metadata": seg_data.DatasetMetadata(name="toy", num_classes=3, labels=["bg", "cat", "dog (big)"]),
        "epoch": 0,
        "step": 0,
        "history": [],
        "model": torch.nn.Conv2d(3, 3, 1),
    }
    values.update(overrides)
    return types.SimpleNamespace(**values)


def fit(logger: MLflowLogger, trainer: types.SimpleNamespace, epochs: range, stopped_early: bool = False) -> None:
    pm = pluggy.PluginManager("seg")
    pm.add_hookspecs(seg_train.hookspecs)
    pm.register(logger)
    pm.check_pending()
    pm.hook.seg_train_fit_start(trainer=trainer)
    for epoch in epochs:
        pm.hook.seg_train_epoch_start(trainer=trainer, epoch=epoch)
        for _ in range(2):
            trainer.step += 1
            pm.hook.seg_train_batch_end(
                trainer=trainer, step=trainer.step, loss=1.0 / trainer.step, lr=0.01, images_per_second=3.0
            )
        val = {"val/miou": 0.25 * epoch, "val/per_class_iou/dog (big)": float("nan")}
        pm.hook.seg_train_evaluation_end(
            trainer=trainer,
            epoch=epoch,
            split="val",
            metrics=val,
            confusion_matrix=torch.eye(3, dtype=torch.long),
            samples=None,
        )
        metrics = {"epoch": float(epoch), "train/loss": 0.5, "lr": 0.01, **val, "step": float(trainer.step)}
        trainer.epoch = epoch
        trainer.history.append(metrics)
        pm.hook.seg_train_epoch_end(trainer=trainer, epoch=epoch, metrics=metrics)
    pm.hook.seg_train_fit_end(trainer=trainer, history=trainer.history, stopped_early=stopped_early)


def stored(run_dir: Path) -> tuple[MlflowClient, str]:
    record = json.loads((run_dir / RUN_FILE).read_text())
    return MlflowClient(tracking_uri=record["tracking_uri"]), record["run_id"]


def test_options_are_keyword_only_with_defaults() -> None:
    params = inspect.signature(MLflowLogger).parameters
    assert list(params) == ["tracking_uri", "experiment", "run_name"]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is not p.empty for p in params.values())


def test_params_metrics_and_artifacts_in_the_default_file_store(tmp_path: Path) -> None:
    fit(MLflowLogger(), fake_trainer(tmp_path), range(1, 3))
    assert os.environ["MLFLOW_ALLOW_FILE_STORE"] == "true"
    client, run_id = stored(tmp_path)
    assert client.tracking_uri == (tmp_path.resolve() / "mlruns").as_uri()
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == tmp_path.name
    assert client.get_experiment(run.info.experiment_id).name == "seg"
    params = run.data.params
    assert params["optimizer.lr"] == "0.001" and params["model.architecture"] == "unet"
    assert params["model.decoder_channels"] == "[16, 8]"
    assert params["logging.mlflow.experiment"] == "toy"
    assert len(params["model.note"]) == 6000  # cut to MLflow's limit
    assert not [k for k in params if "api_key" in k]
    assert run.data.tags["seg.stopped_early"] == "false" and run.data.tags["seg.dataset"] == "toy"
    history = client.get_metric_history(run_id, "val/miou")
    assert sorted((m.step, m.value) for m in history) == [(2, 0.25), (4, 0.5)]
    assert sorted(m.step for m in client.get_metric_history(run_id, "batch/loss")) == [1, 2, 3, 4]
    assert "step" not in run.data.metrics
    assert "val/per_class_iou/dog _big_" not in run.data.metrics  # NaN is not sent
    artifacts = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert artifacts == {"plots/confusion_val_epoch0001.png", "plots/confusion_val_epoch0002.png", "plots/curves.png"}
    local = Path(client.download_artifacts(run_id, "plots/curves.png", str(tmp_path / "download")))
    assert local.read_bytes().startswith(b"\x89PNG")


def test_resume_continues_the_same_run(tmp_path: Path) -> None:
    uri = (tmp_path / "store").as_uri()
    trainer = fake_trainer(tmp_path)
    fit(MLflowLogger(tracking_uri=uri, experiment="exp", run_name="first"), trainer, range(1, 2))
    client, run_id = stored(tmp_path)
    resumed = fake_trainer(tmp_path, epoch=1, step=2, history=list(trainer.history))
    resumed.config["optimizer"]["momentum"] = 0.9  # a param the run does not have yet
    fit(MLflowLogger(tracking_uri=uri, experiment="exp"), resumed, range(2, 3), stopped_early=True)
    assert stored(tmp_path)[1] == run_id
    [experiment] = [e for e in client.search_experiments() if e.name == "exp"]
    assert len(client.search_runs([experiment.experiment_id])) == 1
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["seg.stopped_early"] == "true"
    assert run.data.params["optimizer.momentum"] == "0.9"
    assert sorted(m.step for m in client.get_metric_history(run_id, "val/miou")) == [2, 4]


def test_a_run_file_of_another_store_starts_a_new_run(tmp_path: Path) -> None:
    (tmp_path / RUN_FILE).write_text(json.dumps({"run_id": "0123abcd", "tracking_uri": "http://elsewhere"}))
    fit(MLflowLogger(), fake_trainer(tmp_path), range(1, 2))
    client, run_id = stored(tmp_path)
    assert run_id != "0123abcd" and client.get_run(run_id).info.status == "FINISHED"


def test_mlflow_errors_are_warnings(tmp_path: Path) -> None:
    logger = MLflowLogger(tracking_uri="nosuchscheme://host/path")
    trainer = fake_trainer(tmp_path)
    with pytest.warns(RuntimeWarning, match="mlflow logger: starting the run failed"):
        logger.seg_train_fit_start(trainer=trainer)
    with warnings.catch_warnings(record=True) as later:
        warnings.simplefilter("always")
        logger.seg_train_epoch_end(trainer=trainer, epoch=1, metrics={"train/loss": 1.0})
        logger.seg_train_fit_end(trainer=trainer, history=[], stopped_early=False)
    assert not later  # warned once, not retried at every event


def test_missing_mlflow_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ImportError, match=r'pip install "\./packages/seg-train\[mlflow\]"'):
        MLflowLogger()
