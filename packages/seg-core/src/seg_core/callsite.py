"""Warnings that point at the user's line, however deep inside seg (or timm, or torch) they are raised.

A fixed ``stacklevel`` is right for one call path only: ``from_pretrained`` and a direct
``load_weights`` call reach the same ``warnings.warn`` at different depths. `warn_user`
walks the stack instead and attributes the warning to the first frame outside the
first-party packages, timm and torch.

Example:
    >>> from seg_core.callsite import warn_user
    >>> warn_user("re-initialised keys: head.weight")  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import warnings

__all__ = ["INTERNAL_PACKAGES", "user_stacklevel", "warn_user"]

#: Top-level packages whose frames a warning skips to reach the user's code.
INTERNAL_PACKAGES = frozenset(
    {"seg_core", "seg_encoders_timm", "seg_decoders", "seg_data", "seg_train", "seg_3d", "timm", "torch"}
)


def user_stacklevel(depth: int = 1) -> int:
    """The ``stacklevel`` that attributes a warning to the first frame outside `INTERNAL_PACKAGES`.

    Args:
        depth: How many frames up the function that calls ``warnings.warn`` is
            (1: the caller of `user_stacklevel` itself).

    Returns:
        The value to pass as ``warnings.warn(..., stacklevel=...)`` from that function.

    Example:
        >>> warnings.warn("message", UserWarning, stacklevel=user_stacklevel())  # doctest: +SKIP
    """
    frame = sys._getframe(depth)
    level = 1
    while frame.f_back is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if module.split(".")[0] not in INTERNAL_PACKAGES:
            break
        frame = frame.f_back
        level += 1
    return level


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the user's line (see `user_stacklevel`).

    Args:
        message: The warning text.
        category: The warning class.

    Example:
        >>> warn_user("loaded with strict=False; re-initialised keys: head.weight")  # doctest: +SKIP
    """
    warnings.warn(message, category, stacklevel=user_stacklevel(2) + 1)
