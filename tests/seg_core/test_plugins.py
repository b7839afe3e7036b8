"""Discovery with real distributions (dist-info folders on sys.path)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import pytest

from seg_core.errors import PluginError, SegPluginWarning
from seg_core.plugins import FIRST_PARTY, PluginManager, get_plugin_manager, get_registry

GOOD = {
    "acme_seg.hooks": """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("acme_encoder", "acme_seg.impl:make", description="acme")

        @hookimpl
        def seg_register_losses(registry):
            registry.add("acme_loss", "acme_seg.impl:make")

        @hookimpl
        def seg_cli_commands(commands):
            commands.add("acme", help="acme command", run="acme_seg.impl:run")
    """,
    "acme_seg.__init__": "",
    "acme_seg.impl": """
        def make(**kw):
            return ("acme", kw)

        def run(args):
            print("acme ran")
            return 3
    """,
}


def _manager(strict: bool = False) -> PluginManager:
    manager = PluginManager(strict=strict)
    manager.load()
    return manager


def test_builtin_plugin_registers_basic_encoders(fresh_plugins) -> None:
    info = get_registry("encoders").info("basic_cnn")
    assert info["distribution"] == "seg-core" and info["builtin"] is True
    status = {p.name: p.status for p in get_plugin_manager().plugins()}
    assert status["seg_core"] == "loaded"


def test_discovery_of_a_third_party_distribution(make_dist) -> None:
    make_dist("acme-seg", "1.4.0", {"acme": "acme_seg.hooks"}, GOOD)
    manager = _manager()
    plugin = next(p for p in manager.plugins() if p.name == "acme")
    assert (plugin.distribution, plugin.version, plugin.status, plugin.builtin) == (
        "acme-seg",
        "1.4.0",
        "loaded",
        False,
    )
    assert "acme_seg.impl" not in sys.modules  # listing imports only the hook module
    assert manager.registry("encoders").create("acme_encoder", depth=2) == ("acme", {"depth": 2})
    assert manager.registry("losses").info("acme_loss")["version"] == "1.4.0"
    assert "acme" in manager.cli_commands()


def test_load_order_first_party_then_sorted(make_dist) -> None:
    make_dist("zeta-plugin", "1.0", {"zeta": "zeta_mod"}, {"zeta_mod": ""})
    make_dist("alpha-plugin", "1.0", {"alpha": "alpha_mod"}, {"alpha_mod": ""})
    order = [p.distribution for p in PluginManager().discover()]
    first_party = [d for d in order if d in FIRST_PARTY]
    assert order[: len(first_party)] == first_party
    assert order.index("alpha-plugin") < order.index("zeta-plugin")


def test_broken_plugin_is_reported_and_skipped(make_dist) -> None:
    make_dist("acme-seg", "1.4.0", {"acme": "acme_seg.hooks"}, GOOD)
    make_dist("broken-seg", "0.3", {"broken": "broken_seg_hooks"}, {"broken_seg_hooks": "import does_not_exist_abc\n"})
    with pytest.warns(SegPluginWarning) as record:
        manager = _manager(strict=False)
    text = str(record[0].message)
    assert "'broken' from broken-seg 0.3 failed while importing" in text
    assert "ModuleNotFoundError" in text and "does_not_exist_abc" in text
    assert "SEG_DISABLED_PLUGINS=broken" in text and "pip uninstall broken-seg" in text
    status = {p.name: (p.status, p.error) for p in manager.plugins()}
    assert status["broken"][0] == "failed" and "does_not_exist_abc" in status["broken"][1]
    assert "acme_encoder" in manager.registry("encoders")  # the others still load


def test_strict_mode_reraises(make_dist, monkeypatch) -> None:
    make_dist("broken-seg", "0.3", {"broken": "broken_seg_hooks"}, {"broken_seg_hooks": "raise RuntimeError('boom')\n"})
    monkeypatch.setenv("SEG_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match="broken-seg 0.3.*RuntimeError: boom"):
        PluginManager().load()


def test_failing_register_hook_leaves_no_partial_names(make_dist) -> None:
    make_dist(
        "half-seg",
        "1.0",
        {"half": "half_hooks"},
        {
            "half_hooks": """
                from seg_core import hookimpl

                @hookimpl
                def seg_register_encoders(registry):
                    registry.add("half_a", "half_hooks:x")
                    raise ValueError("second registration failed")
            """
        },
    )
    with pytest.warns(SegPluginWarning, match="failed while registering names.*second registration failed"):
        manager = _manager(strict=False)
    assert "half_a" not in manager.registry("encoders")


def test_invalid_hook_signature_is_a_broken_plugin(make_dist) -> None:
    make_dist(
        "typo-seg",
        "1.0",
        {"typo": "typo_hooks"},
        {
            "typo_hooks": """
                from seg_core import hookimpl

                @hookimpl
                def seg_register_encoderz(registry):
                    pass
            """
        },
    )
    with pytest.warns(SegPluginWarning, match="typo-seg 1.0 failed while registering its hooks.*seg_register_encoderz"):
        _manager(strict=False)


def test_disabled_by_entry_point_or_distribution_name(make_dist, monkeypatch) -> None:
    make_dist("acme-seg", "1.4.0", {"acme": "acme_seg.hooks"}, GOOD)
    for value in ("acme", "acme-seg", "other, ACME_SEG"):
        monkeypatch.setenv("SEG_DISABLED_PLUGINS", value)
        manager = _manager()
        status = {p.name: p.status for p in manager.plugins()}
        assert status["acme"] == "disabled", value
        assert "acme_encoder" not in manager.registry("encoders")


def test_conflicts_between_distributions(make_dist) -> None:
    hooks = textwrap.dedent(
        """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("clash", "{mod}:thing")
            registry.add("basic_cnn", "{mod}:thing", override=True)
        """
    )
    make_dist("bbb-seg", "2.0", {"bbb": "bbb_hooks"}, {"bbb_hooks": hooks.format(mod="bbb_hooks") + "thing = dict\n"})
    make_dist("aaa-seg", "1.0", {"aaa": "aaa_hooks"}, {"aaa_hooks": hooks.format(mod="aaa_hooks") + "thing = list\n"})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        manager = _manager(strict=False)
    messages = [str(w.message) for w in record if issubclass(w.category, SegPluginWarning)]
    clash = [m for m in messages if "'clash'" in m]
    assert len(clash) == 1 and "aaa-seg 1.0" in clash[0] and "bbb-seg 2.0" in clash[0]
    assert manager.registry("encoders").source("clash").distribution == "aaa-seg"  # first in sorted order
    protected = [m for m in messages if "built-in names are protected" in m]
    assert len(protected) == 2
    assert manager.registry("encoders").source("basic_cnn").distribution == "seg-core"


def test_conflict_is_an_error_in_strict_mode(make_dist) -> None:
    make_dist("aaa-seg", "1.0", {"aaa": "aaa_hooks"}, {"aaa_hooks": _ADD_CLASH})
    make_dist("bbb-seg", "1.0", {"bbb": "bbb_hooks"}, {"bbb_hooks": _ADD_CLASH})
    with pytest.raises(PluginError, match="registered by both"):
        _manager(strict=True)


_ADD_CLASH = """
from seg_core import hookimpl

@hookimpl
def seg_register_losses(registry):
    registry.add("clash_loss", "builtins:dict")
"""


def test_plugin_can_add_a_kind(make_dist) -> None:
    make_dist(
        "postprocessors-seg",
        "1.0",
        {"postprocessors": "postprocessor_hooks"},
        {
            "postprocessor_hooks": """
                from seg_core import hookimpl

                @hookimpl
                def seg_register(registries):
                    registries.add_kind("postprocessors")

                @hookimpl
                def seg_register_kind(kind, registry):
                    if kind == "postprocessors":
                        registry.add("crf", "builtins:dict")
            """
        },
    )
    manager = _manager()
    assert manager.registry("postprocessors").names() == ["crf"]


def test_two_plugins_may_add_the_same_kind(make_dist) -> None:
    """Adding a kind is idempotent: a third-party metric joins seg-train's metrics kind."""
    make_dist(
        "more-metrics",
        "1.0",
        {"more_metrics": "more_metrics_hooks"},
        {
            "more_metrics_hooks": """
                from seg_core import hookimpl

                @hookimpl
                def seg_register(registries):
                    registries.add_kind("metrics")

                @hookimpl
                def seg_register_kind(kind, registry):
                    if kind == "metrics":
                        registry.add("boundary_iou", "builtins:dict")
            """
        },
    )
    names = _manager().registry("metrics").names()
    assert "boundary_iou" in names


def test_unknown_kind() -> None:
    from seg_core.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown registry kind 'encoder'. Did you mean: 'encoders'"):
        get_registry("encoder")


def test_hook_modules_of_installed_plugins_do_not_import_heavy_modules() -> None:
    """Every seg_core.plugins entry point must import without torch/timm/torchvision."""
    code = (
        "import sys\n"
        "from importlib import metadata\n"
        "for ep in metadata.entry_points(group='seg_core.plugins'):\n"
        "    if ep.value.startswith(('seg_', 'seg_core')):\n"
        "        ep.load()\n"
        "heavy = sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_reports_strict_plugin_failure_without_traceback(make_dist, monkeypatch, capsys) -> None:
    from seg_core.cli import main

    make_dist("broken-seg", "0.3", {"broken": "broken_seg_hooks"}, {"broken_seg_hooks": "raise RuntimeError('boom')\n"})
    monkeypatch.setenv("SEG_STRICT_PLUGINS", "1")
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "seg: error: seg plugin 'broken' from broken-seg 0.3 failed while importing: RuntimeError: boom"
    )
    assert "SEG_STRICT_PLUGINS=1 makes this an error" in err and "was skipped" not in err
