"""seg train: losses, optimizers, metrics, trainer, loggers, TTA and sliding-window inference"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
