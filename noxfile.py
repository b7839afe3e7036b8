"""Development sessions. `nox -s tests` runs everything CI runs (all but demo and bench).

Sessions install with uv when available (fast, shared cache). Each `tests-<package>`
session installs only that package and what it declares, so a forgotten
dependency fails there.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = False  # always test what the packages declare now
nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True

PACKAGES = {
    "seg-core": "seg_core",
    "seg-encoders-timm": "seg_encoders_timm",
    "seg-decoders": "seg_decoders",
    "seg-data": "seg_data",
    "seg-train": "seg_train",
    "seg-3d": "seg_3d",
}
# What each session needs besides the package under test (always local paths).
DEPENDS = {
    "seg-core": [],
    "seg-encoders-timm": ["seg-core"],
    "seg-decoders": ["seg-core"],
    "seg-data": ["seg-core"],
    "seg-train": ["seg-core", "seg-data"],
    "seg-3d": ["seg-core", "seg-decoders"],  # the tests build every seg-decoders architecture in 3D
}
# The extras each package session installs (reference libraries its tests compare against).
EXTRAS = {"seg-train": "test,monai,tensorboard,wandb,mlflow", "seg-3d": "test,pretrained,nifti,itk"}
TEST_TOOLS = ["pytest>=8", "hypothesis>=6"]
FIXTURE_PLUGINS = [
    "tests/fixtures/plugins/seg-plugin-good",
    "tests/fixtures/plugins/seg-plugin-broken",
    "tests/fixtures/plugins/seg-plugin-rival",
    "tests/fixtures/plugins/seg-plugin-unruly",
]

# The tests each session runs: paths, and paths it ignores. No marker or -k
# deselection is allowed; tests/integration/test_ci_selection.py checks that
# together these cover every collected test.
TEST_SELECTIONS = {
    "tests-seg-core": {"paths": ["tests/seg_core"], "ignore": []},
    "tests-seg-encoders-timm": {"paths": ["tests/seg_encoders_timm"], "ignore": []},
    "tests-seg-decoders": {"paths": ["tests/seg_decoders"], "ignore": []},
    "tests-seg-data": {"paths": ["tests/seg_data"], "ignore": []},
    "tests-seg-train": {"paths": ["tests/seg_train"], "ignore": []},
    "tests-seg-3d": {"paths": ["tests/seg_3d"], "ignore": []},
    "tests-seg-3d-timm3d": {"paths": ["tests/seg_3d_timm3d"], "ignore": []},
    "integration": {
        "paths": ["tests/integration"],
        "ignore": ["tests/integration/plugins", "tests/integration/slim", "tests/integration/deploy"],
    },
    "deploy": {"paths": ["tests/integration/deploy"], "ignore": []},
    "plugins": {"paths": ["tests/integration/plugins"], "ignore": []},
    "slim": {"paths": ["tests/integration/slim"], "ignore": []},
    "lowest": {"paths": ["tests/seg_encoders_timm"], "ignore": []},
}
ENV = {"SEG_STRICT_PLUGINS": "1", "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0"}


def _local(*dists: str) -> list[str]:
    return [f"./packages/{d}" for d in dists]


def _pytest(session: nox.Session, name: str, *extra: str) -> None:
    selection = TEST_SELECTIONS[name]
    args = [*selection["paths"]]
    for path in selection["ignore"]:
        args.append(f"--ignore={path}")
    session.run("pytest", *args, *extra, *session.posargs, env=ENV)


def _make_package_session(dist: str) -> None:
    @nox.session(name=f"tests-{dist}")
    def _session(session: nox.Session) -> None:
        session.install(*_local(*DEPENDS[dist]), f"./packages/{dist}[{EXTRAS.get(dist, 'test')}]", *TEST_TOOLS)
        _pytest(session, f"tests-{dist}")

    _session.__doc__ = f"Install only {dist} (and what it declares) and run its tests."


for _dist in PACKAGES:
    _make_package_session(_dist)


@nox.session(name="tests-seg-3d-timm3d")
def tests_seg_3d_timm3d(session: nox.Session) -> None:
    """seg-3d with its optional extra timm3d: timm_3d's models as ``t3d-*`` encoders."""
    session.install(*_local("seg-core", "seg-decoders"), "./packages/seg-3d[test,timm3d]", *TEST_TOOLS)
    _pytest(session, "tests-seg-3d-timm3d")


@nox.session
def integration(session: nox.Session) -> None:
    """Install the whole workspace and run cross-package tests (incl. the CI-selection meta-test).

    smp is installed too, only so that from_smp is also checked live against it (tests never need it
    otherwise: the committed fixtures were written by smp).
    """
    # With every extra whose tests the collection check (test_ci_selection) must be able to import.
    session.install(
        *_local(*PACKAGES),
        f"./packages/seg-train[{EXTRAS['seg-train']}]",
        "./packages/seg-core[hub]",
        *TEST_TOOLS,
        "segmentation-models-pytorch>=0.5",
    )
    _pytest(session, "integration")


@nox.session
def plugins(session: nox.Session) -> None:
    """Install the workspace plus fake third-party plugin distributions; test discovery for real."""
    session.install(*_local(*PACKAGES), *FIXTURE_PLUGINS, *TEST_TOOLS)
    _pytest(session, "plugins")


@nox.session
def slim(session: nox.Session) -> None:
    """Install only seg-core and seg-decoders; no timm/torchvision/huggingface_hub may come along."""
    session.install(*_local("seg-core", "seg-decoders"), "pytest>=8")
    session.run(
        "python",
        "-c",
        "import importlib.metadata as m, sys\n"
        "found = []\n"
        "for d in ('timm', 'torchvision', 'huggingface-hub'):\n"
        "    try:\n        m.version(d)\n        found.append(d)\n    except m.PackageNotFoundError:\n        pass\n"
        "if found:\n    sys.exit(f'slim install pulled in {found}')\n"
        "print('slim: timm, torchvision and huggingface_hub are not installed')",
    )
    _pytest(session, "slim")


@nox.session
def lowest(session: nox.Session) -> None:
    """The oldest declared versions (``uv --resolution lowest-direct``: timm, torch... at their floors) with timm's tests.

    Checks that the floors in the pyproject files are real: seg-encoders-timm's timm floor is
    the first timm whose loader reads pickles with ``weights_only=True``.
    """
    session.install(
        "--resolution",
        "lowest-direct",
        *_local("seg-core", "seg-encoders-timm", "seg-decoders"),
        "./packages/seg-core[test]",
        "./packages/seg-encoders-timm[test]",
        *TEST_TOOLS,
    )
    _pytest(session, "lowest")


@nox.session
def deploy(session: nox.Session) -> None:
    """Deployment paths (slow): inductor compile, torch.export static/dynamic, ONNX + onnxruntime, channels_last."""
    session.install(*_local(*PACKAGES), "./packages/seg-decoders[deploy]", "pytest>=8")
    _pytest(session, "deploy")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy on the public packages."""
    session.install(*_local(*PACKAGES), "mypy>=1.10", "pytest>=8", "hypothesis>=6")
    session.run("mypy", *[f"packages/{d}/src/{m}" for d, m in PACKAGES.items()])


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly (warnings are errors)."""
    session.install(*_local(*PACKAGES), "mkdocs>=1.6", "mkdocs-material>=9.5", "mkdocstrings[python]>=0.26")
    out = os.path.join(session.create_tmp(), "site")
    session.run("mkdocs", "build", "--strict", "--site-dir", out)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: `seg demo` trains on the built-in synthetic data (run folder under .nox/demo/tmp)."""
    session.install(*_local(*PACKAGES))
    session.run("seg", "demo", "--runs", os.path.join(session.create_tmp(), "runs"), *session.posargs, env=ENV)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (not part of `tests`): speed and memory, side by side with smp and MONAI (docs/benchmarks.md).

    About 15 minutes on 2 CPU cores; `nox -s bench -- --quick` is a smoke run of every script in under 3
    minutes. bench_gpu.py runs only where CUDA is available.
    """
    # smp, smp-3d and MONAI, to compare side by side. smp-3d pins timm 0.9.7, which seg-encoders-timm's
    # timm floor excludes; it works with current timm, so it comes without its own dependencies.
    session.install(*_local(*PACKAGES), "./packages/seg-train[monai]", "segmentation-models-pytorch")
    session.install(
        "--no-deps", "segmentation-models-pytorch-3d", "timm-3d", "efficientnet-pytorch", "pretrainedmodels", "munch",
        "six",
    )  # fmt: skip
    for script in sorted(f for f in os.listdir("benchmarks") if f.startswith("bench_") and f.endswith(".py")):
        session.run("python", f"benchmarks/{script}", *session.posargs, env=ENV)


@nox.session(name="coverage-timm")
def coverage_timm(session: nox.Session) -> None:
    """Sweep every timm model through a Unet (not part of `tests`; long). Arguments after -- go to the script."""
    session.install(*_local("seg-core", "seg-encoders-timm", "seg-decoders"))
    session.run("python", "packages/seg-encoders-timm/scripts/timm_coverage.py", *session.posargs, env=ENV)


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """Everything CI runs: lint, typecheck, every package's tests, integration, plugins, slim, lowest, docs."""
    sessions = [
        "lint",
        "typecheck",
        *[f"tests-{d}" for d in PACKAGES],
        "tests-seg-3d-timm3d",
        "integration",
        "plugins",
        "slim",
        "lowest",
        "deploy",
    ]
    for name in [*sessions, "docs"]:
        session.notify(name)
    if shutil.which("uv") is None:
        session.log("uv not found: sessions fall back to virtualenv + pip (slower)")
