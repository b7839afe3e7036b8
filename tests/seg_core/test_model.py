from __future__ import annotations

import json
import warnings

import pytest
import torch

import seg_core
from seg_core.errors import CheckpointError, ConfigError, InputShapeError, UnknownNameError

from ._tiny_arch import TinyArch


@pytest.fixture
def arch(fresh_plugins):
    seg_core.get_registry("architectures").add("tiny_arch", TinyArch)
    return "tiny_arch"


def test_forward_returns_masks_or_masks_and_labels(arch) -> None:
    model = seg_core.create_model(arch, classes=4)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 4, 32, 32)
    model = seg_core.create_model(arch, classes=4, aux_params={"classes": 5, "dropout": 0.0})
    masks, labels = model(torch.randn(2, 3, 32, 32))
    assert masks.shape == (2, 4, 32, 32) and labels.shape == (2, 5)


def test_input_shape_error_names_nearest_padded_size(arch) -> None:
    model = seg_core.create_model(arch)
    with pytest.raises(InputShapeError) as err:
        model(torch.randn(1, 3, 30, 45))
    text = str(err.value)
    assert "height=30, width=45" in text and "divisible by 8" in text and "(32, 48)" in text
    assert "pad=True" in text and "faq/#input-size-not-divisible-by-32" in text
    with pytest.raises(InputShapeError, match="input has 1 channels but the model was built with in_channels=3"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(InputShapeError, match=r"expected a 4D input \(N, C, H, W\)"):
        model(torch.randn(3, 32, 32))


def test_predict_pads_restores_mode_and_uses_inference(arch) -> None:
    model = seg_core.create_model(arch, classes=2).train()
    out = model.predict(torch.randn(1, 3, 30, 45), pad=True)
    assert out.shape == (1, 2, 30, 45)
    assert model.training
    assert not out.requires_grad
    model.eval()
    model.predict(torch.randn(1, 3, 32, 32))
    assert not model.training


def test_input_padding_option_in_forward(arch) -> None:
    model = seg_core.create_model(arch, classes=2)
    model.input_padding = True
    assert model(torch.randn(1, 3, 17, 9)).shape == (1, 2, 17, 9)


def test_freeze_encoder_survives_train(arch) -> None:
    model = seg_core.create_model(arch)
    model.freeze_encoder()
    model.train()
    norms = [m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(not m.training for m in norms)
    stats = norms[0].running_mean.clone()
    model(torch.randn(2, 3, 32, 32) * 5 + 3).mean().backward()
    torch.testing.assert_close(norms[0].running_mean, stats)
    assert all(p.grad is None for p in model.encoder.parameters())
    assert any(p.grad is not None for p in model.decoder.parameters())
    model.unfreeze_encoder()
    assert all(m.training for m in norms) and all(p.requires_grad for p in model.encoder.parameters())


def test_unknown_kwargs_are_errors(arch) -> None:
    with pytest.raises(
        ConfigError,
        match=r"architecture 'tiny_arch' got unexpected argument\(s\) 'clases' \(did you mean 'classes'\?\)",
    ):
        seg_core.create_model(arch, clases=3)
    with pytest.raises(ConfigError, match="encoder 'basic_cnn' got unexpected argument"):
        seg_core.create_model(arch, encoder_params={"wdths": [8]})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"classes": 0}, "classes must be >= 1"),
        ({"in_channels": 0}, "in_channels must be an int >= 1"),
        ({"encoder_depth": 0}, "encoder_depth must be an int >= 1"),
        ({"activation": "relu6"}, "unknown activation 'relu6'"),
        ({"aux_params": {"classes": 2, "pooling": "gem"}}, "pooling must be 'avg' or 'max'"),
        ({"aux_params": {"clases": 2}}, "unknown aux_params keys"),
        ({"encoder_params": {"depth": 2}}, "encoder_params must not repeat"),
    ],
)
def test_construction_errors_name_the_argument(arch, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        seg_core.create_model(arch, **kwargs)


def test_unknown_architecture_hint(fresh_plugins, monkeypatch) -> None:
    """With seg-decoders absent or disabled, its names get the right hint and others get none."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = bool(version("seg-decoders"))
    except PackageNotFoundError:
        installed = False
    monkeypatch.setenv("SEG_DISABLED_PLUGINS", "seg-decoders")
    with pytest.raises(UnknownNameError) as err:
        seg_core.create_model("pspnet")
    expected = "which is installed but disabled" if installed else "pip install ./packages/seg-decoders"
    assert err.value.install_hint is not None and "provided by seg-decoders" in err.value.install_hint
    assert expected in str(err.value) and ("pip install" not in str(err.value)) == installed
    with pytest.raises(UnknownNameError) as err:
        seg_core.create_model("maskformer")  # nobody provides it: no false claim
    assert err.value.install_hint is None and "provided by" not in str(err.value)


def test_save_load_round_trip_gives_identical_outputs(arch, tmp_path) -> None:
    torch.manual_seed(0)
    model = seg_core.create_model(arch, classes=3, activation="softmax").eval()
    model.save_pretrained(tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["architecture"] == "tiny_arch" and config["format_version"] == 1
    assert config["init_args"]["classes"] == 3 and config["init_args"]["encoder_weights"] is None
    assert config["plugins"]["encoder"] == {
        "name": "basic_cnn",
        "distribution": "seg-core",
        "version": seg_core.__version__,
    }
    loaded = seg_core.from_pretrained(tmp_path / "run").eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert loaded.load_report.ok
    assert not list(tmp_path.joinpath("run").glob("*.tmp"))  # atomic writes leave nothing behind


def test_reload_never_downloads_encoder_weights(arch, tmp_path) -> None:
    from seg_core._safetensors import save_bytes
    from seg_core.basic_encoder import BasicCNNEncoder

    weights = tmp_path / "enc.safetensors"
    weights.write_bytes(save_bytes(BasicCNNEncoder(depth=3).state_dict()))
    model = seg_core.create_model(arch, encoder_weights=str(weights))
    model.save_pretrained(tmp_path / "run")
    weights.unlink()  # if from_pretrained tried to load encoder weights again it would fail
    seg_core.from_pretrained(tmp_path / "run")


def test_changed_head_size_strict_reports_size_mismatch(arch, tmp_path) -> None:
    seg_core.create_model(arch, classes=3).save_pretrained(tmp_path / "run")
    with pytest.raises(
        CheckpointError,
        match=r"size mismatch for segmentation_head.0.weight: file has \[3, 8, 3, 3\], model has \[5, 8, 3, 3\]",
    ):
        seg_core.from_pretrained(tmp_path / "run", classes=5)
    with pytest.warns(UserWarning, match="re-initialised keys.*segmentation_head.0.bias, segmentation_head.0.weight"):
        model = seg_core.from_pretrained(tmp_path / "run", classes=5, strict=False)
    assert model.load_report.reinitialized == ["segmentation_head.0.bias", "segmentation_head.0.weight"]
    assert model(torch.randn(1, 3, 32, 32)).shape[1] == 5


def test_corrupt_files_are_named(arch, tmp_path) -> None:
    run = tmp_path / "run"
    seg_core.create_model(arch).save_pretrained(run)
    weights = run / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"model.safetensors is not a valid safetensors file"):
        seg_core.from_pretrained(run)
    (run / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config.json is corrupt"):
        seg_core.from_pretrained(run)
    with pytest.raises(CheckpointError, match="does not exist"):
        seg_core.from_pretrained(tmp_path / "missing")


def test_newer_format_version_is_rejected(arch, tmp_path) -> None:
    run = tmp_path / "run"
    seg_core.create_model(arch).save_pretrained(run)
    config = json.loads((run / "config.json").read_text())
    config["format_version"] = 99
    (run / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="format_version 99, newer than"):
        seg_core.from_pretrained(run)


def test_pth_weights_use_weights_only(arch, tmp_path) -> None:
    run = tmp_path / "run"
    model = seg_core.create_model(arch)
    model.save_pretrained(run)
    (run / "model.safetensors").unlink()
    torch.save({"state_dict": model.state_dict()}, run / "pytorch_model.bin")
    seg_core.from_pretrained(run)
    torch.save({"evil": _Unpicklable()}, run / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"pytorch_model.bin with torch.load\(weights_only=True\)"):
        seg_core.from_pretrained(run)


class _Unpicklable:
    """Arbitrary objects must never be unpickled."""


def test_unregistered_model_cannot_be_saved(tmp_path, fresh_plugins) -> None:
    model = TinyArch()
    with pytest.raises(ConfigError, match="is not a registered architecture"):
        model.save_pretrained(tmp_path)


def test_module_instances_in_config_are_refused(arch, tmp_path) -> None:
    model = seg_core.create_model(arch, activation=torch.nn.Sigmoid())
    with pytest.raises(ConfigError, match="cannot save argument activation=Sigmoid"):
        model.save_pretrained(tmp_path)


def test_missing_plugin_for_saved_model_names_distribution(arch, tmp_path) -> None:
    run = tmp_path / "run"
    seg_core.create_model(arch).save_pretrained(run)
    config = json.loads((run / "config.json").read_text())
    config["architecture"] = "fancy_arch"
    config["plugins"]["architecture"] = {"name": "fancy_arch", "distribution": "fancy-seg", "version": "9.9"}
    (run / "config.json").write_text(json.dumps(config))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(UnknownNameError, match="fancy-seg==9.9"):
            seg_core.from_pretrained(run)


def test_architecture_conformance(arch) -> None:
    from seg_core.testing import check_architecture

    report = check_architecture(arch, depths=(2, 3), input_size=32, check_export=True)
    assert "save_pretrained/from_pretrained round trip" in report.checks
    assert "torch.export" in report.checks


def test_conformance_kit_can_fail(arch) -> None:
    from seg_core.testing.conformance import ConformanceError, check_encoder

    def lying(**kwargs):
        enc = seg_core.create_encoder("basic_cnn", **kwargs)
        enc._out_channels = [3, 99, 99, 99, 99, 99]
        return enc

    with pytest.raises(ConformanceError, match="level 1 has 16 channels but out_channels says 99"):
        check_encoder(lying, check_compile=False, check_export=False)


def test_check_encoder_uses_fixed_input_size_and_encoder_kwargs() -> None:
    from seg_core.basic_encoder import BasicCNNEncoder
    from seg_core.testing import check_encoder

    class Fixed(BasicCNNEncoder):
        def __init__(self, *, depths=None, **kwargs):
            assert depths == (1, 1), "encoder_kwargs must reach the factory even when names clash"
            super().__init__(**kwargs)
            self._fixed_input_size = (96, 96)

        def forward(self, x):
            assert tuple(x.shape[2:]) == (96, 96), "the declared fixed input size must be used"
            return super().forward(x)

    report = check_encoder(Fixed, encoder_kwargs={"depths": (1, 1)}, check_compile=False, check_export=False)
    assert report.checks


def test_encoder_declared_divisor_and_min_size_reach_the_model(arch) -> None:
    model = seg_core.create_model(arch, encoder_depth=2, classes=2)
    assert model.input_divisor == (4, 4)
    model.encoder._input_divisor = 6  # e.g. a patch size: combined with the output stride 4 -> 12
    model.encoder._min_input_size = (24, 36)
    assert model.encoder.input_divisor == (12, 12) and model.input_divisor == (12, 12)
    assert model.encoder.capabilities.input_divisor == (12, 12)
    with pytest.raises(InputShapeError, match=r"divisible by 12 .*Pad the input to \(24, 48\)"):
        model(torch.randn(1, 3, 24, 40))
    with pytest.raises(InputShapeError, match="needs height >= 24, width >= 36"):
        model(torch.randn(1, 3, 12, 12))
    assert model.predict(torch.randn(1, 3, 13, 7), pad=True).shape == (1, 2, 13, 7)
    type(model).requires_divisible_input_shape = False  # a decoder that takes any size...
    try:
        with pytest.raises(InputShapeError, match="divisible by 6"):  # ...still needs the encoder's own divisor
            model(torch.randn(1, 3, 28, 40))
    finally:
        type(model).requires_divisible_input_shape = True
