"""The training config: schema, loading with ``--set`` overrides, validation, and its reference page.

Example:
    >>> from seg_train.config import parse_config
    >>> parse_config({"trainer": {"epochs": 1}}).trainer.epochs
    1
"""

from __future__ import annotations

from seg_train.config.schema import Config
from seg_train.config.validate import apply_overrides, load_config, parse_config

__all__ = ["Config", "apply_overrides", "load_config", "parse_config"]
