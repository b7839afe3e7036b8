"""Checkpoint hardening: atomic saves, wrapped models, weights arguments, file modes, warnings, malformed configs, hub ids."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import seg_core
from seg_core.checkpoint import read_config, save_pretrained, unwrap_model
from seg_core.errors import CheckpointError, ConfigError
from seg_core.io import STAGING_PREFIX, atomic_write_bytes

from ._tiny_arch import TinyArch


@pytest.fixture
def arch(fresh_plugins: None) -> str:
    seg_core.get_registry("architectures").add("tiny_arch", TinyArch)
    return "tiny_arch"


def _model(arch: str, seed: int, **kwargs: Any) -> torch.nn.Module:
    torch.manual_seed(seed)
    return seg_core.create_model(arch, **kwargs)


def _same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


def _which(folder: Path, versions: dict[str, tuple[dict[str, Any], dict[str, torch.Tensor]]]) -> str:
    """Which saved version ``folder`` loads as (config and weights both), or raise."""
    config = read_config(folder)
    loaded = seg_core.from_pretrained(folder).state_dict()
    for name, (expected_config, state) in versions.items():
        if config == expected_config and _same_state(loaded, state):
            return name
    raise AssertionError(f"{folder} loads as neither {sorted(versions)}: a torn checkpoint")


_MUTATIONS = ("replace", "rename", "mkdir", "rmdir", "unlink", "remove")


def _watch(patch: pytest.MonkeyPatch, before: Callable[[str], None]) -> None:
    """Call ``before(op)`` before every file-system mutation (os.replace/rename/mkdir/rmdir/unlink, rmtree)."""
    busy = [False]

    def wrap(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not busy[0]:
                busy[0] = True
                try:
                    before(name)
                finally:
                    busy[0] = False
            return real(*args, **kwargs)

        return wrapper

    for name in _MUTATIONS:
        patch.setattr(os, name, wrap(name, getattr(os, name)))
    patch.setattr(shutil, "rmtree", wrap("rmtree", shutil.rmtree))


def _saved(run: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    return read_config(run), seg_core.from_pretrained(run).state_dict()


# -- atomic save -------------------------------------------------------------------------------------


def test_crash_at_every_step_leaves_the_old_or_the_new_checkpoint(arch, tmp_path, monkeypatch) -> None:
    """Snapshot the folder before every mutation: each snapshot is what a crash there leaves on disk."""
    run = tmp_path / "run"
    old, new = _model(arch, 0, classes=3), _model(arch, 1, classes=4, activation="sigmoid")
    old.save_pretrained(run)
    (run / "notes.txt").write_text("the user's own file")
    versions = {"old": _saved(run)}
    snapshots: list[tuple[str, Path]] = []

    def snapshot(op: str) -> None:
        target = tmp_path / "snapshots" / f"{len(snapshots):02d}-{op}"
        shutil.copytree(run, target)
        snapshots.append((op, target))

    with monkeypatch.context() as patch:
        _watch(patch, snapshot)
        new.save_pretrained(run)
    snapshot("done")
    versions["new"] = (read_config(run), new.state_dict())
    seen = [_which(folder, versions) for _, folder in snapshots]
    assert len(snapshots) >= 5 and seen[0] == "old" and seen[-1] == "new"
    assert seen == sorted(seen, key=["old", "new"].index), f"went back to the old checkpoint: {seen}"
    assert (run / "notes.txt").read_text() == "the user's own file"
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # nothing left behind

    # The next save finishes or discards what each crash left, and loads as the newest save.
    newest = _model(arch, 2, classes=2)
    for _, folder in snapshots:
        newest.save_pretrained(folder)
        assert _same_state(seg_core.from_pretrained(folder).state_dict(), newest.state_dict())
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], folder


@pytest.mark.parametrize("op", ["replace", "mkdir", "rmtree", "unlink"])
def test_failure_at_every_step_leaves_the_old_or_the_new_checkpoint(arch, tmp_path, monkeypatch, op) -> None:
    """Make the k-th ``op`` fail (k = 1, 2...): the folder loads as the old or the new model, a retry succeeds."""
    old, new = _model(arch, 0, classes=3), _model(arch, 1, classes=4)
    reference = tmp_path / "reference"
    old.save_pretrained(reference)
    versions = {"old": _saved(reference)}
    new.save_pretrained(tmp_path / "new")
    versions["new"] = _saved(tmp_path / "new")
    failures = 0
    for step in range(1, 40):
        run = tmp_path / f"run{step}"
        shutil.copytree(reference, run)
        count = [0]

        def fail(name: str, step: int = step, count: list[int] = count) -> None:
            if name == op:
                count[0] += 1
                if count[0] == step:
                    raise OSError(f"simulated failure at {op} #{step}")

        with monkeypatch.context() as patch:
            _watch(patch, fail)
            try:
                new.save_pretrained(run)
            except OSError as exc:
                if "simulated failure" not in str(exc):
                    raise
                failures += 1
        assert _which(run, versions) in ("old", "new")
        new.save_pretrained(run)  # a later save succeeds and cleans up
        assert _which(run, versions) == "new"
        assert not [p.name for p in run.iterdir() if p.name.startswith(".")]
        if count[0] < step:  # the save performed fewer such operations: every one has been made to fail
            break
    if op == "replace":
        assert failures >= 4  # the two writes, the commit, the moves into place


def test_interrupted_saves_are_ignored_by_loads_and_cleaned_by_saves(arch, tmp_path) -> None:
    run = tmp_path / "run"
    model = _model(arch, 0, classes=3)
    model.save_pretrained(run)
    pending = run / f"{STAGING_PREFIX}00000000000000000001-dead.pending"
    pending.mkdir()
    (pending / "config.json").write_text("{not json")
    (run / ".config.json.0123abcd.tmp").write_text("half a config")
    (run / ".model.safetensors.0123abcd.tmp").write_bytes(b"half")
    assert _same_state(seg_core.from_pretrained(run).state_dict(), model.state_dict())
    model.save_pretrained(run)
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "model.safetensors"]


# -- wrapped models ----------------------------------------------------------------------------------


def _wrappers() -> list[tuple[str, Callable[[torch.nn.Module], torch.nn.Module]]]:
    return [
        ("compile", torch.compile),
        ("DataParallel", torch.nn.DataParallel),
        ("DataParallel(compile)", lambda m: torch.nn.DataParallel(torch.compile(m))),
        ("compile(DataParallel)", lambda m: torch.compile(torch.nn.DataParallel(m))),
    ]


@pytest.mark.parametrize(("label", "wrap"), _wrappers(), ids=[label for label, _ in _wrappers()])
def test_wrapped_models_save_the_inner_model(arch, tmp_path, label, wrap) -> None:
    model = _model(arch, 0, classes=3).eval()
    wrapped = wrap(model)
    assert unwrap_model(wrapped) is model
    save_pretrained(wrapped, tmp_path / "run")
    if hasattr(wrapped, "save_pretrained"):
        wrapped.save_pretrained(tmp_path / "method")
        assert read_config(tmp_path / "method") == read_config(tmp_path / "run")
    data = (tmp_path / "run" / "model.safetensors").read_bytes()
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    keys = [k for k in header if k != "__metadata__"]
    assert sorted(keys) == sorted(model.state_dict())
    assert not [k for k in keys if k.startswith(("module.", "_orig_mod."))]
    config = read_config(tmp_path / "run")
    assert config["architecture"] == "tiny_arch"
    loaded = seg_core.from_pretrained(tmp_path / "run").eval()
    assert _same_state(loaded.state_dict(), model.state_dict())


def test_load_weights_unwraps_both_sides(arch, tmp_path) -> None:
    model = _model(arch, 0, classes=3)
    path = tmp_path / "ddp.pth"
    torch.save(torch.nn.DataParallel(model).state_dict(), path)  # every key starts with "module."
    target = _model(arch, 1, classes=3)
    assert seg_core.load_weights(target, path).ok
    assert _same_state(target.state_dict(), model.state_dict())
    compiled = torch.compile(_model(arch, 2, classes=3))
    assert seg_core.load_weights(compiled, path).ok
    assert _same_state(unwrap_model(compiled).state_dict(), model.state_dict())


def test_unknown_wrappers_are_refused_clearly(arch, tmp_path) -> None:
    class Wrapper(torch.nn.Module):
        def __init__(self, module: torch.nn.Module) -> None:
            super().__init__()
            self.module = module

    with pytest.raises(ConfigError, match=r"Wrapper wrapper.*save_pretrained\(model.module, directory\)"):
        save_pretrained(Wrapper(_model(arch, 0)), tmp_path / "run")
    assert not (tmp_path / "run").exists()


# -- every accepted encoder_weights form saves ------------------------------------------------------------


@pytest.mark.parametrize("form", [str, Path, None])
def test_models_built_with_a_weights_file_save(arch, tmp_path, form) -> None:
    from seg_core._safetensors import save_bytes
    from seg_core.basic_encoder import BasicCNNEncoder

    weights = tmp_path / "enc.safetensors"
    weights.write_bytes(save_bytes(BasicCNNEncoder(depth=3).state_dict()))
    model = seg_core.create_model(arch, encoder_weights=form(weights) if form else None)
    model.save_pretrained(tmp_path / "run")
    assert read_config(tmp_path / "run")["init_args"]["encoder_weights"] is None
    weights.unlink()
    assert _same_state(seg_core.from_pretrained(tmp_path / "run").state_dict(), model.state_dict())
    again = seg_core.from_pretrained(tmp_path / "run", encoder_weights=Path("/nowhere/enc.safetensors"))
    assert _same_state(again.state_dict(), model.state_dict())


# -- file modes ---------------------------------------------------------------------------------------


@pytest.fixture
def umask() -> Iterator[Callable[[int], None]]:
    previous = os.umask(0o022)
    os.umask(previous)

    def set_umask(value: int) -> None:
        os.umask(value)

    yield set_umask
    os.umask(previous)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077, 0o027])
def test_saved_files_respect_the_umask(arch, tmp_path, umask, mask) -> None:
    umask(mask)
    plain = tmp_path / "plain.txt"
    with open(plain, "wb"):
        pass
    expected = stat.S_IMODE(plain.stat().st_mode)
    assert expected == 0o666 & ~mask
    seg_core.create_model(arch).save_pretrained(tmp_path / "run")
    for name in ("config.json", "model.safetensors"):
        assert stat.S_IMODE((tmp_path / "run" / name).stat().st_mode) == expected, name
    atomic_write_bytes(tmp_path / "other.bin", b"x")
    assert stat.S_IMODE((tmp_path / "other.bin").stat().st_mode) == expected


# -- warnings point at the user's line -------------------------------------------------------------------


def test_reinitialisation_warning_points_at_the_callers_line(arch, tmp_path) -> None:
    seg_core.create_model(arch, classes=3).save_pretrained(tmp_path / "run")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seg_core.from_pretrained(tmp_path / "run", classes=5, strict=False)
        target = seg_core.create_model(arch, classes=5)
        seg_core.load_weights(target, tmp_path / "run" / "model.safetensors", strict=False)
    notes = [w for w in caught if "re-initialised keys" in str(w.message)]
    assert len(notes) == 2
    assert [w.filename for w in notes] == [__file__, __file__]


# -- malformed config.json ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("init_args", ["classes", 3]),
        ("init_args", "classes=3"),
        ("init_args", None),
        ("architecture", 3),
        ("architecture", None),
        ("architecture", ""),
        ("architecture", ["tiny_arch"]),
        ("architecture", {"name": "tiny_arch"}),
        ("format_version", "1"),
        ("format_version", -1),
        ("format_version", 0),
        ("format_version", 1.0),
        ("format_version", True),
        ("format_version", None),
        ("plugins", ["tiny_arch"]),
        ("plugins", {"architecture": "tiny_arch"}),
        ("plugins", {"encoder": {"distribution": 3}}),
        ("seg_core_version", 1),
        ("torch_version", ["2", "5"]),
    ],
)
def test_malformed_config_values_name_the_key(arch, tmp_path, key, value) -> None:
    run = tmp_path / "run"
    seg_core.create_model(arch).save_pretrained(run)
    config = json.loads((run / "config.json").read_text())
    config[key] = value
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=rf"'{key}(\.[a-z]+)*' must be"):
        seg_core.from_pretrained(run)


@pytest.mark.parametrize(
    ("arg", "value", "named"),
    [("clases", 3, "clases"), ("encoder_depth", -2, "encoder_depth"), ("encoder_params", {"wdths": [8]}, "wdths")],
)
def test_malformed_constructor_arguments_are_checkpoint_errors(arch, tmp_path, arg, value, named) -> None:
    run = tmp_path / "run"
    seg_core.create_model(arch).save_pretrained(run)
    config = json.loads((run / "config.json").read_text())
    config["init_args"][arg] = value
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError) as err:
        seg_core.from_pretrained(run)
    assert "config.json" in str(err.value) and named in str(err.value)


def test_invalid_overrides_stay_config_errors(arch, tmp_path) -> None:
    seg_core.create_model(arch).save_pretrained(tmp_path / "run")
    with pytest.raises(ConfigError, match="clases"):
        seg_core.from_pretrained(tmp_path / "run", clases=3)


# -- hub access only with the hf-hub: prefix -------------------------------------------------------------


@pytest.fixture
def fake_hub(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A stand-in ``huggingface_hub`` whose snapshot_download records its calls and returns ``state["folder"]``."""
    state: dict[str, Any] = {"calls": [], "folder": None, "error": None}

    def snapshot_download(repo_id: str, **kwargs: Any) -> str:
        state["calls"].append((repo_id, kwargs))
        if state["error"] is not None:
            raise state["error"]
        return str(state["folder"])

    module = types.ModuleType("huggingface_hub")
    module.snapshot_download = snapshot_download  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", module)
    return state


def test_hf_hub_prefix_downloads_the_repository(arch, tmp_path, fake_hub) -> None:
    model = _model(arch, 0, classes=3)
    model.save_pretrained(tmp_path / "cache" / "snapshot")
    fake_hub["folder"] = tmp_path / "cache" / "snapshot"
    loaded = seg_core.from_pretrained("hf-hub:user/unet-demo")
    assert _same_state(loaded.state_dict(), model.state_dict())
    ((repo, kwargs),) = fake_hub["calls"]
    assert repo == "user/unet-demo" and "config.json" in kwargs["allow_patterns"]
    fake_hub["error"] = OSError("offline")
    with pytest.raises(CheckpointError, match="could not download 'user/unet-demo'"):
        seg_core.from_pretrained("hf-hub:user/unet-demo")
    with pytest.raises(CheckpointError, match="must be followed by a Hugging Face Hub repository id"):
        seg_core.from_pretrained("hf-hub:")


@pytest.mark.parametrize("name", ["runs/unet", "user/repo", Path("user/repo"), "a/b/c", "unet"])
def test_plain_names_never_reach_the_hub(arch, tmp_path, monkeypatch, fake_hub, name) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist") as err:
        seg_core.from_pretrained(name)
    assert str(Path(name)) in str(err.value)
    if isinstance(name, str) and name.count("/") == 1:
        assert f"'hf-hub:{name}'" in str(err.value)
    model = _model(arch, 0, classes=3)
    model.save_pretrained(tmp_path / name)
    assert _same_state(seg_core.from_pretrained(name).state_dict(), model.state_dict())
    assert fake_hub["calls"] == []


def test_hf_hub_without_huggingface_hub_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ConfigError, match="pip install huggingface_hub"):
        seg_core.from_pretrained("hf-hub:user/repo")
