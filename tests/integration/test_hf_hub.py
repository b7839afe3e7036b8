"""Hugging Face Hub sharing, without network: push_to_hub's upload folder and card, hf-hub: loading offline.

Downloads go through the real huggingface_hub client in offline mode, reading a cache folder this
test writes in the hub cache layout; the only patched functions are ``HfApi.create_repo`` and
``HfApi.upload_folder``, the network boundary of a push.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import seg_core
from seg_core.checkpoint import read_config
from seg_core.errors import CheckpointError, ConfigError
from seg_core.hub import CARD_NAME, model_card, prepare_upload, push_to_hub, training_summary

huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import constants  # noqa: E402

REVISION = "0123456789abcdef0123456789abcdef01234567"


def _model(classes: int = 3, seed: int = 0) -> seg_core.SegmentationModel:
    torch.manual_seed(seed)
    return seg_core.create_model(
        "unet", encoder_name="basic_cnn", encoder_weights=None, classes=classes, decoder_channels=[16, 8, 8, 8, 8]
    )


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """huggingface_hub in offline mode with its cache in ``tmp_path/hub``."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def _populate(cache: Path, repo_id: str, folder: Path) -> Path:
    """Put ``folder``'s files into the hub cache layout, as a download of ``repo_id`` at main would."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / REVISION
    shutil.copytree(folder, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    return snapshot


def _run_folder(tmp_path: Path) -> Path:
    """What `seg train` leaves in a run folder that the card reads: config.toml and metrics.jsonl."""
    run = tmp_path / "runs" / "demo"
    run.mkdir(parents=True)
    (run / "config.toml").write_text(
        '[data]\ndataset = "synthetic"\nroot = "/secret/data"\ntrain_split = "train"\nval_split = "val"\n'
        'options = { size = 64 }\n\n[trainer]\nbest = "max:val/miou"\n'
    )
    rows = [
        {"epoch": 0, "step": 10, "train/loss": 1.2, "val/miou": 0.40},
        {"epoch": 1, "step": 20, "train/loss": 0.9, "val/miou": 0.62},
        {"epoch": 2, "step": 30, "train/loss": 0.8, "val/miou": 0.55},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


# -- hf-hub: loading through the real client, offline --------------------------------------------------


def test_hf_hub_loads_from_the_offline_cache(tmp_path: Path, offline_cache: Path) -> None:
    model = _model()
    folder = prepare_upload(model, tmp_path / "upload", repo_id="org/unet-demo")
    snapshot = _populate(offline_cache, "org/unet-demo", folder)
    loaded = seg_core.from_pretrained("hf-hub:org/unet-demo")
    assert _same_state(loaded, model)
    assert loaded.config == model.config
    # The real client resolved refs/main to the snapshot folder of the cache.
    assert huggingface_hub.snapshot_download("org/unet-demo") == str(snapshot.resolve())
    with pytest.warns(UserWarning, match="segmentation_head"):
        overridden = seg_core.from_pretrained("hf-hub:org/unet-demo", classes=5, strict=False)
    assert overridden.config["classes"] == 5


def test_hf_hub_missing_from_the_offline_cache_is_a_clear_error(offline_cache: Path) -> None:
    with pytest.raises(CheckpointError, match="could not download 'org/absent'"):
        seg_core.from_pretrained("hf-hub:org/absent")


class _Payload:
    """Not a tensor: a weights_only load must refuse to unpickle it."""


def test_hf_hub_torch_weights_load_with_weights_only(tmp_path: Path, offline_cache: Path) -> None:
    folder = prepare_upload(_model(), tmp_path / "upload")
    (folder / "model.safetensors").unlink()
    torch.save(_model().state_dict(), folder / "pytorch_model.bin")
    _populate(offline_cache, "org/pickled", folder)
    # A torch file is read with weights_only=True, like a local folder: plain tensors load...
    assert _same_state(seg_core.from_pretrained("hf-hub:org/pickled"), _model())
    # ...and arbitrary objects are refused.
    torch.save({"payload": _Payload()}, folder / "pytorch_model.bin")
    _populate(offline_cache, "org/unsafe", folder)
    with pytest.raises(CheckpointError, match=r"weights_only=True"):
        seg_core.from_pretrained("hf-hub:org/unsafe")


def test_plain_missing_path_never_reaches_the_hub(tmp_path: Path, offline_cache: Path, monkeypatch) -> None:
    model = _model()
    _populate(offline_cache, "org/unet-demo", prepare_upload(model, tmp_path / "upload"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist") as err:
        seg_core.from_pretrained("org/unet-demo")
    assert "org/unet-demo" in str(err.value) and "'hf-hub:org/unet-demo'" in str(err.value)


# -- push_to_hub -----------------------------------------------------------------------------------------


def test_prepare_upload_writes_config_weights_and_card(tmp_path: Path) -> None:
    model = _model()
    folder = prepare_upload(model, tmp_path / "upload", repo_id="org/unet-demo", run_dir=_run_folder(tmp_path))
    assert sorted(p.name for p in folder.iterdir()) == [CARD_NAME, "config.json", "model.safetensors"]
    assert _same_state(seg_core.from_pretrained(folder), model)
    card = (folder / CARD_NAME).read_text()
    assert "| Architecture | `unet` |" in card and "| Encoder | `basic_cnn` |" in card
    assert "| Classes | 3 |" in card
    assert "datasets:\n- synthetic" in card and "| dataset | `synthetic` |" in card
    assert "/secret/data" not in card  # the data root is local: never published
    assert "| val/miou | 0.62 |" in card  # the best epoch (max:val/miou), not the last one
    assert 'seg_core.from_pretrained("hf-hub:org/unet-demo")' in card


def test_model_card_without_training_has_no_dataset_or_metrics(tmp_path: Path) -> None:
    _model().save_pretrained(tmp_path / "m")
    card = model_card(read_config(tmp_path / "m"))
    assert "## Dataset" not in card and "## Metrics" not in card
    assert card.startswith("---\nlibrary_name: seg\n")
    assert "| Classes | 3 |" in card and 'from_pretrained("<folder>")' in card


def test_training_summary_picks_the_best_epoch(tmp_path: Path) -> None:
    run = _run_folder(tmp_path)
    summary = training_summary(run / "best_model")  # best_model/ resolves to its run folder
    assert summary["metrics"]["val/miou"] == 0.62 and summary["metrics"]["epoch"] == 1
    assert summary["dataset"] == {"dataset": "synthetic", "train_split": "train", "val_split": "val",
                                  "options": {"size": 64}}  # fmt: skip
    with pytest.raises(CheckpointError, match="not a seg-train run folder"):
        training_summary(tmp_path)


def test_push_to_hub_uploads_the_prepared_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def create_repo(self: Any, repo_id: str, **kwargs: Any) -> str:
        calls.append(("create_repo", {"repo_id": repo_id, **kwargs}))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self: Any, **kwargs: Any) -> str:
        folder = Path(kwargs["folder_path"])
        files = {p.name: p.read_bytes() for p in folder.iterdir()}
        calls.append(("upload_folder", {**kwargs, "files": files}))
        return "https://huggingface.co/org/unet-demo/commit/abc"

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    model = _model()
    url = model.push_to_hub("org/unet-demo", private=True, metrics={"val/miou": 0.5})
    assert url == "https://huggingface.co/org/unet-demo/commit/abc"
    (_, created), (_, uploaded) = calls
    assert created == {"repo_id": "org/unet-demo", "private": True, "exist_ok": True}
    assert uploaded["repo_id"] == "org/unet-demo"
    assert set(uploaded["files"]) == {CARD_NAME, "config.json", "model.safetensors"}
    assert "| val/miou | 0.5 |" in uploaded["files"][CARD_NAME].decode()
    # What was uploaded loads back as the same model.
    local = tmp_path / "uploaded"
    local.mkdir()
    for name, data in uploaded["files"].items():
        (local / name).write_bytes(data)
    assert _same_state(seg_core.from_pretrained(local), model)


def test_push_to_hub_offline_reports_the_hub_error(offline_cache: Path) -> None:
    # The real client, in offline mode (HF_HUB_OFFLINE=1), refuses before any request.
    with pytest.raises(CheckpointError, match="could not push .*'org/unet-demo'.*HF_HUB_OFFLINE"):
        _model().push_to_hub("org/unet-demo")


@pytest.mark.parametrize("repo_id", ["unet-demo", "org/", "a/b/c", "hf-hub:"])
def test_push_to_hub_rejects_malformed_repo_ids(repo_id: str) -> None:
    with pytest.raises(ConfigError, match="must be a Hugging Face Hub repository id"):
        push_to_hub(_model(), repo_id)


# -- the optional extra ----------------------------------------------------------------------------------


def test_missing_huggingface_hub_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    hint = "pip install './packages/seg-core[hub]'"
    with pytest.raises(ConfigError, match="push_to_hub needs huggingface_hub") as err:
        _model().push_to_hub("org/unet-demo")
    assert hint in str(err.value)
    with pytest.raises(ConfigError) as err:
        seg_core.from_pretrained("hf-hub:org/unet-demo")
    assert hint in str(err.value) and "'hf-hub:org/unet-demo'" in str(err.value)


def test_missing_local_path_names_it_and_mentions_hf_hub(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(CheckpointError) as err:
        seg_core.from_pretrained(missing)
    assert str(missing) in str(err.value) and "does not exist" in str(err.value) and "'hf-hub:'" in str(err.value)
    with pytest.raises(CheckpointError, match="pass 'hf-hub:org/name'"):
        seg_core.from_pretrained("org/name")
