"""Aux / deep-supervision outputs (DeepLab, Unet++, FCN, BiSeNet, SFNet), and FCN / LRASPP / DeepLab heads against torchvision's."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from seg_core.errors import ConfigError

from ._realtime import build, n_params

#: Number of extra outputs at encoder depth 5 (FCN and DeepLab: the aux classifier; BiSeNet: two
#: auxiliary heads; SFNet and SFNet-Lite: one per top-down level of four; Unet++: X^{0,1..3}).
EXTRAS = {"fcn": 1, "deeplabv3": 1, "deeplabv3plus": 1, "bisenet": 2, "sfnet": 3, "sfnet_lite": 3, "unetplusplus": 3}
WITH_AUX = tuple(EXTRAS)


@pytest.mark.parametrize("arch", WITH_AUX)
def test_aux_outputs_in_training_mode_only(arch: str) -> None:
    model = build(arch, classes=3, deep_supervision=True)
    x = torch.randn(2, 3, 64, 64)
    out = model.train()(x)
    assert set(out) == {"out", "deep_supervision"}
    assert out["out"].shape == (2, 3, 64, 64)
    extras = out["deep_supervision"]
    assert len(extras) == EXTRAS[arch]
    assert all(t.shape[:2] == (2, 3) and t.shape[2] < 64 for t in extras)
    sizes = [t.shape[2] for t in extras]
    assert sizes == sorted(sizes, reverse=True)  # finest first
    sum(t.mean() for t in [out["out"], *extras]).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        plain = model(x)
        assert isinstance(plain, torch.Tensor) and plain.shape == (2, 3, 64, 64)
        model.return_aux = True
        again = model(x)
    assert set(again) == {"out", "deep_supervision"} and torch.allclose(again["out"], plain)


@pytest.mark.parametrize("arch", WITH_AUX)
def test_no_aux_parameters_without_deep_supervision(arch: str) -> None:
    model = build(arch)
    assert model.deep_supervision_heads is None and getattr(model.decoder, "aux", None) is None
    assert isinstance(model.train()(torch.randn(1, 3, 64, 64)), torch.Tensor)


def test_aux_outputs_feed_seg_train_deep_supervision_loss() -> None:
    losses = pytest.importorskip("seg_train.losses")
    from seg_train.losses.compose import DeepSupervisionLoss

    model = build("bisenet", classes=3, deep_supervision=True).train()
    loss = DeepSupervisionLoss(losses.CrossEntropyLoss(), weights={"out": 1.0, "deep_supervision": 0.4})
    value = loss(model(torch.randn(1, 3, 64, 64)), torch.randint(0, 3, (1, 64, 64)))
    assert set(loss.last) == {"out", "deep_supervision.0", "deep_supervision.1"}
    value.backward()


def test_unetplusplus_deep_supervision_outputs_are_the_nested_subnetworks() -> None:
    """X^{0,k} depends on encoder levels <= k + 1 only (the paper's pruning property)."""
    model = build("unetplusplus", 5, classes=2, deep_supervision=True).train()
    x = torch.randn(1, 3, 64, 64)
    extras = model(x)["deep_supervision"]
    assert [tuple(t.shape[2:]) for t in extras] == [(32, 32)] * 3  # level 1: stride 2
    for k, logits in enumerate(extras, start=1):
        model.zero_grad()
        logits.sum().backward(retain_graph=True)
        reached = [
            any(p.grad is not None and p.grad.abs().sum() > 0 for p in stage.parameters())
            for stage in model.encoder.stages
        ]
        assert reached == [level <= k + 1 for level in range(1, len(reached) + 1)], (k, reached)


def test_unetplusplus_deep_supervision_needs_a_level_one_map() -> None:
    with pytest.raises(ConfigError, match="deep_supervision"):
        build("unetplusplus", 4, encoder_name="basic_cnn_s4", deep_supervision=True)


@pytest.mark.parametrize("arch", ["deeplabv3", "deeplabv3plus"])
def test_deeplab_aux_classifier_matches_torchvision(arch: str) -> None:
    fcn = pytest.importorskip("torchvision.models.segmentation.fcn")
    model = build(arch, classes=5, deep_supervision=True)
    above = model.encoder.out_channels[-2]
    aux = n_params(model.decoder.aux) + n_params(model.deep_supervision_heads)
    assert aux == n_params(fcn.FCNHead(above, 5))  # torchvision's DeepLabV3 aux_classifier
    plain = build(arch, classes=5)
    assert n_params(plain) == n_params(model) - aux  # the default model (smp's) is unchanged


def test_fcn_head_matches_torchvision() -> None:
    fcn = pytest.importorskip("torchvision.models.segmentation.fcn")
    model = build("fcn", classes=5, deep_supervision=True)
    deepest, above = model.encoder.out_channels[-1], model.encoder.out_channels[-2]
    ours = n_params(model.decoder.head) + n_params(model.segmentation_head)
    assert ours == n_params(fcn.FCNHead(deepest, 5))
    aux = n_params(model.decoder.aux) + n_params(model.deep_supervision_heads)
    assert aux == n_params(fcn.FCNHead(above, 5))


def test_fcn_head_matches_torchvision_numerically() -> None:
    fcn = pytest.importorskip("torchvision.models.segmentation.fcn")
    model = build("fcn", classes=4).eval()
    reference = fcn.FCNHead(model.encoder.out_channels[-1], 4).eval()
    ours = [*model.decoder.head.parameters(), *model.segmentation_head.parameters()]
    assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in reference.parameters()]
    with torch.no_grad():
        for mine, theirs in zip(ours, reference.parameters()):
            theirs.copy_(mine)
        feature = torch.randn(1, model.encoder.out_channels[-1], 4, 4)
        head: Any = model.segmentation_head
        expected = reference(feature)
        got = head[0](model.decoder.head(feature))  # the head's conv, before its upsampling
    assert torch.allclose(got, expected, atol=1e-5)


def test_lraspp_head_matches_torchvision() -> None:
    lraspp = pytest.importorskip("torchvision.models.segmentation.lraspp")
    model = build("lraspp", classes=5, decoder_channels=16)
    channels = model.encoder.out_channels
    reference = lraspp.LRASPPHead(channels[-3], channels[-1], 5, 16)
    ours = n_params(model.decoder) + n_params(model.segmentation_head)
    # torchvision's low_classifier(low) + high_classifier(high) has two biases; seg's single 1x1
    # head on the concatenation computes the same function with one.
    assert ours == n_params(reference) - 5


def test_lraspp_equals_torchvision_function() -> None:
    lraspp = pytest.importorskip("torchvision.models.segmentation.lraspp")
    # output stride 8: the low and high maps have the same size, so no interpolation (whose
    # align_corners convention differs) enters the comparison
    model = build("lraspp", classes=3, decoder_channels=8, encoder_output_stride=8).eval()
    channels = model.encoder.out_channels
    low = channels[-3]
    ref = lraspp.LRASPPHead(low, channels[-1], 3, 8).eval()
    head_conv: Any = model.segmentation_head[0]
    with torch.no_grad():
        ref.cbr[0].weight.copy_(model.decoder.cbr[0].weight)
        ref.scale[1].weight.copy_(model.decoder.scale[1].weight)
        ref.low_classifier.weight.copy_(head_conv.weight[:, :low])
        ref.high_classifier.weight.copy_(head_conv.weight[:, low:])
        ref.low_classifier.bias.copy_(head_conv.bias)
        ref.high_classifier.bias.zero_()
        features = model.encoder(torch.randn(2, 3, 64, 64))
        assert features[-1].shape[2:] == features[-3].shape[2:]
        expected = ref({"low": features[-3], "high": features[-1]})
        got = head_conv(model.decoder(features))
    assert torch.allclose(got, expected, atol=1e-5)
