"""Plugin discovery against real installed distributions (nox -s plugins installs the fixtures).

The fixtures live in tests/fixtures/plugins: seg-plugin-good (an encoder, a loss,
a CLI command), seg-plugin-broken (its hook module fails to import) and
seg-plugin-rival (name conflicts, a protected built-in, a deliberate override).
Each check runs in a fresh interpreter, as a user would see it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import pytest

FIXTURES = ("seg-plugin-good", "seg-plugin-broken", "seg-plugin-rival")


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, env=full_env)


def test_fixture_distributions_are_installed() -> None:
    for dist in FIXTURES:
        assert metadata.version(dist)


def test_discovery_lists_every_plugin_with_status() -> None:
    out = _run("from seg_core.cli import main; main(['plugins', '--json'])")
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert plugins["good"]["distribution"] == "seg-plugin-good" and plugins["good"]["version"] == "1.2.3"
    assert plugins["good"]["status"] == "loaded"
    assert plugins["broken"]["status"] == "failed"
    assert "seg_plugin_missing_dependency" in plugins["broken"]["error"]
    assert plugins["seg_core"]["status"] == "loaded" and plugins["seg_core"]["builtin"]


def test_broken_plugin_warns_with_distribution_version_and_remedy() -> None:
    out = _run("import seg_core; print(seg_core.list_encoders('good*'))")
    assert out.returncode == 0
    assert "['good_encoder']" in out.stdout
    assert "SegPluginWarning" in out.stderr
    assert "'broken' from seg-plugin-broken 0.0.1 failed while importing" in out.stderr
    assert "SEG_DISABLED_PLUGINS=broken" in out.stderr


def test_strict_mode_makes_the_broken_plugin_fatal() -> None:
    out = _run("import seg_core; seg_core.list_encoders()", SEG_STRICT_PLUGINS="1")
    assert out.returncode != 0
    assert "PluginError" in out.stderr and "seg-plugin-broken" in out.stderr


def test_disabling_plugins() -> None:
    code = "import seg_core; print(seg_core.list_losses('good*'), seg_core.list_encoders('good*'))"
    enabled = _run(code, SEG_DISABLED_PLUGINS="broken")
    assert enabled.stdout.split() == ["['good_loss']", "['good_encoder']"]
    out = _run(code, SEG_DISABLED_PLUGINS="broken,seg-plugin-good")
    assert out.returncode == 0
    # good_loss disappears; good_encoder stays because seg-plugin-rival deliberately overrides it
    assert out.stdout.split() == ["[]", "['good_encoder']"]
    assert "seg-plugin-broken" not in out.stderr


def test_name_conflicts_between_real_distributions() -> None:
    code = (
        "import seg_core\n"
        "reg = seg_core.get_registry('encoders')\n"
        "print(reg.source('shared_name').distribution, reg.source('basic_cnn').distribution,"
        " reg.source('good_encoder').distribution)\n"
    )
    out = _run(code, SEG_DISABLED_PLUGINS="broken")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["seg-plugin-good", "seg-core", "seg-plugin-rival"]
    assert "'shared_name' is registered by both seg-plugin-good 1.2.3" in out.stderr
    assert "seg-plugin-rival 2.0.0" in out.stderr
    assert "built-in names are protected" in out.stderr


def test_plugin_encoder_builds_and_passes_conformance() -> None:
    code = (
        "from seg_core.testing import check_encoder\n"
        "r = check_encoder('shared_name', check_compile=False, check_export=False)\n"
        "print(len(r.checks))\n"
    )
    out = _run(code, SEG_DISABLED_PLUGINS="broken")
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) >= 5


def test_plugin_cli_command() -> None:
    out = _run("from seg_core.cli import main; raise SystemExit(main(['good-hello']))", SEG_DISABLED_PLUGINS="broken")
    assert out.returncode == 0, out.stderr
    assert "hello from seg-plugin-good" in out.stdout


@pytest.mark.parametrize("kind", ["encoders", "losses"])
def test_seg_list_shows_plugin_names(kind: str) -> None:
    out = _run(f"from seg_core.cli import main; main(['list', '{kind}', 'good*'])", SEG_DISABLED_PLUGINS="broken")
    assert out.stdout.split() == ["good_encoder" if kind == "encoders" else "good_loss"]
