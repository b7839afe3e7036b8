"""Building architectures through seg-core's public API: declarations, shared arguments, identity, pluggy calls."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch import nn

import seg_core
from seg_core.building import MODEL_DEFAULTS, ModelArgs, resolve_model_args
from seg_core.errors import ConfigError, IncompatibleEncoderError
from seg_core.model import SegmentationModel
from seg_core.plugins import PluginManager
from seg_core.spec import ArchitectureSpec, Requirements, architecture

if TYPE_CHECKING:
    from typing_extensions import Unpack


@architecture(
    ArchitectureSpec(
        "third_party_seg",
        "A third-party architecture built only with public API",
        paper="none",
        aliases=("tps",),
        requires=Requirements(min_depth=2),
        encoder_defaults={"encoder_depth": 3},
    )
)
class ThirdPartySeg(SegmentationModel):
    def __init__(self, encoder_name: str = "basic_cnn", *, decoder_channels: int = 8, **kwargs: Unpack[ModelArgs]):
        super().__init__()
        encoder = self.build_encoder(encoder_name, kwargs)
        self.decoder = nn.Conv2d(encoder.out_channels[-1], decoder_channels, 1)
        self.decoder.forward = lambda features, conv=self.decoder: nn.Conv2d.forward(conv, features[-1])  # type: ignore[method-assign]
        self.build_heads(decoder_channels, kernel_size=1, output_level=encoder.depth)
        self.initialize()


@pytest.fixture
def registered(fresh_plugins: None) -> Any:
    reg = seg_core.get_registry("architectures")
    reg.add("third_party_seg", ThirdPartySeg, **ThirdPartySeg.spec.registry_info())  # type: ignore[union-attr]
    return reg


def test_shared_arguments_declared_once() -> None:
    assert set(MODEL_DEFAULTS) == set(ModelArgs.__annotations__)  # the TypedDict and its defaults agree
    args = resolve_model_args({"classes": 2}, owner="X", defaults={"encoder_depth": 3})
    assert args == {**MODEL_DEFAULTS, "classes": 2, "encoder_depth": 3}
    with pytest.raises(ConfigError, match=r"'clases' \(did you mean 'classes'"):
        resolve_model_args({"clases": 2}, owner="X")
    with pytest.raises(ConfigError, match="input_padding must be True or False"):
        resolve_model_args({"input_padding": 1}, owner="X")


def test_third_party_architecture_through_public_api(registered: Any, tmp_path: Any) -> None:
    model = seg_core.create_model("tps", classes=3)  # alias; depth 3 from encoder_defaults
    assert isinstance(model, ThirdPartySeg) and model.encoder.depth == 3
    assert model.architecture_name == "third_party_seg"
    assert model.config["encoder_depth"] == 3 and model.config["classes"] == 3  # complete config
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 3, 32, 32)
    model.save_pretrained(tmp_path / "m")
    again = seg_core.from_pretrained(tmp_path / "m")
    assert type(again) is ThirdPartySeg and again.load_report is not None and again.load_report.ok
    with pytest.raises(IncompatibleEncoderError, match="needs encoder_depth >= 2"):
        ThirdPartySeg(encoder_depth=1)


def test_encoder_strides_reach_the_encoder_and_the_saved_config(registered: Any, tmp_path: Any) -> None:
    strides = [(1, 2, 2), (2, 2, 2), (2, 2, 1)]
    model = seg_core.create_model(
        "tps", in_channels=1, classes=2, encoder_strides=strides, encoder_params={"spatial_dims": 3}
    )
    assert model.encoder.axis_reductions == [(1, 1, 1), (1, 2, 2), (2, 4, 4), (4, 8, 4)]
    assert model.config["encoder_strides"] == strides
    model.save_pretrained(tmp_path / "m")
    again = seg_core.from_pretrained(tmp_path / "m")
    assert again.encoder.axis_reductions == model.encoder.axis_reductions
    with pytest.raises(ConfigError, match="encoder_params must not repeat"):
        seg_core.create_model("tps", encoder_strides=strides, encoder_params={"strides": strides, "spatial_dims": 3})


def test_compatible_listing_reads_declared_requirements(registered: Any) -> None:
    listed = seg_core.list_encoders(compatible_with="third_party_seg")
    assert "basic_cnn" in listed


def test_identity_is_the_registry_name_of_the_class(registered: Any) -> None:
    reg = registered
    assert reg.name_of(ThirdPartySeg) == "third_party_seg"
    assert reg.name_of(nn.Conv2d) is None
    model = seg_core.create_model("third_party_seg")
    assert "_seg_registry_name" not in vars(model)
    encoder = model.encoder
    assert encoder.registry_name == "basic_cnn" and encoder.registry_source is not None
    assert encoder.registry_source.distribution == "seg-core"


def test_create_model_rejects_factories_that_build_no_model(fresh_plugins: None) -> None:
    seg_core.get_registry("architectures").add("not_a_model", lambda **kw: nn.Identity())
    with pytest.raises(seg_core.PluginError, match="not a seg_core.SegmentationModel"):
        seg_core.create_model("not_a_model")


HOOKS_FEWER_ARGS = {
    "lazy_seg_hooks": """
        from seg_core import hookimpl

        @hookimpl
        def seg_register_architectures():
            pass  # takes fewer arguments than its spec: pluggy allows it

        @hookimpl
        def seg_register_encoders(registry):
            registry.add("lazy_encoder", "seg_core.basic_encoder:BasicCNNEncoder")
    """
}


def test_hook_taking_fewer_arguments_than_its_spec_works(make_dist: Any) -> None:
    make_dist("lazy-seg", "1.0", {"lazy": "lazy_seg_hooks"}, HOOKS_FEWER_ARGS)
    manager = PluginManager(strict=True)
    plugin = next(p for p in manager.plugins() if p.name == "lazy")
    assert plugin.status == "loaded", plugin.error
    assert "lazy_encoder" in manager.registry("encoders")
