"""The "not installed: pip install X" hints come from one source, checked here against the real registry."""

from __future__ import annotations

import fnmatch

import pytest

from seg_core.errors import UnknownNameError
from seg_core.plugins import PluginManager, get_registry
from seg_core.suggest import FIRST_PARTY_NAMES, install_hint, provider_of


@pytest.mark.parametrize("kind", sorted(FIRST_PARTY_NAMES))
def test_every_claimed_pattern_names_something_that_distribution_registers(kind: str) -> None:
    reg = get_registry(kind)
    for pattern, dist in FIRST_PARTY_NAMES[kind]:
        names = [n for n in reg.names(pattern) if reg.source(n).distribution == dist]
        aliases = [
            a for n in reg.names() for a in reg.info(n).get("aliases", ()) if fnmatch.fnmatchcase(a.lower(), pattern)
        ]
        assert names or aliases, f"{dist} registers no {kind} matching {pattern!r}: the hint table claims a false name"


@pytest.mark.parametrize(
    "kind", ["encoders", "architectures", "datasets", "losses", "optimizers", "schedulers", "metrics"]
)
def test_every_first_party_entry_is_covered_by_the_table(kind: str) -> None:
    reg = get_registry(kind)
    for name in reg.names():
        info = reg.info(name)
        if not info["builtin"] or "provider" in info:
            continue
        assert provider_of(kind, name) == info["distribution"], f"{kind} {name!r} of {info['distribution']}"
        for alias in info.get("aliases", ()):
            assert provider_of(kind, alias) == info["distribution"], f"alias {alias!r}"


def test_absent_distribution_gets_an_install_command_from_a_checkout() -> None:
    hint = install_hint("architectures", "unet++", {})
    assert hint == (
        "'unet++' is provided by seg-decoders, which is not installed: "
        "pip install ./packages/seg-decoders (from a seg checkout)"
    )
    assert install_hint("architectures", "maskformer", {}) is None  # nobody provides it yet: no false claim
    assert install_hint("architectures", "unet", {"seg-decoders": ("loaded", None)}) is None


def test_disabled_distribution_is_not_told_to_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEG_DISABLED_PLUGINS", "seg-decoders")
    reg = PluginManager(strict=False).registry("architectures")
    for name in ("unet++", "deeplabv3plus"):
        with pytest.raises(UnknownNameError, match="provided by seg-decoders, which is installed but disabled") as err:
            reg.get(name)
        assert "pip install" not in str(err.value)
    with pytest.raises(UnknownNameError) as err:
        reg.get("maskformer")
    assert "provided by" not in str(err.value)


def test_failed_distribution_reports_its_error() -> None:
    hint = install_hint("datasets", "voc", {"seg-data": ("failed", "ImportError: no module named PIL")})
    assert hint is not None and "failed to load: ImportError: no module named PIL" in hint and "pip" not in hint
