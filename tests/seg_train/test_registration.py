"""seg-train's hook module registers everything it provides, and nothing it doesn't."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
import torch
from torch import nn

import seg_train.losses as losses_module
from seg_core import get_registry
from seg_train import _plugin
from seg_train.losses import SegLoss


@pytest.mark.parametrize("kind", ["losses", "optimizers", "schedulers", "metrics"])
def test_every_registered_target_resolves(kind) -> None:
    reg = get_registry(kind)
    for name in reg.names():
        if reg.source(name).distribution == "seg-train":
            assert callable(reg.get(name)), name


def test_every_public_loss_class_is_registered_under_its_smp_name() -> None:
    reg = get_registry("losses")
    classes = [
        getattr(losses_module, n)
        for n in losses_module.__all__
        if inspect.isclass(getattr(losses_module, n))
        and issubclass(getattr(losses_module, n), nn.Module)
        and getattr(losses_module, n) is not SegLoss
        and n != "WeightedSum"
    ]
    from seg_train.losses.compose import deep_supervision

    config_factories = {"DeepSupervisionLoss": deep_supervision}  # built from a config table
    assert len(classes) == 11
    for cls in classes:
        assert reg.get(cls.__name__) is config_factories.get(cls.__name__, cls), cls.__name__


def test_torch_optimizers_table_is_every_optimizer_of_the_installed_torch() -> None:
    installed = {
        n
        for n, v in vars(torch.optim).items()
        if inspect.isclass(v) and issubclass(v, torch.optim.Optimizer) and v is not torch.optim.Optimizer
    }
    assert installed == set(_plugin.TORCH_OPTIMIZERS)


def test_torch_schedulers_table_is_every_scheduler_of_the_installed_torch() -> None:
    sched = torch.optim.lr_scheduler
    installed = {
        n
        for n, v in vars(sched).items()
        if inspect.isclass(v)
        and not n.startswith("_")
        and n != "LRScheduler"
        and (issubclass(v, sched.LRScheduler) or n == "ReduceLROnPlateau")
    }
    assert installed == set(_plugin.TORCH_SCHEDULERS)


def test_names_ignore_case_and_smp_aliases_work() -> None:
    reg = get_registry("losses")
    assert reg.get("DiceLoss") is reg.get("dice")
    assert get_registry("optimizers").get("adamw") is torch.optim.AdamW
    assert get_registry("schedulers").get("poly").__name__ == "WarmupPolyLR"


def test_listing_names_imports_no_torch() -> None:
    code = (
        "import sys; from seg_core import get_registry\n"
        "names = [n for k in ('losses', 'optimizers', 'schedulers', 'metrics') for n in get_registry(k).names()]\n"
        "assert 'dice' in names and 'AdamW' in names and 'segmentation' in names, names\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_seg_list_shows_the_new_kinds() -> None:
    out = subprocess.run([sys.executable, "-m", "seg_core.cli", "list", "metrics"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "hausdorff95" in out.stdout and "segmentation" in out.stdout
