"""Parameter groups on a real (tiny) seg model: encoder/decoder rates, no-decay groups, frozen encoders."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from seg_core.errors import ConfigError
from seg_train.optim.padam import Padam
from seg_train.optim.param_groups import freeze_encoder, is_no_decay, param_groups

from ._tiny import TinySeg


def _model() -> TinySeg:
    torch.manual_seed(0)
    return TinySeg()


def _names(model: nn.Module, groups: list[dict[str, Any]]) -> dict[str, set[str]]:
    by_id = {id(p): name for name, p in model.named_parameters()}
    return {group["name"]: {by_id[id(p)] for p in group["params"]} for group in groups}


def _assert_partition(model: nn.Module, groups: list[dict[str, Any]]) -> None:
    grouped = [id(p) for group in groups for p in group["params"]]
    trainable = [id(p) for p in model.parameters() if p.requires_grad]
    assert len(grouped) == len(set(grouped)), "a parameter is in two groups"
    assert sorted(grouped) == sorted(trainable)
    assert all(group["params"] for group in groups), "an empty group"


def test_default_groups_encoder_and_decoder() -> None:
    model = _model()
    groups = param_groups(model, lr=0.01, weight_decay=1e-4)
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in groups] == [
        ("encoder", 0.01, 1e-4),
        ("decoder", 0.01, 1e-4),
    ]
    _assert_partition(model, groups)
    names = _names(model, groups)
    assert all(name.startswith("encoder.") for name in names["encoder"])
    assert {"segmentation_head.0.weight", "decoder.norm.weight"} <= names["decoder"]


def test_encoder_rates_and_no_decay_groups() -> None:
    model = _model()
    groups = param_groups(
        model, lr=0.01, weight_decay=1e-4, encoder_lr=1e-3, encoder_weight_decay=5e-4, no_decay_norm_bias=True
    )
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in groups] == [
        ("encoder", 1e-3, 5e-4),
        ("encoder_no_decay", 1e-3, 0.0),
        ("decoder", 0.01, 1e-4),
        ("decoder_no_decay", 0.01, 0.0),
    ]
    _assert_partition(model, groups)
    names = _names(model, groups)
    # Weights of convolutions decay; norms (BatchNorm, GroupNorm) and biases do not.
    assert all(
        name.endswith("weight") and model.get_parameter(name).ndim > 1 for name in names["encoder"] | names["decoder"]
    )
    assert {"decoder.norm.weight", "decoder.norm.bias", "decoder.gn.weight", "decoder.gn.bias"} <= names[
        "decoder_no_decay"
    ]
    assert {"decoder.proj.0.bias", "segmentation_head.0.bias"} <= names["decoder_no_decay"]
    assert names["encoder_no_decay"] and all(".bias" in n or "weight" in n for n in names["encoder_no_decay"])
    assert not any(isinstance(model.get_submodule(n.rsplit(".", 1)[0]), nn.BatchNorm2d) for n in names["encoder"])


def test_groups_work_with_torch_optimizers_and_padam() -> None:
    for make in (
        lambda g: torch.optim.SGD(g, lr=0.1, momentum=0.9),
        lambda g: torch.optim.AdamW(g, lr=0.1),
        lambda g: Padam(g, lr=0.1),
    ):
        model = _model()
        optimizer = make(param_groups(model, lr=0.02, encoder_lr=0.002, weight_decay=0.01, no_decay_norm_bias=True))
        assert [g["lr"] for g in optimizer.param_groups] == [0.002, 0.002, 0.02, 0.02]
        assert optimizer.param_groups[0]["name"] == "encoder"
        model(torch.randn(2, 3, 16, 16)).mean().backward()
        optimizer.step()


def test_encoder_freeze_freezes_weights_and_norm_statistics() -> None:
    control = _model().train()  # without freezing, a forward in train mode updates the statistics
    before = control.encoder.stages[0][1].running_mean.clone()
    control(torch.randn(2, 3, 16, 16))
    assert not torch.equal(control.encoder.stages[0][1].running_mean, before)

    model = _model()
    groups = param_groups(model, lr=0.1, encoder_freeze=True, no_decay_norm_bias=True)
    assert model.encoder_frozen
    assert [g["name"] for g in groups] == ["decoder", "decoder_no_decay"]
    _assert_partition(model, groups)
    encoder_ids = {id(p) for p in model.encoder.parameters()}
    assert not encoder_ids & {id(p) for g in groups for p in g["params"]}

    model.train()
    encoder_state = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    decoder_stats = model.decoder.norm.running_mean.clone()
    others = {name: p.detach().clone() for name, p in model.named_parameters() if not name.startswith("encoder.")}
    optimizer = torch.optim.SGD(groups, lr=0.1)
    model(torch.randn(2, 3, 16, 16)).square().mean().backward()
    optimizer.step()

    assert all(p.grad is None for p in model.encoder.parameters())
    for key, value in model.encoder.state_dict().items():  # weights and BatchNorm running stats
        assert torch.equal(value, encoder_state[key]), key
    assert not torch.equal(model.decoder.norm.running_mean, decoder_stats)  # the decoder's norms still train
    changed = [name for name, p in model.named_parameters() if name in others and not torch.equal(p, others[name])]
    assert "segmentation_head.0.weight" in changed and "decoder.proj.0.weight" in changed


def test_untrainable_parameters_are_left_out() -> None:
    model = _model()
    model.segmentation_head[0].bias.requires_grad_(False)
    groups = param_groups(model, lr=0.1)
    _assert_partition(model, groups)
    assert "segmentation_head.0.bias" not in set().union(*_names(model, groups).values())


def test_already_frozen_encoder_gets_no_group() -> None:
    model = _model()
    model.freeze_encoder()
    groups = param_groups(model, lr=0.1, encoder_lr=0.01)
    assert [g["name"] for g in groups] == ["decoder"]
    _assert_partition(model, groups)


def test_model_without_encoder_goes_to_the_decoder_groups() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 2, 1))
    groups = param_groups(model, lr=0.1, weight_decay=0.01, no_decay_norm_bias=True)
    assert [g["name"] for g in groups] == ["decoder", "decoder_no_decay"]
    assert _names(model, groups) == {
        "decoder": {"0.weight", "2.weight"},
        "decoder_no_decay": {"0.bias", "1.weight", "1.bias", "2.bias"},
    }


def test_shared_parameters_appear_once() -> None:
    model = nn.Module()
    model.encoder = nn.Linear(4, 4)
    model.head = nn.Linear(4, 4)
    model.head.weight = model.encoder.weight
    groups = param_groups(model, lr=0.1, no_decay_norm_bias=True)
    _assert_partition(model, groups)
    assert [len(g["params"]) for g in groups] == [1, 1, 1]  # shared weight in "encoder" only


def test_timm_style_no_weight_decay_names_are_honoured() -> None:
    class Embed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pos_embed = nn.Parameter(torch.zeros(1, 4, 8))
            self.proj = nn.Linear(8, 8)

        def no_weight_decay(self) -> set[str]:
            return {"pos_embed"}

    model = nn.Module()
    model.encoder = Embed()
    groups = param_groups(model, lr=0.1, weight_decay=0.05, no_decay_norm_bias=True)
    assert _names(model, groups) == {
        "encoder": {"encoder.proj.weight"},
        "encoder_no_decay": {"encoder.pos_embed", "encoder.proj.bias"},
    }


def test_fallback_freeze_without_freeze_encoder_method() -> None:
    model = nn.Module()
    model.encoder = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    model.head = nn.Conv2d(4, 2, 1)
    model.train()
    groups = param_groups(model, lr=0.1, encoder_freeze=True)
    assert [g["name"] for g in groups] == ["decoder"]
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert not model.encoder[1].training and model.head.training


def test_freeze_encoder_helper_uses_the_model_method() -> None:
    model = _model()
    freeze_encoder(model)
    assert model.encoder_frozen
    model.train()
    assert not any(m.training for m in model.encoder.modules() if isinstance(m, nn.BatchNorm2d))


def test_is_no_decay_rule() -> None:
    conv, norm, ln = nn.Conv2d(3, 4, 3), nn.InstanceNorm2d(4, affine=True), nn.LayerNorm([4, 5])

    class ChannelNorm2d(nn.Module):  # a custom norm, recognised by its class name
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(1, 4, 1, 1))

    custom = ChannelNorm2d()
    assert not is_no_decay(conv, "weight", conv.weight)
    assert is_no_decay(conv, "bias", conv.bias)
    assert is_no_decay(norm, "weight", norm.weight)
    assert is_no_decay(ln, "weight", ln.weight)  # 2-D, but a norm's
    assert is_no_decay(custom, "weight", custom.weight)
    scale = nn.Parameter(torch.ones(4))
    assert is_no_decay(nn.Module(), "gamma", scale)  # 1-D (layer scale)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"lr": -0.1}, r"param_groups lr must be a finite number >= 0, got -0.1"),
        ({"lr": 0.1, "weight_decay": float("inf")}, r"weight_decay must be a finite number >= 0"),
        ({"lr": 0.1, "encoder_lr": -1.0}, r"encoder_lr must be a finite number >= 0 or None"),
        ({"lr": 0.1, "encoder_weight_decay": "0.1"}, r"encoder_weight_decay must be a finite number >= 0 or None"),
    ],
)
def test_invalid_rates(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        param_groups(_model(), **options)
    assert isinstance(info.value, ValueError)


def test_encoder_options_need_an_encoder() -> None:
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ConfigError, match=r"encoder_freeze=True needs a model with an `encoder` submodule.*Sequential"):
        param_groups(model, lr=0.1, encoder_freeze=True)
    with pytest.raises(ConfigError, match=r"encoder_lr applies to `model.encoder`.*drop encoder_lr"):
        param_groups(model, lr=0.1, encoder_lr=0.01)
    with pytest.raises(ConfigError, match=r"drop encoder_weight_decay"):
        param_groups(model, lr=0.1, encoder_weight_decay=0.01)
    assert all(p.requires_grad for p in model.parameters())


def test_no_trainable_parameter_is_an_error() -> None:
    model = nn.Module()
    model.encoder = nn.Linear(2, 2)
    with pytest.raises(ConfigError, match=r"no trainable parameter.*encoder_freeze=True"):
        param_groups(model, lr=0.1, encoder_freeze=True)
