"""A Unet with deep supervision trains with seg-train's deep_supervision loss (nnU-Net style, 3D)."""

from __future__ import annotations

import torch

import seg_core
from seg_train.losses import CrossEntropyLoss, DeepSupervisionLoss


def test_unet_deep_supervision_outputs_feed_the_loss() -> None:
    torch.manual_seed(0)
    model = seg_core.create_model(
        "unet", in_channels=1, classes=3, encoder_depth=3, decoder_channels=[16, 8, 4], deep_supervision=True,
        encoder_strides=[(1, 2, 2), (2, 2, 2), (2, 2, 2)], encoder_params={"spatial_dims": 3},
    )  # fmt: skip
    x, target = torch.randn(2, 1, 8, 16, 16), torch.randint(0, 3, (2, 8, 16, 16))
    weights = {"out": 1.0, "deep_supervision.0": 0.5, "deep_supervision.1": 0.25}
    loss = DeepSupervisionLoss(CrossEntropyLoss(), weights=weights, resize="target")
    outputs = model.train()(x)
    value = loss(outputs, target)
    ce = CrossEntropyLoss()
    expected = ce(outputs["out"], target)
    for i, w in ((0, 0.5), (1, 0.25)):
        extra = outputs["deep_supervision"][i]
        small = torch.nn.functional.interpolate(target[:, None].float(), size=extra.shape[2:], mode="nearest-exact")
        expected = expected + w * ce(extra, small[:, 0].long())
    torch.testing.assert_close(value, expected)
    value.backward()
    assert all(h.weight.grad is not None and h.weight.grad.abs().sum() > 0 for h in model.deep_supervision_heads)
