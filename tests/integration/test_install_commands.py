"""Install commands in docs and error hints must work from a checkout.

The seg distributions are not on the package index yet, so ``pip install seg-core`` fails;
``pip install ./packages/seg-core`` (run in the repository root) works. This scans the docs,
the READMEs and the packages' sources for ``pip install`` commands that name a seg distribution
by its bare name, and checks the two error hints outside seg-core's ``install_hint``.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The first-party distributions (normalised names).
SEG_DISTRIBUTIONS = frozenset({"seg-core", "seg-encoders-timm", "seg-decoders", "seg-data", "seg-train", "seg-3d"})

#: ``pip install`` (also ``pip3``, ``python -m pip``, ``uv pip``) and the arguments after it:
#: options and requirement-like words, optionally quoted, separated by blanks or a backslash
#: line continuation. The arguments end at anything else (a backtick, ``#``, ``(``, a newline).
_PIP_INSTALL = re.compile(
    r"\bpip3?[ \t]+install(?P<args>(?:(?:[ \t]|\\\r?\n)+[\"']?[\w./\[\],<>=!~*+:@{}-]+[\"']?)*)",
)
_ARG = re.compile(r"[\"']?[\w./\[\],<>=!~*+:@{}-]+[\"']?")
#: A requirement's project name at the start of an argument, and what may follow a bare name.
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_AFTER_BARE_NAME = re.compile(r"(?:\[[^\]]*\])?(?:[<>=!~;,].*)?")
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})", re.MULTILINE)
_INLINE_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def bare_seg_requirements(text: str) -> list[tuple[int, str]]:
    """``(offset, argument)`` for each ``pip install`` argument that names a seg distribution by name.

    Paths (``./packages/seg-core``, ``"./packages/seg-data[sbd]"``), options, direct references
    (``name @ url``) and third-party names (``segmentation-models-pytorch``) are not reported.
    """
    found = []
    for command in _PIP_INSTALL.finditer(text):
        start = command.start("args")
        args = list(_ARG.finditer(command.group("args")))
        for i, arg in enumerate(args):
            word = arg.group().strip("\"'")
            if word.startswith("-") or (i + 1 < len(args) and args[i + 1].group().startswith("@")):
                continue  # an option, or ``name @ url``
            name = _NAME.match(word)
            if name is None or not _AFTER_BARE_NAME.fullmatch(word[name.end() :]):
                continue  # a path, a URL or a direct reference
            if re.sub(r"[-_.]+", "-", name.group().lower()) in SEG_DISTRIBUTIONS:
                found.append((start + arg.start(), arg.group()))
    return found


def _join_wrapped_inline_code(text: str) -> str:
    """``text`` with the newlines inside Markdown inline code spans made spaces (same length, same offsets).

    A command in prose may be wrapped: ``pip install`` at the end of one line, the name on the next.
    """
    chars = list(text)
    blanked = list(text)
    fences = list(_FENCE.finditer(text))
    for opening, closing in zip(fences[::2], fences[1::2], strict=False):
        for i in range(opening.start(), closing.end()):
            if blanked[i] != "\n":
                blanked[i] = " "
    if len(fences) % 2:  # an unclosed fence runs to the end
        for i in range(fences[-1].start(), len(text)):
            if blanked[i] != "\n":
                blanked[i] = " "
    for span in _INLINE_CODE.finditer("".join(blanked)):
        if span.group().count("\n") == 1:  # a code span never crosses a paragraph break
            chars[span.start() + span.group().index("\n")] = " "
    return "".join(chars)


def _scanned_files() -> list[Path]:
    files = [ROOT / "README.md"]
    files += sorted((ROOT / "docs").rglob("*.md"))
    files += sorted((ROOT / "packages").glob("*/README.md"))
    files += sorted((ROOT / "packages").glob("*/src/**/*.py"))
    return [f for f in files if f.is_file()]


@pytest.mark.parametrize(
    "text",
    [
        "pip install seg-core",
        "pip install seg-core seg-decoders  # models",
        "`pip install seg-core`",
        "python -m pip install seg_core",
        "uv pip install --upgrade seg-encoders-timm",
        "pip install 'seg-data[sbd]'",
        'pip install "seg-decoders[deploy]"',
        "pip install ./packages/seg-core seg-3d",
        "pip install seg-train==0.1.0",
        '"installed: pip install seg-encoders-timm"',
        "pip install \\\n    seg-core",
    ],
)
def test_detector_flags_bare_names(text: str) -> None:
    assert bare_seg_requirements(text), text


@pytest.mark.parametrize(
    "text",
    [
        "pip install ./packages/seg-core ./packages/seg-decoders",
        'pip install "./packages/seg-data[sbd]" (from a seg checkout), or pip install scipy',
        'pip install "./packages/seg-decoders[deploy]"',
        "pip install ./packages/{dist} (from a seg checkout)",
        "pip install -e packages/seg-core",
        "uv pip install segmentation-models-pytorch==0.6.0",
        "pip install seg-core-extras segmentation_models_pytorch",
        "pip install huggingface_hub",
        "pip install -e .",
        "uv pip install -r requirements-dev.txt",
        "python -m pip install nox uv && python -m nox -s tests",
        "pip install seg-core @ git+https://example.org/seg",
        "pip install X (see `seg list encoders`) seg-core",
        "`seg-core` depends only on torch: `pip install ./packages/seg-core`",
    ],
)
def test_detector_accepts_paths_and_other_projects(text: str) -> None:
    assert bare_seg_requirements(text) == [], text


def test_wrapped_inline_code_is_joined() -> None:
    text = "Install it with `pip install\nseg-core` first.\n\n```bash\npip install\n```\nseg-core\n"
    assert [arg for _, arg in bare_seg_requirements(_join_wrapped_inline_code(text))] == ["seg-core"]


def test_install_commands_work_from_a_checkout() -> None:
    problems = []
    for path in _scanned_files():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".md":
            text = _join_wrapped_inline_code(text)
        for offset, arg in bare_seg_requirements(text):
            line = text.count("\n", 0, offset) + 1
            problems.append(f"{path.relative_to(ROOT).as_posix()}:{line}: pip install {arg}")
    assert not problems, (
        "the seg packages are not on the package index: install them from a checkout, e.g. "
        'pip install ./packages/seg-core "./packages/seg-data[sbd]" (run in the repository root):\n'
        + "\n".join(problems)
    )


def test_from_smp_hint_installs_seg_encoders_timm_from_a_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    seg_decoders = pytest.importorskip("seg_decoders")
    from seg_core.errors import ConfigError

    find_spec = importlib.util.find_spec

    def without_timm_encoders(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "seg_encoders_timm" else find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", without_timm_encoders)
    with pytest.raises(ConfigError) as err:
        seg_decoders.from_smp({}, "Unet")
    assert str(err.value).endswith(
        "seg-encoders-timm, which is not installed: pip install ./packages/seg-encoders-timm (from a seg checkout)"
    )
    assert bare_seg_requirements(str(err.value)) == []


def test_sbd_hint_installs_the_extra_from_a_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("seg_data")
    from seg_data.datasets.sbd import read_mat_mask

    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportError) as err:
        read_mat_mask(tmp_path / "cls" / "2008_000002.mat")
    assert str(err.value) == (
        'the sbd dataset reads .mat files with scipy: pip install "./packages/seg-data[sbd]" '
        "(from a seg checkout), or pip install scipy"
    )
    assert bare_seg_requirements(str(err.value)) == []
