from __future__ import annotations

import sys
from typing import Any

import pytest

from seg_core.errors import ConfigError, UnknownNameError
from seg_core.registry import Registrar, Registry, Source


class _Family:
    """A provider of many names, like the timm encoder family."""

    name = "family"

    def __init__(self) -> None:
        self.created: list[tuple[str, dict[str, Any]]] = []

    def names(self, pattern: str | None = None) -> list[str]:
        import fnmatch

        all_names = [f"fam_{i}" for i in range(5)]
        return [n for n in all_names if pattern is None or fnmatch.fnmatchcase(n, pattern)]

    def has(self, name: str) -> bool:
        return name in self.names()

    def create(self, name: str, /, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        self.created.append((name, kwargs))
        return name, kwargs

    def info(self, name: str) -> dict[str, Any]:
        return {"index": int(name.split("_")[1])}


def test_add_get_create_and_info() -> None:
    reg = Registry("losses")
    reg.add("double", lambda x=1: 2 * x, description="twice")
    assert "double" in reg and "DOUBLE" in reg
    assert reg.create("Double", x=4) == 8
    info = reg.info("double")
    assert info["description"] == "twice"
    assert info["distribution"] is None and info["plugin"] == "<runtime>"


def test_lazy_target_is_imported_only_on_get(tmp_path, monkeypatch) -> None:
    (tmp_path / "lazy_mod_for_registry.py").write_text("IMPORTED = True\ndef make(**kw):\n    return kw\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("losses")
    reg.add("lazy", "lazy_mod_for_registry:make")
    assert "lazy_mod_for_registry" not in sys.modules
    assert reg.names() == ["lazy"]
    assert reg.info("lazy")["target"] == "lazy_mod_for_registry:make"
    assert "lazy_mod_for_registry" not in sys.modules
    assert reg.create("lazy", a=1) == {"a": 1}
    assert "lazy_mod_for_registry" in sys.modules


def test_broken_lazy_target_names_the_plugin() -> None:
    from seg_core.errors import PluginError

    reg = Registry("losses")
    reg.add("ghost", "no_such_module_xyz:thing")
    with pytest.raises(PluginError, match=r"'ghost'.*no_such_module_xyz:thing.*cannot be imported"):
        reg.get("ghost")


def test_names_sorted_with_wildcards_case_insensitive() -> None:
    reg = Registry("encoders")
    for n in ["resnet50", "Resnet18", "convnext_tiny", "vit_base"]:
        reg.add(n, dict)
    assert reg.names() == ["Resnet18", "convnext_tiny", "resnet50", "vit_base"]
    assert reg.names("resnet*") == ["Resnet18", "resnet50"]
    assert reg.names("*tiny") == ["convnext_tiny"]
    assert reg.names("nothing*") == []


def test_duplicate_runtime_name_needs_override() -> None:
    reg = Registry("encoders")
    reg.add("mine", dict)
    with pytest.raises(ConfigError, match="already registered by user code; pass override=True"):
        reg.add("MINE", list)
    reg.add("mine", list, override=True)
    assert reg.get("mine") is list


@pytest.mark.parametrize(
    ("target", "message"),
    [(42, "must be callable"), ("no_colon", "must look like 'package.module:attr'")],
)
def test_invalid_targets(target: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Registry("encoders").add("x", target)


def test_invalid_name() -> None:
    with pytest.raises(ConfigError, match="non-empty strings"):
        Registry("encoders").add(" padded ", dict)


def test_unknown_name_suggests_close_matches() -> None:
    reg = Registry("architectures")
    for n in ["unet", "unetplusplus", "fpn"]:
        reg.add(n, dict)
    with pytest.raises(UnknownNameError) as err:
        reg.get("unte")
    assert err.value.suggestions[0] == "unet"
    text = str(err.value)
    assert text.startswith("unknown architecture 'unte'. Did you mean: 'unet'")
    assert "seg list architectures" in text
    assert isinstance(err.value, KeyError)


def test_unknown_name_install_hint_via_hook() -> None:
    from seg_core.suggest import install_hint

    reg = Registry("encoders", missing_hint=lambda kind, name: install_hint(kind, name, {}))
    with pytest.raises(
        UnknownNameError,
        match=r"provided by seg-encoders-timm, which is not installed: pip install \./packages/seg-encoders-timm",
    ):
        reg.get("convnext_tiny")


def test_provider_lists_and_creates_on_demand() -> None:
    reg = Registry("encoders")
    family = _Family()
    reg.add("direct", dict)
    reg.add_provider(family)
    assert reg.names() == ["direct", "fam_0", "fam_1", "fam_2", "fam_3", "fam_4"]
    assert reg.names("fam_[12]") == ["fam_1", "fam_2"]
    assert "fam_3" in reg and "fam_9" not in reg
    assert reg.create("fam_2", depth=3) == ("fam_2", {"depth": 3})
    assert reg.info("fam_4")["index"] == 4
    assert reg.info("fam_4")["provider"] == "family"
    with pytest.raises(UnknownNameError, match="Did you mean: 'fam_"):
        reg.get("fam_7")


def test_provider_protocol_is_checked() -> None:
    with pytest.raises(ConfigError, match="is not a Provider"):
        Registry("encoders").add_provider(object())  # type: ignore[arg-type]


def test_registrar_stages_until_commit() -> None:
    reg = Registry("encoders")
    src = Source("p", "dist-a", "1.0")
    staged = Registrar(reg, src)
    staged.add("a", dict)
    assert "a" not in reg
    staged.commit()
    assert reg.source("a") == src


def test_conflict_between_distributions_first_wins() -> None:
    messages: list[str] = []
    reg = Registry("encoders", on_conflict=messages.append)
    first = Registrar(reg, Source("one", "dist-a", "1.0"))
    first.add("same", dict)
    first.commit()
    second = Registrar(reg, Source("two", "dist-b", "2.0"))
    second.add("same", list)
    second.commit()
    assert reg.get("same") is dict
    assert len(messages) == 1
    assert "dist-a 1.0" in messages[0] and "dist-b 2.0" in messages[0]
    third = Registrar(reg, Source("three", "dist-c", "3.0"))
    third.add("same", tuple, override=True)
    third.commit()
    assert reg.get("same") is tuple


def test_builtin_names_are_protected_from_plugins() -> None:
    messages: list[str] = []
    reg = Registry("encoders", on_conflict=messages.append)
    core = Registrar(reg, Source("seg_core", "seg-core", "0.1.0", builtin=True))
    core.add("basic", dict)
    core.commit()
    plugin = Registrar(reg, Source("evil", "evil-dist", "1.0"))
    plugin.add("basic", list, override=True)
    plugin.commit()
    assert reg.get("basic") is dict
    assert "built-in names are protected" in messages[0]
    reg.add("basic", list, override=True)  # deliberate replacement from user code is allowed
    assert reg.get("basic") is list


def test_remove() -> None:
    reg = Registry("losses")
    reg.add("x", dict)
    reg.remove("x")
    assert "x" not in reg
    with pytest.raises(UnknownNameError):
        reg.remove("x")
