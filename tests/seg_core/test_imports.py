"""Import cost: seg-core and listing import no torch; lazy exports resolve once."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _heavy_after(code: str) -> list[str]:
    probe = code + "\nimport sys\nprint(','.join(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_import_seg_core_imports_no_torch() -> None:
    assert _heavy_after("import seg_core; seg_core.hookimpl; seg_core.__version__") == []


def test_listing_imports_no_torch() -> None:
    assert _heavy_after("import seg_core; seg_core.list_encoders(); seg_core.list_architectures()") == []


def test_seg_list_command_imports_no_torch() -> None:
    code = "import io, contextlib\nfrom seg_core.cli import main\nwith contextlib.redirect_stdout(io.StringIO()):\n    main(['list', 'encoders'])"
    assert _heavy_after(code) == []


def test_lazy_exports_resolve_once_and_list_names() -> None:
    import seg_core

    assert "EncoderMixin" in dir(seg_core) and "get_registry" in dir(seg_core)
    first = seg_core.FeaturePyramidAdapter
    assert seg_core.__dict__["FeaturePyramidAdapter"] is first  # cached in the namespace
    with pytest.raises(AttributeError, match="module 'seg_core' has no attribute 'Nope'"):
        _ = seg_core.Nope
