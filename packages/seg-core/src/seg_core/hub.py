"""Sharing saved models on the Hugging Face Hub: `push_to_hub`, the model card, the optional ``hub`` extra.

A pushed repository is the `save_pretrained` folder (``config.json`` + ``model.safetensors``)
plus a generated ``README.md`` model card, so ``seg_core.from_pretrained("hf-hub:org/name")``
rebuilds the model from it (weights are read as safetensors: no pickle is ever loaded).
``huggingface_hub`` is imported only when it is needed: ``pip install './packages/seg-core[hub]'``
(from a seg checkout) installs it.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seg_core.checkpoint import CONFIG_NAME, HUB_PREFIX, WEIGHTS_NAME, save_pretrained
from seg_core.errors import CheckpointError, ConfigError
from seg_core.hub_client import INSTALL_HINT, import_huggingface_hub

__all__ = [
    "CARD_NAME",
    "INSTALL_HINT",
    "import_huggingface_hub",
    "model_card",
    "prepare_upload",
    "push_to_hub",
    "training_summary",
]

#: The model card's file name in a pushed folder.
CARD_NAME = "README.md"


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise ConfigError(
                f"run_dir={str(path.parent)!r}: reading a seg-train config.toml on Python 3.10 needs tomli "
                "(pip install tomli)"
            ) from None
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CheckpointError(f"{path} is not a readable seg-train config: {exc}") from exc
    return data


def _best_row(rows: list[dict[str, Any]], best: str) -> dict[str, Any]:
    mode, _, key = best.partition(":")
    scored = [r for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
    if mode not in ("max", "min") or not scored:
        return rows[-1]
    pick = max if mode == "max" else min
    return pick(scored, key=lambda r: r[key])


def training_summary(run_dir: str | Path) -> dict[str, Any]:
    """The dataset and the best epoch's metrics of a seg-train run folder, for the model card.

    seg-train writes ``config.toml`` (the resolved config) and ``metrics.jsonl`` (one line per
    epoch) into the run folder, next to ``best_model/``. The best epoch is the one the run's
    ``trainer.best`` selected (by default the maximum of ``val/miou``), so the metrics describe the
    weights in ``best_model/``.

    Args:
        run_dir: The run folder (``runs/<name>``), or its ``best_model/`` folder.

    Returns:
        ``{"dataset": {...}, "metrics": {...}, "best": "max:val/miou"}``; ``dataset`` holds the
        ``[data]`` entries that describe the data (dataset name, splits, options), never ``root``.

    Raises:
        CheckpointError: The folder is not a seg-train run (no ``config.toml``) or a file is unreadable.

    Example:
        >>> training_summary("runs/unet")["metrics"].get("val/miou")  # doctest: +SKIP
        0.71
    """
    folder = Path(run_dir)
    if folder.name == "best_model" and not (folder / "config.toml").is_file():
        folder = folder.parent
    config_path = folder / "config.toml"
    if not config_path.is_file():
        raise CheckpointError(
            f"run_dir={str(run_dir)!r} is not a seg-train run folder (no config.toml); pass the folder "
            "`seg train` created (runs/<name>), or metrics=... and dataset=... yourself"
        )
    config = _read_toml(config_path)
    data = config.get("data", {}) if isinstance(config.get("data"), dict) else {}
    dataset = {k: data[k] for k in ("dataset", "train_split", "val_split", "options") if k in data}
    trainer = config.get("trainer", {}) if isinstance(config.get("trainer"), dict) else {}
    best = str(trainer.get("best", "max:val/miou"))
    rows: list[dict[str, Any]] = []
    metrics_path = folder / "metrics.jsonl"
    if metrics_path.is_file():
        try:
            rows = [json.loads(line) for line in metrics_path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{metrics_path} is corrupt: {exc}") from exc
    row = _best_row(rows, best) if rows else {}
    metrics = {k: v for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {"dataset": dataset, "metrics": metrics, "best": best}


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return f"`{json.dumps(value, sort_keys=True)}`"
    return f"`{value}`" if isinstance(value, str) else str(value)


def model_card(
    config: Mapping[str, Any],
    *,
    repo_id: str | None = None,
    dataset: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> str:
    """The ``README.md`` of a pushed model: architecture, encoder, classes, dataset, metrics, how to load.

    Args:
        config: The ``config.json`` content written by `save_pretrained` (see `seg_core.checkpoint.read_config`).
        repo_id: The Hub repository, for the loading example (``"org/name"``).
        dataset: Dataset metadata (e.g. ``{"dataset": "cityscapes", "train_split": "train"}``); omitted when None.
        metrics: Evaluation metrics (e.g. ``{"val/miou": 0.71}``); omitted when None or empty.

    Returns:
        Markdown with a YAML header (``library_name: seg``, tags) that the Hub shows as the model page.

    Example:
        >>> print(model_card(read_config("runs/unet/best_model"), repo_id="org/unet"))  # doctest: +SKIP
    """
    arch = str(config.get("architecture", "unknown"))
    args = dict(config.get("init_args", {}))
    plugins = config.get("plugins", {})
    encoder = plugins.get("encoder", {}) if isinstance(plugins, dict) else {}
    encoder_name = args.get("encoder_name") or (encoder or {}).get("name") or "none"
    tags = ["seg", "semantic-segmentation", "pytorch", arch]
    dataset_name = (dataset or {}).get("dataset")
    header = ["---", "library_name: seg", "pipeline_tag: image-segmentation", "tags:"]
    header += [f"- {t}" for t in tags]
    if dataset_name:
        header += ["datasets:", f"- {dataset_name}"]
    header.append("---")
    title = repo_id or f"{arch} ({encoder_name})"
    lines = [*header, "", f"# {title}", ""]
    lines += [
        f"A `{arch}` semantic segmentation model with the `{encoder_name}` encoder, saved by "
        "seg (`seg_core.save_pretrained`).",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        f"| Architecture | `{arch}` |",
        f"| Encoder | `{encoder_name}` |",
        f"| Classes | {args.get('classes', 'unknown')} |",
        f"| Input channels | {args.get('in_channels', 'unknown')} |",
    ]
    for role in ("architecture", "encoder"):
        info = plugins.get(role) if isinstance(plugins, dict) else None
        if isinstance(info, dict) and info.get("distribution"):
            lines.append(f"| {role.capitalize()} provided by | `{info['distribution']}` {info.get('version') or ''} |")
    lines += ["", "Constructor arguments (`init_args` in `config.json`):", "", "```json"]
    lines += [json.dumps(args, indent=2, sort_keys=True), "```", ""]
    if dataset:
        lines += ["## Dataset", "", "| | |", "|---|---|"]
        lines += [f"| {key} | {_format(value)} |" for key, value in dataset.items()]
        lines.append("")
    if metrics:
        lines += ["## Metrics", "", "| Metric | Value |", "|---|---|"]
        lines += [f"| {key} | {_format(value)} |" for key, value in metrics.items()]
        lines.append("")
    source = f"{HUB_PREFIX}{repo_id}" if repo_id else "<folder>"
    lines += [
        "## Usage",
        "",
        "```python",
        "import seg_core",
        "",
        f'model = seg_core.from_pretrained("{source}")',
        "```",
        "",
        f"Loading from the Hub needs the optional `hub` extra: `{INSTALL_HINT.split(' (')[0]}` from a seg checkout.",
        "",
    ]
    return "\n".join(lines)


def prepare_upload(
    model: Any,
    folder: str | Path,
    *,
    repo_id: str | None = None,
    run_dir: str | Path | None = None,
    dataset: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
) -> Path:
    """Write the folder `push_to_hub` uploads: `save_pretrained` output plus the ``README.md`` model card.

    Args:
        model: A `SegmentationModel` (possibly wrapped; see `seg_core.save_pretrained`).
        folder: Where to write (created if needed).
        repo_id: The target repository, for the card's loading example.
        run_dir: A seg-train run folder: its dataset and best metrics go into the card
            (see `training_summary`); ``dataset``/``metrics`` given here take precedence.
        dataset: Dataset metadata for the card.
        metrics: Metrics for the card.

    Returns:
        The folder, holding ``config.json``, ``model.safetensors`` and ``README.md``.

    Raises:
        ConfigError: The model cannot be saved (see `seg_core.save_pretrained`).
        CheckpointError: ``run_dir`` is not a seg-train run folder.

    Example:
        >>> prepare_upload(model, "upload", repo_id="org/unet", run_dir="runs/unet")  # doctest: +SKIP
    """
    from seg_core.checkpoint import read_config

    summary = training_summary(run_dir) if run_dir is not None else {}
    dataset = dataset if dataset is not None else summary.get("dataset")
    metrics = metrics if metrics is not None else summary.get("metrics")
    directory = save_pretrained(model, folder)
    card = model_card(read_config(directory), repo_id=repo_id, dataset=dataset, metrics=metrics)
    (directory / CARD_NAME).write_text(card, encoding="utf-8")
    return directory


def push_to_hub(
    model: Any,
    repo_id: str,
    *,
    run_dir: str | Path | None = None,
    dataset: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    private: bool | None = None,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str = "Upload seg model",
) -> str:
    """Upload ``model`` to the Hugging Face Hub repository ``repo_id`` (created if needed).

    The upload is the `prepare_upload` folder: ``config.json``, ``model.safetensors`` and a
    generated ``README.md`` model card. Load it back with
    ``seg_core.from_pretrained("hf-hub:<repo_id>")``.

    Args:
        model: A `SegmentationModel`.
        repo_id: ``"org/name"`` (without the ``hf-hub:`` prefix).
        run_dir: A seg-train run folder whose dataset and best metrics go into the card.
        dataset: Dataset metadata for the card.
        metrics: Metrics for the card.
        private: Create the repository as private (when it does not exist yet).
        token: Hub token; by default huggingface_hub's login (``hf auth login`` or ``HF_TOKEN``).
        revision: Branch to push to (default: the main branch).
        commit_message: The commit message.

    Returns:
        The URL of the commit.

    Raises:
        ConfigError: ``huggingface_hub`` is not installed, ``repo_id`` is malformed, or the model cannot be saved.
        CheckpointError: The Hub refused or could not be reached (offline mode included).

    Example:
        >>> model.push_to_hub("org/unet-cityscapes", run_dir="runs/unet")  # doctest: +SKIP
    """
    if repo_id.startswith(HUB_PREFIX):
        repo_id = repo_id[len(HUB_PREFIX) :]
    if repo_id.count("/") != 1 or not all(part.strip() for part in repo_id.split("/")):
        raise ConfigError(f"repo_id={repo_id!r} must be a Hugging Face Hub repository id 'org/name'")
    hub = import_huggingface_hub("push_to_hub")
    with tempfile.TemporaryDirectory(prefix="seg-push-") as tmp:
        folder = prepare_upload(
            model, Path(tmp) / "model", repo_id=repo_id, run_dir=run_dir, dataset=dataset, metrics=metrics
        )
        api = hub.HfApi(token=token)
        try:
            api.create_repo(repo_id, private=private, exist_ok=True)
            commit = api.upload_folder(
                repo_id=repo_id,
                folder_path=folder,
                commit_message=commit_message,
                revision=revision,
                allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, CARD_NAME],
            )
        except Exception as exc:
            raise CheckpointError(
                f"could not push to the Hugging Face Hub repository {repo_id!r} ({type(exc).__name__}: {exc}); "
                "check the network, HF_HUB_OFFLINE and your login (hf auth login)"
            ) from exc
    return str(getattr(commit, "commit_url", commit))
