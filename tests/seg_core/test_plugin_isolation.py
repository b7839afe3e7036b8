"""One broken plugin is reported and skipped; everything else keeps working (strict mode: raises, every time)."""

from __future__ import annotations

import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from seg_core.errors import ConfigError, PluginError, SegPluginWarning
from seg_core.plugins import PluginManager, get_plugin_manager, get_registry
from seg_core.registry import RUNTIME, Registrar, Registry, Source

GOOD_LATE = {
    "zzz_late_hooks": """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("late_encoder", "builtins:dict")
    """
}

BROKEN_IMPORT = {"broken_seg_hooks": "raise RuntimeError('boom')\n"}

DUPLICATE = {
    "dup_hooks": """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_losses(registry):
            registry.add("dup_loss", "builtins:dict")

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("dup_first", "builtins:dict", aliases=["dup_alias"])
            registry.add("dup_encoder", "builtins:dict")
            registry.add("DUP_encoder", "builtins:list")  # names ignore case: registered twice
    """
}

BAD_PROVIDER = {
    "badprov_hooks": """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("badprov_encoder", "builtins:dict")
            registry.add_provider(object())  # accepted when staged, rejected at commit
    """
}


def _load(strict: bool) -> PluginManager:
    manager = PluginManager(strict=strict)
    manager.load()
    return manager


def _status(manager: PluginManager) -> dict[str, str]:
    return {p.name: p.status for p in manager.plugins()}


# -- strict mode: the same error on every call -----------------------------------


def test_strict_failure_raises_on_every_call(make_dist) -> None:
    make_dist("broken-seg", "0.3", {"broken": "broken_seg_hooks"}, BROKEN_IMPORT)
    manager = PluginManager(strict=True)
    messages = []
    for call in (manager.load, lambda: manager.registry("architectures"), manager.plugins, manager.cli_commands):
        with pytest.raises(PluginError, match="broken-seg 0.3.*RuntimeError: boom") as info:
            call()
        messages.append(str(info.value))
    assert len(set(messages)) == 1


def test_strict_failure_of_the_process_wide_manager_is_not_forgotten(make_dist, monkeypatch) -> None:
    make_dist("broken-seg", "0.3", {"broken": "broken_seg_hooks"}, BROKEN_IMPORT)
    monkeypatch.setenv("SEG_STRICT_PLUGINS", "1")
    for _ in range(3):  # never an empty registry where "basic_cnn" is "unknown"
        with pytest.raises(PluginError, match="broken-seg"):
            get_registry("encoders")


def test_interrupted_discovery_is_retried(make_dist, tmp_path: Path) -> None:
    marker = tmp_path / "interrupted-once"
    make_dist(
        "flaky-seg",
        "1.0",
        {"flaky": "flaky_hooks"},
        {
            "flaky_hooks": f"""
                import pathlib
                from seg_core import hookimpl

                marker = pathlib.Path({str(marker)!r})
                if not marker.exists():
                    marker.write_text("1")
                    raise KeyboardInterrupt

                @hookimpl
                def seg_register_encoders(registry):
                    registry.add("flaky_encoder", "builtins:dict")
            """
        },
    )
    manager = PluginManager(strict=True)
    with pytest.raises(KeyboardInterrupt):
        manager.load()
    sys.modules.pop("flaky_hooks", None)
    assert "flaky_encoder" in manager.registry("encoders")
    assert "basic_cnn" in manager.registry("encoders")


def test_registry_access_from_another_thread_waits_for_loading(make_dist) -> None:
    make_dist(
        "aaa-slow",
        "1.0",
        {"slow": "slow_hooks"},
        {
            "slow_hooks": """
                import threading, time
                from seg_core import hookimpl

                STARTED = threading.Event()

                @hookimpl
                def seg_register_encoders(registry):
                    STARTED.set()
                    time.sleep(0.5)
                    registry.add("slow_encoder", "builtins:dict")
            """
        },
    )
    make_dist("zzz-late", "1.0", {"late": "zzz_late_hooks"}, GOOD_LATE)
    manager = PluginManager(strict=True)
    loader = threading.Thread(target=manager.load)
    loader.start()
    try:
        deadline = time.monotonic() + 30
        while not getattr(sys.modules.get("slow_hooks"), "STARTED", threading.Event()).wait(0.01):
            if time.monotonic() > deadline:
                pytest.fail("the slow plugin never started registering")
        names = manager.registry("encoders").names()  # while the other thread is still loading
    finally:
        loader.join()
    assert {"slow_encoder", "late_encoder", "basic_cnn"} <= set(names)


def test_plugin_reading_a_registry_while_registering_does_not_recurse(make_dist) -> None:
    make_dist(
        "reader-seg",
        "1.0",
        {"reader": "reader_hooks"},
        {
            "reader_hooks": """
                from seg_core import hookimpl, get_registry

                @hookimpl
                def seg_register_encoders(registry):
                    if "basic_cnn" in get_registry("encoders"):
                        registry.add("reader_encoder", "builtins:dict")
            """
        },
    )
    assert "reader_encoder" in get_registry("encoders")
    assert {p.name: p.status for p in get_plugin_manager().plugins()}["reader"] == "loaded"


# -- commit: all or nothing per plugin ----------------------------------------------


@pytest.mark.parametrize(
    ("dist", "modules", "own_names"),
    [
        ("dup-seg", DUPLICATE, ("dup_loss", "dup_first", "dup_alias", "dup_encoder")),
        ("badprov-seg", BAD_PROVIDER, ("badprov_encoder",)),
    ],
)
def test_failed_commit_drops_the_plugin_and_keeps_the_others(make_dist, dist, modules, own_names) -> None:
    make_dist(dist, "1.0", {dist.split("-")[0]: next(iter(modules))}, modules)
    make_dist("zzz-late", "1.0", {"late": "zzz_late_hooks"}, GOOD_LATE)
    with pytest.warns(SegPluginWarning, match=f"from {dist} 1.0 failed while committing its names") as record:
        manager = _load(strict=False)
    assert "SEG_DISABLED_PLUGINS" in str(record[0].message)
    plugin = next(p for p in manager.plugins() if p.distribution == dist)
    assert plugin.status == "failed" and plugin.error
    assert _status(manager)["late"] == "loaded"
    assert "late_encoder" in manager.registry("encoders") and "basic_cnn" in manager.registry("encoders")
    for name in own_names:  # nothing staged by the failed plugin is kept, in any kind
        assert name not in manager.registry("encoders") and name not in manager.registry("losses")
    assert not [p for p, s in manager.registry("encoders").providers() if s.distribution == dist]


def test_kind_added_by_a_plugin_that_then_fails_is_dropped(make_dist) -> None:
    make_dist(
        "kinds-seg",
        "1.0",
        {"kinds": "kinds_hooks"},
        {
            "kinds_hooks": """
                from seg_core import hookimpl

                @hookimpl
                def seg_register(registries):
                    registries.add_kind("half_kind")
                    raise RuntimeError("second kind failed")
            """
        },
    )
    with pytest.warns(SegPluginWarning, match="kinds-seg 1.0 failed while adding registry kinds"):
        manager = _load(strict=False)
    assert "half_kind" not in manager.registries and "encoders" in manager.registries


def test_failed_commit_in_strict_mode_raises_on_every_call(make_dist) -> None:
    make_dist("dup-seg", "1.0", {"dup": "dup_hooks"}, DUPLICATE)
    manager = PluginManager(strict=True)
    for _ in range(2):
        with pytest.raises(PluginError, match="dup-seg 1.0 failed while committing its names.*twice"):
            manager.registry("encoders")


def test_cli_lists_the_other_plugins_after_a_failed_commit(make_dist, monkeypatch, capsys) -> None:
    from seg_core.cli import main

    make_dist("dup-seg", "1.0", {"dup": "dup_hooks"}, DUPLICATE)
    make_dist("zzz-late", "1.0", {"late": "zzz_late_hooks"}, GOOD_LATE)
    monkeypatch.setenv("SEG_STRICT_PLUGINS", "0")
    with pytest.warns(SegPluginWarning, match="dup-seg"):
        assert main(["plugins"]) == 0
    rows = {line.split()[0]: line.split()[3] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["dup"] == "failed" and rows["late"] == "loaded"


def test_losing_conflict_in_strict_mode_leaves_no_partial_names(make_dist) -> None:
    clash = """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("{own}", "builtins:dict")
            registry.add("clash", "builtins:dict")
    """
    make_dist("aaa-seg", "1.0", {"aaa": "aaa_hooks"}, {"aaa_hooks": clash.format(own="aaa_encoder")})
    make_dist("bbb-seg", "1.0", {"bbb": "bbb_hooks"}, {"bbb_hooks": clash.format(own="bbb_encoder")})
    manager = PluginManager(strict=True)
    with pytest.raises(PluginError, match="registered by both"):
        manager.load()
    assert "aaa_encoder" in manager.registries["encoders"]
    assert "bbb_encoder" not in manager.registries["encoders"]  # rolled back with the conflict


def test_registrar_commit_is_all_or_nothing() -> None:
    from seg_core.registry import commit_all

    source = Source("acme", "acme-seg", "1.0")
    registry = Registry("encoders")
    registry.add("taken", "builtins:dict")
    reg = Registrar(registry, source)
    reg.add("first", "builtins:dict", aliases=["first_alias"])
    reg.add("second", "builtins:dict")
    reg.add("SECOND", "builtins:dict")
    with pytest.raises(PluginError, match="twice"):
        reg.commit()
    assert registry.names() == ["taken"] and "first_alias" not in registry

    losses = Registry("losses")
    ok = Registrar(losses, source)
    ok.add("fine_loss", "builtins:dict")
    bad = Registrar(registry, source)
    bad.add_provider(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a Provider"):
        commit_all([ok, bad])
    assert losses.names() == [] and registry.names() == ["taken"]
    assert registry.source("taken") == RUNTIME


# -- hooks, discovery ------------------------------------------------------------


def test_plugin_raising_plugin_error_in_a_hook_is_only_that_plugin(make_dist) -> None:
    make_dist(
        "raiser-seg",
        "1.0",
        {"raiser": "raiser_hooks"},
        {
            "raiser_hooks": """
                from seg_core import hookimpl
                from seg_core.errors import PluginError

                @hookimpl
                def seg_register_encoders(registry):
                    registry.add("raiser_encoder", "builtins:dict")
                    raise PluginError("a lazy target of mine is broken")
            """
        },
    )
    make_dist("zzz-late", "1.0", {"late": "zzz_late_hooks"}, GOOD_LATE)
    with pytest.warns(SegPluginWarning, match="raiser-seg 1.0 failed while registering names.*lazy target"):
        manager = _load(strict=False)
    assert _status(manager) | {"raiser": "failed", "late": "loaded"} == _status(manager)
    assert "raiser_encoder" not in manager.registry("encoders") and "late_encoder" in manager.registry("encoders")


def test_same_entry_point_name_in_two_distributions(make_dist) -> None:
    hooks = """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("{name}", "builtins:dict")
    """
    make_dist("aaa-seg", "1.0", {"common": "aaa_common"}, {"aaa_common": hooks.format(name="aaa_encoder")})
    make_dist("bbb-seg", "1.0", {"common": "bbb_common"}, {"bbb_common": hooks.format(name="bbb_encoder")})
    manager = _load(strict=True)
    plugins = {p.distribution: p.status for p in manager.plugins() if p.name == "common"}
    assert plugins == {"aaa-seg": "loaded", "bbb-seg": "loaded"}
    assert {"aaa_encoder", "bbb_encoder"} <= set(manager.registry("encoders").names())


def test_malformed_entry_points_file_is_one_failed_plugin(make_dist) -> None:
    info = make_dist("mangled-seg", "0.1", {"mangled": "mangled_hooks"}, {"mangled_hooks": ""})
    (info / "entry_points.txt").write_text("[seg_core.plugins]\nmangled = mangled_hooks\nnot an entry point\n")
    make_dist("zzz-late", "1.0", {"late": "zzz_late_hooks"}, GOOD_LATE)
    with pytest.warns(SegPluginWarning, match="mangled-seg 0.1 failed while reading its entry points"):
        manager = _load(strict=False)
    status = {p.distribution: p.status for p in manager.plugins()}
    assert status["mangled-seg"] == "failed" and status["zzz-late"] == "loaded"
    assert "late_encoder" in manager.registry("encoders")
    with pytest.raises(PluginError, match="mangled-seg"):
        _load(strict=True)


def test_disabled_plugin_does_not_block_a_namesake(make_dist, monkeypatch) -> None:
    hooks = """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("{name}", "builtins:dict")
    """
    make_dist("aaa-seg", "1.0", {"common": "aaa_common"}, {"aaa_common": hooks.format(name="aaa_encoder")})
    make_dist("bbb-seg", "1.0", {"common": "bbb_common"}, {"bbb_common": hooks.format(name="bbb_encoder")})
    monkeypatch.setenv("SEG_DISABLED_PLUGINS", "aaa-seg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        manager = _load(strict=True)
    assert "bbb_encoder" in manager.registry("encoders") and "aaa_encoder" not in manager.registry("encoders")
