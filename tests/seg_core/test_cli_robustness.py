"""The `seg` command line survives broken plugin subcommands and a closed stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from seg_core.cli import build_parser, main
from seg_core.errors import SegPluginWarning

EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE

CLITOOL = {
    "clitool_hooks": """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("clitool_encoder", "builtins:dict")

        @hookimpl
        def seg_cli_commands(commands):
            commands.add("list", help="shadows a built-in", run="clitool_impl:run")
            commands.add("-dash", help="not a subcommand name", run="clitool_impl:run")
            commands.add("tool-missing", help="setup module missing", setup="clitool_gone:setup", run="clitool_impl:run")
            commands.add("tool-badattr", help="setup attribute missing", setup="clitool_impl:nope", run="clitool_impl:run")
            commands.add("tool-raises", help="setup raises half-way", setup="clitool_impl:bad_setup", run="clitool_impl:run")
            commands.add("tool-exits", help="setup exits", setup="clitool_impl:exit_setup", run="clitool_impl:run")
            commands.add("tool-ok", help="works 100% of the time", setup="clitool_impl:setup", run="clitool_impl:run")
            commands.add("tool-norun", help="run target missing", run="clitool_impl:missing_run")
            commands.add("tool-interrupt", help="interrupted", run="clitool_impl:interrupt")
            commands.add("tool-pipe", help="reader went away", run="clitool_impl:pipe")
    """,
    "clitool_impl": """
        def setup(parser):
            parser.add_argument("--times", type=int, default=1)

        def bad_setup(parser):
            parser.add_argument("--half")
            raise RuntimeError("setup exploded")

        def exit_setup(parser):
            raise SystemExit(3)

        def run(args):
            print("tool ran", getattr(args, "times", None))
            return 0

        def interrupt(args):
            raise KeyboardInterrupt

        def pipe(args):
            raise BrokenPipeError
    """,
}
SKIPPED = ("list", "-dash", "tool-missing", "tool-badattr", "tool-raises", "tool-exits")


@pytest.fixture
def clitool(make_dist, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clitool plugin installed, plugins not strict."""
    monkeypatch.setenv("SEG_STRICT_PLUGINS", "0")
    return make_dist("clitool-seg", "1.0", {"clitool": "clitool_hooks"}, CLITOOL)


def _quiet_main(argv: list[str]) -> tuple[int, list[str]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        code = main(argv)
    return code, [str(w.message) for w in record if issubclass(w.category, SegPluginWarning)]


def test_builtin_commands_are_the_reserved_names() -> None:
    from seg_core import cli
    from seg_core.cli_commands import BUILTIN_COMMANDS

    assert (cli.EXIT_INTERRUPTED, cli.EXIT_BROKEN_PIPE) == (EXIT_INTERRUPTED, EXIT_BROKEN_PIPE)
    parser, _ = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) >= BUILTIN_COMMANDS  # type: ignore[arg-type]


def test_broken_plugin_commands_are_skipped_and_reported(clitool, capsys) -> None:
    code, messages = _quiet_main(["list", "encoders", "basic*"])
    assert code == 0
    assert capsys.readouterr().out.split() == ["basic_cnn", "basic_cnn_s4"]  # the built-in `list`
    for name in SKIPPED:
        found = [m for m in messages if f"seg subcommand {name!r} from clitool-seg 1.0" in m]
        assert len(found) == 1, (name, messages)
        assert "SEG_DISABLED_PLUGINS=clitool" in found[0]
    assert "clitool_encoder" in " ".join(_names())  # the plugin's names are kept


def _names() -> list[str]:
    from seg_core.plugins import get_registry

    return get_registry("encoders").names()


def test_help_lists_the_working_commands(clitool, capsys) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SegPluginWarning)
        with pytest.raises(SystemExit) as exited:
            main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "tool-ok" in out and "works 100% of the time" in out and "tool-norun" in out
    for name in SKIPPED[2:]:
        assert name not in out
    with pytest.raises(SystemExit) as exited:
        main(["tool-raises"])
    assert exited.value.code == 2  # argparse: invalid choice


def test_working_plugin_command_runs(clitool, capsys) -> None:
    code, _ = _quiet_main(["tool-ok", "--times", "2"])
    assert code == 0 and capsys.readouterr().out.strip() == "tool ran 2"


def test_skipped_commands_are_listed_in_seg_plugins(clitool, capsys) -> None:
    code, _ = _quiet_main(["plugins", "--json"])
    assert code == 0
    plugin = next(p for p in json.loads(capsys.readouterr().out) if p["name"] == "clitool")
    assert plugin["status"] == "loaded" and plugin["error"] is None
    problems = plugin["problems"]
    assert len(problems) == len(SKIPPED)
    assert any("'list' skipped: 'list' is a built-in seg subcommand" in p for p in problems)
    assert any("'tool-missing' skipped" in p and "clitool_gone" in p for p in problems)
    assert any("'tool-raises' skipped" in p and "setup exploded" in p for p in problems)
    assert main(["plugins"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("clitool "))
    assert "subcommand 'list' skipped" in row


def test_missing_run_target_is_a_one_line_error(clitool, capsys) -> None:
    code, _ = _quiet_main(["tool-norun"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("seg: error: seg subcommand 'tool-norun' from clitool-seg 1.0 (plugin 'clitool') cannot run")
    assert "missing_run" in err and "Traceback" not in err


def test_interrupt_and_closed_pipe_exit_codes(clitool, capsys) -> None:
    assert _quiet_main(["tool-interrupt"])[0] == EXIT_INTERRUPTED
    assert _quiet_main(["tool-pipe"])[0] == EXIT_BROKEN_PIPE


def test_strict_mode_makes_a_broken_command_an_error_every_time(clitool, monkeypatch, capsys) -> None:
    from seg_core.plugins import reset_plugin_manager

    monkeypatch.setenv("SEG_STRICT_PLUGINS", "1")
    reset_plugin_manager()
    for _ in range(2):
        assert main(["list", "encoders"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("seg: error: seg subcommand 'list' from clitool-seg 1.0 (plugin 'clitool') was skipped")
        assert "SEG_STRICT_PLUGINS=1 makes this an error" in err


def test_strict_mode_setup_failure_is_an_error(make_dist, monkeypatch, capsys) -> None:
    hooks = """
        from seg_core import hookimpl

        @hookimpl
        def seg_cli_commands(commands):
            commands.add("tool-missing", help="x", setup="clitool_gone:setup", run="clitool_gone:run")
    """
    make_dist("setup-seg", "1.0", {"setup": "setup_hooks"}, {"setup_hooks": hooks})
    monkeypatch.setenv("SEG_STRICT_PLUGINS", "1")
    for _ in range(2):
        assert main(["plugins"]) == 2
        err = capsys.readouterr().err
        assert "seg subcommand 'tool-missing' from setup-seg 1.0" in err and "setting up its arguments failed" in err
        assert "ModuleNotFoundError" in err


# -- stdout closed by its reader ------------------------------------------------------


def _env(site: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "SEG_STRICT_PLUGINS": "1"}
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


@pytest.mark.parametrize(
    "argv",
    [["plugins", "--json"], ["plugins"], ["info", "encoders", "basic_cnn"], ["list", "encoders"], ["--help"]],
)
def test_reader_gone_before_output(argv: list[str]) -> None:
    """Like ``seg ... | head`` when head has already exited: no traceback, exit 141."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "seg_core.cli", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
            timeout=120,
        )
    finally:
        os.close(write_end)
    # argparse swallows write errors of --help itself, then exits normally
    assert done.returncode in ((0, EXIT_BROKEN_PIPE) if argv == ["--help"] else (EXIT_BROKEN_PIPE,)), done.stderr
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert "Exception ignored" not in done.stderr


def test_reader_gone_in_the_middle_of_the_output(make_dist) -> None:
    """``seg list encoders | head -c 10`` with far more output than a pipe buffers."""
    hooks = """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_encoders(registry):
            for i in range(30000):
                registry.add(f"bulk_encoder_{i:05d}", "builtins:dict")
    """
    info = make_dist("bulk-seg", "1.0", {"bulk": "bulk_hooks"}, {"bulk_hooks": hooks})
    proc = subprocess.Popen(
        [sys.executable, "-m", "seg_core.cli", "list", "encoders", "bulk*"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(info.parent),
    )
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == EXIT_BROKEN_PIPE, err
    assert head == b"bulk_encod"
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err, err
