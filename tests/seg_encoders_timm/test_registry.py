"""The provider, listing, metadata, preprocessing parameters and the import budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import seg_core
import seg_encoders_timm
from seg_core.errors import UnknownNameError
from seg_core.plugins import get_registry as registry
from seg_core.registry import Provider
from seg_encoders_timm._cache import SupportCache, timm_version
from seg_encoders_timm._probe import Probe
from seg_encoders_timm._provider import TimmEncoderProvider


def test_provider_is_registered_by_the_plugin() -> None:
    encoders = registry("encoders")
    assert "tu-resnet18" in encoders and "resnet18" in encoders and "convnext_tiny.fb_in22k" in encoders
    assert "not_a_timm_model" not in encoders
    assert isinstance(TimmEncoderProvider(), Provider)
    info = encoders.info("tu-convnext_tiny.fb_in22k")
    assert info["provider"] == "timm" and info["timm_name"] == "convnext_tiny" and info["tag"] == "fb_in22k"
    assert info["distribution"] == "seg-encoders-timm" and info["builtin"] is True


def test_listing_patterns() -> None:
    names = seg_encoders_timm.list_encoders("convnext_at*")
    assert names == ["convnext_atto", "convnext_atto_ols", "convnext_atto_rms"]
    assert seg_encoders_timm.list_encoders("tu-convnext_atto") == ["tu-convnext_atto"]
    assert set(names) <= set(seg_core.list_encoders("convnext*"))
    import timm

    assert len(seg_encoders_timm.list_encoders()) <= len(timm.list_models())


def test_verified_listing_probes_and_caches() -> None:
    names = seg_encoders_timm.list_encoders("test_res*", verify=True)
    assert names == ["test_resnet"]
    cache = SupportCache()
    assert cache.path.name == f"timm-encoders-{timm_version()}.json"
    data = json.loads(cache.path.read_text())
    assert data["timm_version"] == timm_version()
    assert data["probes"]["test_resnet"]["reductions"] == [2, 4, 8, 16, 32]


def test_encoder_metadata() -> None:
    meta = seg_encoders_timm.encoder_metadata("tu-convnext_atto.d2_in1k")
    assert meta["kind"] == "features" and meta["name"] == "convnext_atto"
    assert meta["channels"] == [40, 80, 160, 320] and meta["reductions"] == [4, 8, 16, 32]
    assert meta["modules"] == ["stages.0", "stages.1", "stages.2", "stages.3"]
    assert meta["feature_indices"] == [0, 1, 2, 3]
    swin = seg_encoders_timm.encoder_metadata("swin_tiny_patch4_window7_224")
    assert swin["feature_format"] == "NHWC"
    vit = seg_encoders_timm.encoder_metadata("vit_small_patch14_reg4_dinov2")
    assert vit["kind"] == "vit" and vit["patch_size"] == [14, 14] and vit["num_prefix_tokens"] == 5
    with pytest.raises(UnknownNameError, match="resnet18"):
        seg_encoders_timm.encoder_metadata("resnet18x")


def test_preprocessing_params_come_from_pretrained_cfg() -> None:
    params = seg_encoders_timm.get_preprocessing_params("tu-convnext_tiny.fb_in22k")
    assert params["mean"] == pytest.approx((0.485, 0.456, 0.406)) and params["input_range"] == (0, 1)
    assert params["interpolation"] == "bicubic"
    clip = seg_encoders_timm.get_preprocessing_params("vit_base_patch16_clip_224.openai")
    assert clip["mean"] == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    assert seg_encoders_timm.get_preprocessing_params("test_vit")["std"] == (0.5, 0.5, 0.5)


def test_names_come_from_the_cache_without_importing_timm(tmp_path: Path) -> None:
    import timm

    env = {**os.environ, "SEG_CACHE_DIR": str(tmp_path), "SEG_STRICT_PLUGINS": "1"}
    SupportCache(tmp_path / f"timm-encoders-{timm_version()}.json").set_models(timm.list_models())
    code = textwrap.dedent(
        """
        import sys
        import seg_core, seg_encoders_timm
        names = seg_encoders_timm.list_encoders("resnet18*")
        also = seg_core.list_encoders("tu-convnext_atto*")
        from seg_core.plugins import get_registry as registry
        known = "tu-resnet18.a1_in1k" in registry("encoders")
        print(len(names), len(also), known, "timm" in sys.modules, "torch" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    count, also, known, timm_loaded, torch_loaded = done.stdout.split()
    assert int(count) >= 2 and int(also) == 3 and known == "True"
    assert (timm_loaded, torch_loaded) == ("False", "False")


def test_probed_unsupported_models_are_not_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEG_CACHE_DIR", str(tmp_path))
    cache = SupportCache()
    assert cache.path.parent == tmp_path
    cache.set_models(["alpha_net", "beta_net", "gamma_net"])
    cache.set_probes(
        {
            "beta_net": Probe.from_dict({"kind": "unsupported", "reason": "no maps"}),
            "alpha_net": Probe.from_dict({"kind": "features"}),
        }
    )
    assert seg_encoders_timm.list_encoders("*_net") == ["alpha_net", "gamma_net"]
    assert seg_encoders_timm.list_encoders("TU-a*") == ["tu-alpha_net"]
    other = tmp_path / "timm-encoders-0.0.0.json"
    other.write_text(json.dumps({"format": 1, "timm_version": "0.0.0", "models": ["stale"], "probes": {}}))
    assert "stale" not in seg_encoders_timm.list_encoders("st*")  # another timm version's cache is ignored


def _fresh_timm_models() -> list[str]:
    """``timm.list_models()`` in a fresh interpreter (tests here register extra models at run time)."""
    code = "import json, timm; print(json.dumps(timm.list_models()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return sorted(json.loads(done.stdout.strip().splitlines()[-1]))


def test_timm_sources_give_exactly_timm_registry() -> None:
    from seg_core.source_names import registered_names

    assert registered_names("timm") == _fresh_timm_models()


def test_cold_listing_reads_timm_sources_without_torch(tmp_path: Path) -> None:
    """An empty cache (the first `seg list encoders` on a machine) imports neither torch nor timm."""
    env = {**os.environ, "SEG_CACHE_DIR": str(tmp_path), "SEG_STRICT_PLUGINS": "1"}
    code = textwrap.dedent(
        """
        import sys
        from seg_core.cli import main
        main(["list", "encoders"])
        print("timm" in sys.modules, "torch" in sys.modules, file=sys.stderr)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.split()[-2:] == ["False", "False"]
    assert "indexing timm" not in done.stderr  # the slow fallback did not run
    expected = _fresh_timm_models()
    assert set(expected) <= set(done.stdout.split())
    assert SupportCache(tmp_path / f"timm-encoders-{timm_version()}.json").models() == expected
