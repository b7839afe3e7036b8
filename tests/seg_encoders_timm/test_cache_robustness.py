"""The support cache: a file of the wrong shape is reported and rebuilt; a stale one is never reused."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import seg_encoders_timm
from seg_encoders_timm import _cache
from seg_encoders_timm._cache import SupportCache, timm_version
from seg_encoders_timm._probe import PROBE_FORMAT

VERSION = timm_version()
GOOD_PROBE = {"kind": "features", "channels": [8, 16], "reductions": [2, 4]}


@pytest.fixture
def cache_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The support cache file of a private SEG_CACHE_DIR; each test reports invalid files anew."""
    monkeypatch.setenv("SEG_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_cache, "_warned", set(), raising=False)
    return tmp_path / f"timm-encoders-{VERSION}.json"


def _current(**fields: object) -> str:
    """A cache of this timm version and probe format; no fingerprint, so it counts as newer than timm."""
    return json.dumps({"format": PROBE_FORMAT, "timm_version": VERSION, **fields})


NOT_AN_OBJECT = ["[]", "null", "3", '"text"', "true", "{", "\xff\xfe", "[" * 100_000 + "]" * 100_000]
WRONG_NESTED = [
    _current(models={"a": 1}, probes={}),
    _current(models=[1, None, {"x": 1}], probes={}),
    _current(models=["resnet18"], probes=[]),
    _current(models=["resnet18"], probes="x"),
    _current(models=["resnet18"], probes={"resnet18": [1, 2]}),
    _current(models=["resnet18"], probes={"resnet18": {"kind": {}}}),
    _current(models=["resnet18"], probes={"resnet18": {"kind": "features", "channels": "abc"}}),
    _current(models=["resnet18"], probes={"resnet18": {"kind": "features", "channels": [1e400]}}),
    _current(models=["resnet18"], probes={"resnet18": {"kind": "features", "channels": [1.5]}}),
    _current(models=["resnet18"], probes={"resnet18": {"kind": "features", "channels": [True]}}),
    _current(models=["resnet18"], probes={"resnet18": {"kind": "features", "dilation": 3}}),
    _current(models=["resnet18"], probes={"resnet18": {"kind": "vit", "features": {"kind": "features", "x": 1}}}),
]


@pytest.mark.parametrize("content", NOT_AN_OBJECT + WRONG_NESTED)
def test_invalid_cache_is_reported_once_and_rebuilt(cache_file: Path, content: str) -> None:
    cache_file.write_text(content, encoding="utf-8", errors="surrogateescape")
    with pytest.warns(UserWarning, match=re.escape(str(cache_file))):
        models, probes = SupportCache().models(), SupportCache().probes()
    assert models is None or all(isinstance(m, str) for m in models)
    assert all(p.kind in {"features", "vit", "unsupported"} for p in probes.values())
    data = json.loads(cache_file.read_text())  # rewritten at once, in the current layout
    assert data["format"] == PROBE_FORMAT and data["timm_fingerprint"] == _cache.timm_fingerprint()
    cache_file.write_text(content, encoding="utf-8", errors="surrogateescape")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SupportCache().probes()  # reported once per file and process


def test_valid_parts_of_an_invalid_cache_are_kept(cache_file: Path) -> None:
    bad = {"kind": "features", "channels": [1e400]}
    cache_file.write_text(_current(models=["alpha_net", "beta_net"], probes={"alpha_net": GOOD_PROBE, "beta_net": bad}))
    cache = SupportCache()
    with pytest.warns(UserWarning, match=r"probe entries of another shape \(beta_net\)"):
        models = cache.models()
    assert models == ["alpha_net", "beta_net"]
    assert set(cache.probes()) == {"alpha_net"}
    assert json.loads(cache_file.read_text())["probes"] == {"alpha_net": cache.probes()["alpha_net"].to_dict()}


@pytest.mark.parametrize("content", ["[]", "null", "3", WRONG_NESTED[1], WRONG_NESTED[7]])
def test_listing_and_building_survive_an_invalid_cache(cache_file: Path, content: str, capsys) -> None:
    from seg_core.cli import main
    from seg_core.plugins import get_registry

    cache_file.write_text(content.replace("resnet18", "test_resnet"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert main(["list", "encoders", "test_res*"]) == 0
        assert capsys.readouterr().out.split() == ["test_resnet"]
        assert seg_encoders_timm.encoder_metadata("test_resnet")["reductions"] == [2, 4, 8, 16, 32]
        encoder = get_registry("encoders").create("tu-test_resnet", depth=3)
    assert len(encoder.out_channels) == 4


def test_cache_of_another_timm_install_is_not_reused(cache_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    SupportCache().set_models(["only_in_the_old_install"])
    assert SupportCache().models() == ["only_in_the_old_install"]
    assert json.loads(cache_file.read_text())["timm_fingerprint"] == _cache.timm_fingerprint()
    monkeypatch.setattr(_cache, "timm_fingerprint", lambda: "another-install")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stale is not invalid: no warning
        assert SupportCache().models() is None


def test_cache_without_fingerprint_older_than_timm_is_stale(cache_file: Path) -> None:
    cache_file.write_text(_current(models=["legacy_net"], probes={}))
    assert SupportCache().models() == ["legacy_net"]  # newer than the timm install: trusted
    os.utime(cache_file, ns=(0, 0))
    assert SupportCache().models() is None  # written before this timm was installed


def test_fingerprint_does_not_import_timm() -> None:
    code = "import sys; from seg_encoders_timm._cache import timm_fingerprint; print(timm_fingerprint(), 'timm' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    fingerprint, imported = done.stdout.split()
    assert re.fullmatch("[0-9a-f]{16}", fingerprint) and imported == "False"


@pytest.mark.parametrize("with_record", [True, False], ids=["wheel-install", "source-checkout"])
def test_another_timm_with_the_same_version_rebuilds_the_cache(tmp_path: Path, with_record: bool) -> None:
    """A different timm install reporting the same version string must not reuse the cache."""
    fake = tmp_path / "fake-site"
    (fake / "timm").mkdir(parents=True)
    (fake / "timm" / "__init__.py").write_text(
        textwrap.dedent(
            """
            def list_models(*args, **kwargs):
                return ["fake_only_net"]

            def is_model(name):
                return name == "fake_only_net"
            """
        )
    )
    if with_record:  # a wheel of timm with the same version but other files
        info = fake / f"timm-{VERSION}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: timm\nVersion: {VERSION}\n")
        (info / "RECORD").write_text(f"timm/__init__.py,sha256=fake,120\ntimm-{VERSION}.dist-info/RECORD,,\n")
    cache_dir = tmp_path / "cache"
    code = "import seg_encoders_timm\nprint(len(seg_encoders_timm.list_encoders()))\n"

    def listing(*site: Path) -> int:
        env = {**os.environ, "SEG_CACHE_DIR": str(cache_dir), "SEG_STRICT_PLUGINS": "1"}
        env["PYTHONPATH"] = os.pathsep.join([*map(str, site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])

    real = listing()
    assert real > 1
    assert listing(fake) == 1  # the fake timm's one model, not the names cached for the real install
    assert listing() == real
