"""MLflow logger (extra ``mlflow``: ``mlflow-skinny`` is enough).

It talks to MLflow through an `mlflow.tracking.MlflowClient` of its own, never through the
fluent API (``mlflow.start_run``...), so it neither needs nor disturbs an active run of the
program that trains.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seg_core import hookimpl
from seg_core.io import atomic_write_bytes
from seg_train.loggers._common import final_metrics, flatten_config, guarded, import_extra, is_number

__all__ = ["RUN_FILE", "MLflowLogger"]

#: The file in the run folder that keeps the MLflow run (id, experiment, tracking URI) for a resume.
RUN_FILE = "mlflow_run.json"
#: Metrics sent per request; MLflow accepts up to 1000.
_METRICS_PER_BATCH = 1000
#: Params sent per request; MLflow accepts up to 100.
_PARAMS_PER_BATCH = 100
#: MLflow's limit on a param value (6000 characters since MLflow 2.3) and on a key.
_DEFAULT_PARAM_LENGTH = 6000
_KEY_LENGTH = 250


class MLflowLogger:
    """Log a run to MLflow: params, metrics with their step, and plots as artifacts.

    At fit start it creates a run in ``experiment`` (named ``run_name``, default the run
    folder's name), tags it with the run folder, and logs the flattened config as params
    (``optimizer.lr`` = ``"0.001"``; values made strings and cut to MLflow's length limit; keys
    that look like credentials are left out). The run is kept in ``<run folder>/mlflow_run.json``:
    a resumed training run continues the same MLflow run.

    Metrics, all with ``step=trainer.step``: every metric of each epoch (``train/loss``,
    ``val/miou``, ``lr``...), and ``batch/loss``, ``batch/lr``, ``batch/images_per_second`` of every
    optimizer step, sent together at the epoch's end (one request, not one per step).
    Artifacts: ``plots/confusion_<split>_epoch<NNNN>.png`` every evaluation and
    ``plots/curves.png`` at the end; the run is then marked finished. Names get the characters
    MLflow refuses replaced by ``_``; non-finite values are not sent.

    MLflow errors (server unreachable...) are warnings: training goes on without MLflow.

    Args:
        tracking_uri: Where runs go: a server (``http://host:5000``), ``databricks``, a
            ``sqlite:///`` database (full ``mlflow``)... Default: a file store in
            ``<run folder>/mlruns`` (``mlflow ui --backend-store-uri <that file: URI>``). For a
            file store, ``MLFLOW_ALLOW_FILE_STORE`` is set to ``true`` unless already set:
            MLflow 3 refuses file stores without it.
        experiment: The experiment's name (created if needed).
        run_name: The run's name (default: the run folder's name).

    Raises:
        ImportError: MLflow is not installed (``pip install "./packages/seg-train[mlflow]"``).

    Example:
        ```toml
        [logging]
        loggers = ["mlflow"]

        [logging.mlflow]
        tracking_uri = "http://localhost:5000"
        experiment = "cityscapes"
        ```
    """

    def __init__(self, *, tracking_uri: str | None = None, experiment: str = "seg", run_name: str | None = None
                 ) -> None:  # fmt: skip
        self._mlflow: Any = import_extra("mlflow", "mlflow", "mlflow")
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.run_name = run_name
        self.client: Any = None
        self.run_id: str | None = None
        self._pending: list[Any] = []
        self._failed = False

    def uri(self, trainer: Any) -> str:
        """The tracking URI this run logs to."""
        if self.tracking_uri is not None:
            return self.tracking_uri
        return (Path(trainer.run_dir).resolve() / "mlruns").as_uri()

    def _start(self, trainer: Any) -> str | None:
        if self.run_id is not None or self._failed:
            return self.run_id
        with guarded("mlflow", "starting the run"):
            self.run_id = self._open_run(trainer)
        self._failed = self.run_id is None  # warned once; not retried at every step
        return self.run_id

    def _open_run(self, trainer: Any) -> str:
        run_dir = Path(trainer.run_dir)
        uri = self.uri(trainer)
        if _is_file_store(uri):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        client = self._mlflow.tracking.MlflowClient(tracking_uri=uri)
        self.client = client
        stored = _read_run_file(run_dir / RUN_FILE)
        run = None
        if stored.get("tracking_uri") == uri and stored.get("run_id"):
            try:
                run = client.get_run(stored["run_id"])
            except Exception:  # deleted or another store: start a new run
                run = None
        if run is None:
            found = client.get_experiment_by_name(self.experiment)
            experiment_id = found.experiment_id if found is not None else client.create_experiment(self.experiment)
            tags = {"seg.run_dir": str(run_dir.resolve())}
            dataset = getattr(getattr(trainer, "metadata", None), "name", None)
            if dataset:
                tags["seg.dataset"] = str(dataset)
            run = client.create_run(experiment_id, tags=tags, run_name=self.run_name or run_dir.name)
            record = {"run_id": run.info.run_id, "experiment_id": experiment_id, "tracking_uri": uri}
            atomic_write_bytes(run_dir / RUN_FILE, (json.dumps(record, indent=2) + "\n").encode("utf-8"))
        else:
            client.update_run(run.info.run_id, status="RUNNING")
        run_id = str(run.info.run_id)
        self._log_params(client, run_id, getattr(trainer, "config", None) or {}, dict(run.data.params))
        return run_id

    def _log_params(self, client: Any, run_id: str, config: Mapping[str, Any], logged: Mapping[str, str]) -> None:
        """Log the flattened config (a resumed run logs only the params it does not have yet)."""
        from mlflow.entities import Param

        limit = int(getattr(self._mlflow.utils.validation, "MAX_PARAM_VAL_LENGTH", _DEFAULT_PARAM_LENGTH))
        params = []
        for key, value in flatten_config(config).items():
            name = _key(key)
            if name in logged:
                continue
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            params.append(Param(name, text[:limit]))
        for start in range(0, len(params), _PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[start : start + _PARAMS_PER_BATCH])

    def _queue(self, values: Mapping[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending.extend(
            Metric(_key(key), float(value), now, step) for key, value in values.items() if is_number(value)
        )

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if self.run_id is None or not pending:
            return
        with guarded("mlflow", "logging metrics"):
            for start in range(0, len(pending), _METRICS_PER_BATCH):
                self.client.log_batch(self.run_id, metrics=pending[start : start + _METRICS_PER_BATCH])

    def _artifact(self, name: str, data: bytes) -> None:
        if self.run_id is None:
            return
        with guarded("mlflow", f"logging the artifact {name}"), tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            self.client.log_artifact(self.run_id, str(path), artifact_path="plots")

    @hookimpl
    def seg_train_fit_start(self, trainer: Any) -> None:
        """Start (or, on resume, continue) the MLflow run and log the config as params."""
        self._start(trainer)

    @hookimpl
    def seg_train_batch_end(self, trainer: Any, step: int, loss: float, lr: float, images_per_second: float) -> None:
        """Queue the step's loss, learning rate and throughput (sent at the epoch's end)."""
        if self._start(trainer) is not None:
            self._queue({"batch/loss": loss, "batch/lr": lr, "batch/images_per_second": images_per_second}, step)

    @hookimpl
    def seg_train_evaluation_end(
        self,
        trainer: Any,
        epoch: int,
        split: str,
        metrics: dict[str, float],
        confusion_matrix: Any,
        samples: Any,
    ) -> None:
        """Log the confusion matrix as an artifact (and the metrics of a stand-alone evaluation)."""
        if self._start(trainer) is None:
            return
        if epoch == 0:  # Trainer.evaluate outside fit: no epoch end will log these
            self._queue(metrics, int(trainer.step))
            self._flush()
        if confusion_matrix is not None:
            from seg_train.loggers.plots import confusion_png

            labels = list(getattr(getattr(trainer, "metadata", None), "labels", ()) or ())
            with guarded("mlflow", "drawing the confusion matrix"):
                png = confusion_png(confusion_matrix, labels if len(labels) == len(confusion_matrix) else None)
                self._artifact(f"confusion_{_file_part(split)}_epoch{int(epoch):04d}.png", png)

    @hookimpl
    def seg_train_epoch_end(self, trainer: Any, epoch: int, metrics: dict[str, float]) -> None:
        """Log the epoch's metrics and the queued step metrics."""
        if self._start(trainer) is None:
            return
        self._queue({key: value for key, value in metrics.items() if key != "step"}, int(trainer.step))
        self._flush()

    @hookimpl
    def seg_train_fit_end(self, trainer: Any, history: list[dict[str, float]], stopped_early: bool) -> None:
        """Log the curves, tag ``stopped_early`` and mark the run finished."""
        if self.run_id is None:
            return
        self._flush()
        if final_metrics(history):
            from seg_train.loggers.plots import curves_png

            with guarded("mlflow", "drawing the curves"):
                self._artifact("curves.png", curves_png(history))
        with guarded("mlflow", "ending the run"):
            self.client.set_tag(self.run_id, "seg.stopped_early", str(bool(stopped_early)).lower())
            self.client.set_terminated(self.run_id, status="FINISHED")
        self.run_id = None


def _is_file_store(uri: str) -> bool:
    scheme = re.match(r"^([a-zA-Z][\w+.-]*):", uri)
    return scheme is None or scheme.group(1).lower() == "file" or len(scheme.group(1)) == 1  # C:\... on Windows


def _read_run_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _key(key: str) -> str:
    """A name MLflow accepts (letters, digits, ``_ . - /`` and spaces; no empty or ``..`` parts)."""
    text = re.sub(r"[^\w.\- /]", "_", str(key))
    parts = ["_" if part in ("", ".", "..") else part for part in text.split("/")]
    return "/".join(parts)[:_KEY_LENGTH]


def _file_part(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", str(name))
