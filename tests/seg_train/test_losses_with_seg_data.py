"""seg-data's metadata and class weights feed seg-train's losses and metrics (public API only)."""

from __future__ import annotations

import pytest
import torch

from seg_data import compute_class_weights, create_dataset
from seg_train import create_loss, create_metric
from seg_train.testing import check_loss


@pytest.mark.parametrize("name", ["cross_entropy", "dice", "focal", "lovasz", "generalized_dice"])
def test_dataset_weights_and_ignore_index_drive_a_loss(name) -> None:
    ds = create_dataset("synthetic", num_samples=4, size=32, num_classes=3)
    meta = ds.metadata
    weight = compute_class_weights(ds, "inverse_sqrt")
    before = weight.clone()
    options = {"ignore_index": meta.ignore_index, "weight": weight}
    if name != "cross_entropy":
        options["mode"] = "multiclass"
    loss = create_loss(name, **options)
    _, mask = ds[0]
    logits = torch.randn(1, meta.num_classes, *mask.shape)
    target = mask.unsqueeze(0).clone()
    target[..., :4, :] = meta.ignore_index  # the dataset's own ignore value
    assert torch.isfinite(loss(logits, target))
    assert torch.equal(weight, before)
    check_loss(loss)


def test_metric_reads_the_same_metadata() -> None:
    ds = create_dataset("synthetic", num_samples=2, size=32, num_classes=3)
    meta = ds.metadata
    metric = create_metric("segmentation", num_classes=meta.num_classes, ignore_index=meta.ignore_index)
    _, mask = ds[0]
    metric.update(mask.unsqueeze(0), mask.unsqueeze(0))
    assert metric.compute()["accuracy"] == 1.0
