"""Training loggers: objects implementing the training events of `seg_train.hookspecs`.

``local`` (always on) writes metrics, curves, confusion matrices and snapshots into the run
folder; ``tensorboard``, ``wandb`` and ``mlflow`` need their extras
(``pip install "./packages/seg-train[wandb]"`` from a seg checkout) and import them only when
constructed. The trainer builds the loggers the config enables (``[logging] loggers = [...]``,
options in ``[logging.<name>]``) from the ``loggers`` registry.

Example:
    >>> from seg_train.loggers import LocalLogger
    >>> LocalLogger(snapshots=0, plots=False).plots
    False
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from seg_core.lazy import lazy_exports

_LAZY: dict[str, str] = {
    "LocalLogger": "seg_train.loggers.local",
    "TensorBoardLogger": "seg_train.loggers.tensorboard",
    "WandbLogger": "seg_train.loggers.wandb",
    "MLflowLogger": "seg_train.loggers.mlflow",
    "confusion_png": "seg_train.loggers.plots",
    "curves_png": "seg_train.loggers.plots",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

if TYPE_CHECKING:
    from seg_train.loggers.local import LocalLogger
    from seg_train.loggers.mlflow import MLflowLogger
    from seg_train.loggers.plots import confusion_png, curves_png
    from seg_train.loggers.tensorboard import TensorBoardLogger
    from seg_train.loggers.wandb import WandbLogger
