"""The `seg` command line: listing, info, plugins, errors and the console script."""

from __future__ import annotations

import json
import subprocess
import sys

from seg_core.cli import main


def test_cli_list_info_plugins(capsys) -> None:
    assert main(["list", "encoders", "basic*"]) == 0
    assert capsys.readouterr().out.split() == ["basic_cnn", "basic_cnn_s4"]
    assert main(["info", "encoders", "basic_cnn"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["distribution"] == "seg-core" and info["target"] == "seg_core.basic_encoder:basic_cnn"
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["plugin", "distribution", "version", "status", "error"]
    assert "seg_core" in out and "loaded" in out


def test_cli_errors_exit_2_with_message(capsys) -> None:
    assert main(["list", "encoderz"]) == 2
    assert "unknown registry kind 'encoderz'. Did you mean: 'encoders'" in capsys.readouterr().err
    assert main(["info", "encoders", "basic_cn"]) == 2
    assert "Did you mean: 'basic_cnn'" in capsys.readouterr().err


def test_seg_console_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "seg_core.cli", "list", "encoders"], capture_output=True, text=True, check=True
    )
    assert "basic_cnn" in out.stdout
