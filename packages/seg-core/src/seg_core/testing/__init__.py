"""Conformance kit for plugin authors: ``check_encoder`` and ``check_architecture``.

Call these from your plugin's own tests; seg runs them over every registered
encoder family and architecture.

Example:
    >>> from seg_core.testing import check_encoder
    >>> check_encoder("my_encoder")  # doctest: +SKIP
"""

from seg_core.testing.conformance import (
    ArchitectureReport,
    EncoderReport,
    check_architecture,
    check_encoder,
)
from seg_core.testing.distributions import write_distribution

__all__ = ["ArchitectureReport", "EncoderReport", "check_architecture", "check_encoder", "write_distribution"]
