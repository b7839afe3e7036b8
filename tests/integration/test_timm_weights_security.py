"""Weights hardening: only seg reads weight files, timm's loading options are refused, files must fit the model."""

from __future__ import annotations

import os
import random
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
import timm
import torch
from safetensors.torch import save_file

import seg_core
from seg_core.checkpoint import read_config
from seg_core.errors import CheckpointError, ConfigError
from seg_encoders_timm import create_timm_encoder

ROOT = Path(__file__).resolve().parents[2]
LOADING_OPTIONS = [
    ("checkpoint_path", "FILE"),
    ("pretrained_cfg", {"file": "FILE"}),
    ("pretrained_cfg_overlay", {"file": "FILE"}),
    ("pretrained_cfg_overlay", {"state_dict": {}}),
    ("pretrained", True),
    ("cache_dir", "DIR"),
    ("pretrained_strict", False),
    ("pretrained_filter_fn", print),
    ("weights_only", False),
]


def _state(name: str, seed: int = 0, **kwargs: Any) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {k: v.contiguous() for k, v in timm.create_model(name, **kwargs).state_dict().items()}


def _save(state: dict[str, torch.Tensor], path: Path) -> Path:
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def _timm_tensor(encoder: torch.nn.Module, key: str) -> torch.Tensor:
    """The encoder's tensor for timm key ``key`` (features models flatten ``stages.0`` to ``stages_0``)."""
    state = encoder.state_dict()
    head, _, rest = key.partition(".")
    candidates = [key, f"{head}_{rest}"]
    for name, value in state.items():
        for candidate in candidates:
            if name == candidate or name.endswith("." + candidate):
                return value
    raise KeyError(key)


class _Evil:
    """Unpickling this creates a folder: proof that a pickle was loaded with weights_only=False."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.marker),))


@pytest.fixture
def evil_file(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    torch.save({"conv1.0.weight": torch.zeros(1), "payload": _Evil(marker)}, path)
    return path, marker


@pytest.fixture
def no_timm_file_loading(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every way timm (or safetensors) could open a weights file fail the test; torch.load only from seg."""
    import safetensors.torch
    import timm.models._builder as builder
    import timm.models._factory as factory
    import timm.models._helpers as helpers

    calls: list[str] = []

    def forbidden(name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise AssertionError(f"{name} was called: timm must never open a user's weights file")

        return fail

    for module, attr in [
        (builder, "load_state_dict"),
        (helpers, "load_state_dict"),
        (helpers, "load_checkpoint"),
        (factory, "load_checkpoint"),
        (safetensors.torch, "load_file"),
    ]:
        monkeypatch.setattr(module, attr, forbidden(f"{module.__name__}.{attr}"))
    real_load = torch.load

    def guarded_load(*args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_globals.get("__name__")
        if caller != "seg_core.io" or kwargs.get("weights_only") is not True:
            calls.append(f"torch.load from {caller}")
            raise AssertionError(f"torch.load called by {caller} with {kwargs}")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", guarded_load)
    return calls


# -- timm's loading options are refused ------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"), LOADING_OPTIONS, ids=[f"{o}-{i}" for i, (o, _) in enumerate(LOADING_OPTIONS)]
)
@pytest.mark.parametrize("name", ["tu-test_resnet", "test_vit"])
def test_timm_loading_options_are_refused(
    name: str, option: str, value: Any, evil_file: tuple[Path, Path], tmp_path: Path
) -> None:
    path, marker = evil_file

    def fill(v: Any) -> Any:
        if v == "FILE":
            return str(path)
        if v == "DIR":
            return str(tmp_path)
        return {k: fill(x) for k, x in v.items()} if isinstance(v, dict) else v

    value = fill(value)
    with pytest.raises(ConfigError) as err:
        seg_core.create_encoder(name, **{option: value})
    assert repr(option) in str(err.value)
    with pytest.raises(ConfigError) as err:
        seg_core.create_model("unet", encoder_name=name, encoder_depth=3, encoder_params={option: value})
    message = str(err.value)
    assert repr(option) in message and "encoder_params" in message
    if option not in ("pretrained", "pretrained_strict", "weights_only"):
        assert "encoder_weights='/path/to/file.safetensors'" in message
    with pytest.raises(ConfigError, match=re.escape(repr(option))):
        create_timm_encoder(name, **{option: value})
    assert not marker.exists()


def test_refusal_names_the_seg_argument() -> None:
    with pytest.raises(ConfigError) as err:
        create_timm_encoder("test_resnet", checkpoint_path="/data/w.pth")
    assert "'checkpoint_path'" in str(err.value) and "encoder_weights='/path/to/file.safetensors'" in str(err.value)
    with pytest.raises(ConfigError, match=r"'pretrained_strict'.*weights_strict"):
        create_timm_encoder("test_resnet", pretrained_strict=False)


@pytest.mark.parametrize("name", ["local-dir:/tmp/model", "hf-hub:timm/resnet18.a1_in1k", "tu-hf-hub:timm/test_resnet"])
def test_timm_model_sources_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=r"encoder_name=.*not supported.*encoder_weights="):
        create_timm_encoder(name, weights=True)


# -- local files are read by seg only, safely ------------------------------------------------------


@pytest.mark.parametrize("suffix", [".safetensors", ".pth", ".bin"])
@pytest.mark.parametrize("name", ["tu-test_resnet", "test_vit", "test_efficientnet"])
def test_timm_never_opens_the_file(name: str, suffix: str, tmp_path: Path, no_timm_file_loading: list[str]) -> None:
    state = _state(name.removeprefix("tu-"))
    path = _save(state, tmp_path / f"w{suffix}")
    encoder = seg_core.create_encoder(name, weights=path, depth=3)
    assert no_timm_file_loading == []
    key = next(k for k in state if k.endswith(".weight") and state[k].ndim == 4 and "." in k.split(".", 1)[1])
    assert torch.equal(_timm_tensor(encoder, key), state[key])
    assert "state_dict" not in getattr(encoder, "pretrained_cfg", {})  # timm's copy of the tensors is dropped


@pytest.mark.parametrize("name", ["tu-test_resnet", "test_vit"])
def test_unsafe_pickle_is_refused_before_timm(name: str, evil_file: tuple[Path, Path]) -> None:
    path, marker = evil_file
    with pytest.raises(CheckpointError, match=r"weights_only=True"):
        seg_core.create_encoder(name, weights=path)
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        seg_core.create_model("unet", encoder_name=name, encoder_depth=3, encoder_weights=str(path))
    assert not marker.exists()


def test_timm_floor_reads_pickles_with_weights_only() -> None:
    """The declared floor is the first timm whose loaders default to weights_only=True."""
    import inspect

    from timm.models import _helpers, _hub

    pyproject = (ROOT / "packages/seg-encoders-timm/pyproject.toml").read_text()
    found = re.search(r'"timm\s*>=\s*([\d.]+)"', pyproject)
    assert found is not None, "seg-encoders-timm must declare a timm floor"
    assert tuple(int(p) for p in found.group(1).split(".")) >= (1, 0, 26), found.group(0)
    for function in (_helpers.load_state_dict, _helpers.load_checkpoint, _hub.load_state_dict_from_hf):
        assert inspect.signature(function).parameters["weights_only"].default is True, function


# -- files must hold this architecture's tensors -----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "kind"),
    [
        ("resnet34", "resnet18", "unexpected"),
        ("resnet18", "resnet34", "missing"),
        ("test_vit2", "test_vit", "unexpected"),
        ("test_vit", "test_vit2", "missing"),
        ("test_efficientnet", "test_efficientnet_gn", "unexpected"),
        ("test_efficientnet_gn", "test_efficientnet", "missing"),
    ],
)
def test_file_of_another_architecture_is_refused(source: str, target: str, kind: str, tmp_path: Path) -> None:
    file_state, own = _state(source), _state(target)
    path = _save(file_state, tmp_path / f"{source}.safetensors")
    with pytest.raises(CheckpointError) as err:
        seg_core.create_encoder(target, weights=path)
    message = str(err.value)
    assert str(path) in message and repr(target) in message
    extra = sorted(set(file_state) - set(own))
    absent = sorted(k for k in set(own) - set(file_state) if not k.endswith("num_batches_tracked"))
    if kind == "unexpected":
        assert "not in the model" in message and extra[0] in message
    else:
        assert "missing from the file" in message and absent[0] in message
    assert 'encoder_params={"weights_strict": False}' in message


@pytest.mark.parametrize("name", ["tu-test_resnet", "test_vit", "test_convnext"])
def test_file_with_part_of_the_keys_is_refused(name: str, tmp_path: Path) -> None:
    state = _state(name.removeprefix("tu-"))
    keys = sorted(state)
    random.Random(0).shuffle(keys)
    kept = {k: state[k] for k in keys[: int(len(keys) * 0.6)]}
    classifier = timm.create_model(name.removeprefix("tu-")).pretrained_cfg["classifier"]
    dropped = sorted(
        k
        for k in keys[int(len(keys) * 0.6) :]
        if not k.endswith("num_batches_tracked") and not k.startswith(classifier + ".")
    )
    path = _save(kept, tmp_path / "partial.safetensors")
    with pytest.raises(CheckpointError) as err:
        seg_core.create_encoder(name, weights=path)
    message = str(err.value)
    assert str(path) in message and "missing from the file" in message and dropped[0] in message


def test_one_missing_tensor_is_enough_to_refuse(tmp_path: Path) -> None:
    state = _state("test_resnet")
    del state["layer2.0.conv1.weight"]
    path = _save(state, tmp_path / "almost.safetensors")
    with pytest.raises(
        CheckpointError, match=r"missing from the file \(1 tensors of the model\): layer2.0.conv1.weight\."
    ):
        seg_core.create_encoder("test_resnet", weights=path)


def test_partial_loading_only_on_request(tmp_path: Path) -> None:
    state = _state("test_resnet")
    partial = {k: v for k, v in state.items() if not k.startswith("layer3.")}
    partial["extra.weight"] = torch.zeros(3)
    path = _save(partial, tmp_path / "partial.safetensors")
    with pytest.raises(
        CheckpointError,
        match=r"missing from the file \(\d+ tensors of the model\): layer3\..*not in the model \(1 tensors of the file\): extra.weight",
    ):
        seg_core.create_encoder("test_resnet", weights=path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoder = seg_core.create_encoder("test_resnet", weights=path, weights_strict=False)
    notes = [w for w in caught if "weights_strict=False" in str(w.message)]
    assert len(notes) == 1 and notes[0].filename == __file__
    assert "layer3.0.conv1.weight" in str(notes[0].message) and "extra.weight" in str(notes[0].message)
    assert torch.equal(_timm_tensor(encoder, "layer2.0.conv1.weight"), state["layer2.0.conv1.weight"])
    assert not torch.equal(_timm_tensor(encoder, "layer3.0.conv1.weight"), state["layer3.0.conv1.weight"])
    with pytest.warns(UserWarning, match="partially"):
        model = seg_core.create_model(
            "unet",
            encoder_name="tu-test_resnet",
            encoder_depth=3,
            encoder_weights=path,
            encoder_params={"weights_strict": False},
        )
    assert torch.equal(_timm_tensor(model.encoder, "layer2.0.conv1.weight"), state["layer2.0.conv1.weight"])
    with pytest.raises(ConfigError, match="weights_strict must be True or False"):
        seg_core.create_encoder("test_resnet", weights=path, weights_strict="no")


@pytest.mark.parametrize(
    ("name", "key", "in_channels"),
    [
        ("tu-test_resnet", "layer1.0.conv1.weight", 3),
        ("tu-test_resnet", "conv1.0.weight", 3),
        ("tu-test_resnet", "conv1.0.weight", 1),
        ("tu-test_resnet", "bn1.running_mean", 3),
        ("test_vit", "blocks.0.attn.qkv.weight", 3),
        ("test_vit", "pos_embed", 3),
        ("test_vit", "patch_embed.proj.weight", 4),
        ("test_convnext", "stages.1.blocks.0.conv_dw.weight", 3),
    ],
)
def test_wrong_shape_is_a_checkpoint_error_naming_the_file(
    name: str, key: str, in_channels: int, tmp_path: Path
) -> None:
    state = _state(name.removeprefix("tu-"))
    shape = list(state[key].shape)
    shape[0] += 1 if key != "pos_embed" else 0
    if key == "pos_embed":
        shape[-1] += 1
    state[key] = torch.zeros(shape)
    path = _save(state, tmp_path / "shape.pth")
    with pytest.raises(CheckpointError) as err:
        seg_core.create_encoder(name, weights=path, in_channels=in_channels)
    assert str(path) in str(err.value)


def _reshape(tensor: torch.Tensor, change: str) -> torch.Tensor:
    if change == "flatten3d":
        return tensor.reshape(tensor.shape[0], tensor.shape[1], -1)
    if change == "unsqueeze":
        return tensor.unsqueeze(0)
    if change == "scalar":
        return torch.tensor(1.0)
    return torch.cat([tensor, tensor[:, :1]], dim=1)  # 4 input channels: no adaptation exists


@pytest.mark.parametrize("in_channels", [1, 5])
@pytest.mark.parametrize("change", ["flatten3d", "unsqueeze", "scalar", "channels"])
@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("tu-test_resnet", "conv1.0.weight"),
        ("test_efficientnet", "conv_stem.weight"),
        ("test_convnext", "stem.0.weight"),
        ("test_vit", "patch_embed.proj.weight"),
    ],
)
def test_stem_timm_cannot_adapt_is_not_silently_random(
    name: str, key: str, change: str, in_channels: int, tmp_path: Path
) -> None:
    """timm re-initialises an input convolution it cannot adapt to in_channels, and only logs it."""
    state = _state(name.removeprefix("tu-"))
    state[key] = _reshape(state[key], change)
    path = _save(state, tmp_path / "stem.pth")
    if name == "test_vit" and change == "flatten3d":  # timm's ViT filter reshapes a flattened patch embedding
        seg_core.create_encoder(name, weights=path, in_channels=in_channels)
        return
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        seg_core.create_encoder(name, weights=path, in_channels=in_channels)


def test_adaptable_stems_still_load(tmp_path: Path) -> None:
    state = _state("test_vit")
    flat = dict(state, **{"patch_embed.proj.weight": state["patch_embed.proj.weight"].flatten(1)})  # timm reshapes it
    for variant in (state, flat):
        path = _save(variant, tmp_path / "vit.safetensors")
        for channels in (1, 3, 5):
            seg_core.create_encoder("test_vit", weights=path, in_channels=channels)
    resnet = _state("test_resnet")
    resnet["conv1.0.weight"] = _reshape(resnet["conv1.0.weight"], "channels")  # 4 input channels
    path = _save(resnet, tmp_path / "resnet.pth")
    with pytest.raises(CheckpointError, match=r"conv1.0.weight.*cannot be adapted to in_channels=5"):
        seg_core.create_encoder("test_resnet", weights=path, in_channels=5, weights_strict=False)  # shapes: always


def test_empty_file_never_falls_back_to_a_download(tmp_path: Path, no_timm_file_loading: list[str]) -> None:
    path = _save({}, tmp_path / "empty.safetensors")
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        seg_core.create_encoder("test_resnet", weights=path)
    only_other = _save({"unrelated.weight": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(CheckpointError, match="holds no tensor of the model.*unrelated.weight"):
        seg_core.create_encoder("test_resnet", weights=only_other, weights_strict=False)


def test_accepted_variants_of_the_right_file(tmp_path: Path) -> None:
    """Wrapper prefixes, a missing or resized classifier: still this architecture's weights."""
    state = _state("test_resnet")
    wrapped = _save({f"module.{k}": v for k, v in state.items()}, tmp_path / "ddp.pth")
    no_head = _save({k: v for k, v in state.items() if not k.startswith("fc.")}, tmp_path / "no_head.safetensors")
    ten = _save(_state("test_resnet", num_classes=10), tmp_path / "ten.safetensors")
    for path in (wrapped, no_head, ten):
        encoder = seg_core.create_encoder("test_resnet", weights=path)
        expected = state if path != ten else _state("test_resnet", num_classes=10)
        assert torch.equal(_timm_tensor(encoder, "layer1.0.conv1.weight"), expected["layer1.0.conv1.weight"])


# -- models built with a weights file can be saved -------------------------------------------------------


@pytest.mark.parametrize("form", [str, Path])
def test_model_built_from_a_file_saves_and_reloads(form: Any, tmp_path: Path) -> None:
    path = _save(_state("test_resnet"), tmp_path / "enc.safetensors")
    model = seg_core.create_model("unet", encoder_name="tu-test_resnet", encoder_depth=3, encoder_weights=form(path))
    model.save_pretrained(tmp_path / "run")
    config = read_config(tmp_path / "run")
    assert config["init_args"]["encoder_weights"] is None
    path.unlink()  # the reload must not read it again
    again = seg_core.from_pretrained(tmp_path / "run")
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key
