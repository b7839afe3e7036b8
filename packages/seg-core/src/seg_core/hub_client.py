"""The optional ``huggingface_hub`` client (the ``hub`` extra), imported only when it is needed."""

from __future__ import annotations

from types import ModuleType

from seg_core.errors import ConfigError

__all__ = ["INSTALL_HINT", "import_huggingface_hub"]

#: How to install the optional ``hub`` extra (shown by every error about a missing ``huggingface_hub``).
INSTALL_HINT = "pip install './packages/seg-core[hub]' (from a seg checkout), or pip install huggingface_hub"


def import_huggingface_hub(purpose: str) -> ModuleType:
    """Import ``huggingface_hub``, or explain how to install it.

    Args:
        purpose: What needs it, for the message (e.g. ``"push_to_hub"``).

    Returns:
        The ``huggingface_hub`` module.

    Raises:
        ConfigError: ``huggingface_hub`` is not installed; the message gives the install command.

    Example:
        >>> hub = import_huggingface_hub("push_to_hub")  # doctest: +SKIP
    """
    try:
        import huggingface_hub
    except ImportError:
        raise ConfigError(f"{purpose} needs huggingface_hub (the optional 'hub' extra): {INSTALL_HINT}") from None
    return huggingface_hub
