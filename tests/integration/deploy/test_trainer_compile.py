"""The trainer's ``compile`` option runs the model through torch.compile (inductor), here with the deploy tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from seg_train import Trainer, create_loss


def test_compiled_training_matches_eager() -> None:
    def run(compile: bool) -> list[float]:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 1))
        images = torch.rand(8, 3, 16, 16)
        data = TensorDataset(images, (images[:, 0] * 3).long().clamp(max=2))
        trainer = Trainer(
            model,
            create_loss("cross_entropy"),
            torch.optim.SGD(model.parameters(), lr=0.1),
            train_loader=DataLoader(data, batch_size=4),
            device="cpu",
            epochs=2,
            compile=compile,
            export_best=False,
        )
        return [record["train/loss"] for record in trainer.fit()]

    eager, compiled = run(False), run(True)
    assert compiled == pytest.approx(eager, rel=1e-4)
