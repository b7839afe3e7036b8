"""Which encoder pyramids each decoder can use, decided from :class:`seg_core.EncoderCapabilities`.

The models call :func:`check_compatible` right after building their encoder;
the same function can filter encoders before building anything (e.g. for a
future ``list_encoders(compatible_with=...)``).

Example:
    >>> from seg_decoders.compatibility import requirements
    >>> requirements("fpn").min_depth
    3
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seg_core.errors import ConfigError, IncompatibleEncoderError

if TYPE_CHECKING:
    from seg_core.encoder import EncoderCapabilities

__all__ = ["DecoderRequirements", "check_compatible", "is_compatible", "is_compatible_info", "requirements"]


@dataclass(frozen=True)
class DecoderRequirements:
    """What a decoder needs from an encoder pyramid.

    Attributes:
        name: Registry name of the architecture.
        min_depth: Fewest pyramid levels it can use.
        max_depth: Most levels it can use (None: any).
        nonzero_levels: Levels that must carry channels (negative = from the deepest);
            ``"from2"`` in :attr:`nonzero_from` covers every level from that one down.
        nonzero_from: Every level from this one to the deepest must carry channels.
        spatial_dims: Supported dimensionalities.
    """

    name: str
    min_depth: int = 1
    max_depth: int | None = None
    nonzero_levels: tuple[int, ...] = (-1,)
    nonzero_from: int | None = None
    spatial_dims: tuple[int, ...] = (2, 3)


_REQUIREMENTS = {
    "unet": DecoderRequirements("unet"),
    "unetplusplus": DecoderRequirements("unetplusplus"),
    "manet": DecoderRequirements("manet"),
    "linknet": DecoderRequirements("linknet"),
    "fpn": DecoderRequirements("fpn", min_depth=3),
    "pspnet": DecoderRequirements("pspnet"),
    "pan": DecoderRequirements("pan", min_depth=3, nonzero_from=2),
    "deeplabv3": DecoderRequirements("deeplabv3"),
    "deeplabv3plus": DecoderRequirements("deeplabv3plus", min_depth=3, nonzero_levels=(2, -1)),
}

#: Registry name -> class name exported by seg_decoders.
CLASS_NAMES = {
    "unet": "Unet",
    "unetplusplus": "UnetPlusPlus",
    "manet": "MAnet",
    "linknet": "Linknet",
    "fpn": "FPN",
    "pspnet": "PSPNet",
    "pan": "PAN",
    "deeplabv3": "DeepLabV3",
    "deeplabv3plus": "DeepLabV3Plus",
}


def requirements(arch_name: str) -> DecoderRequirements:
    """Return the requirements of a seg-decoders architecture.

    Raises:
        ConfigError: ``arch_name`` is not one of this package's architectures.
    """
    key = arch_name.lower()
    if key not in _REQUIREMENTS:
        raise ConfigError(f"unknown seg-decoders architecture {arch_name!r}; choose from {sorted(_REQUIREMENTS)}")
    return _REQUIREMENTS[key]


def check_compatible(arch_name: str, capabilities: EncoderCapabilities) -> None:
    """Raise if an encoder with ``capabilities`` cannot feed ``arch_name``.

    Args:
        arch_name: Architecture name (``"fpn"``...).
        capabilities: ``encoder.capabilities``.

    Raises:
        IncompatibleEncoderError: With the reason and what to do instead.
        ConfigError: Unknown architecture name.

    Example:
        >>> import seg_core
        >>> enc = seg_core.create_encoder("basic_cnn", depth=2)  # doctest: +SKIP
        >>> check_compatible("fpn", enc.capabilities)  # doctest: +SKIP
        Traceback (most recent call last):
        IncompatibleEncoderError: FPN needs encoder_depth >= 3, the encoder has depth 2
    """
    from seg_core.pyramid import check_pyramid

    req = requirements(arch_name)
    display = CLASS_NAMES[req.name]
    if capabilities.spatial_dims not in req.spatial_dims:
        raise IncompatibleEncoderError(
            f"{display} supports spatial_dims {req.spatial_dims}, the encoder has {capabilities.spatial_dims}"
        )
    levels = list(req.nonzero_levels)
    depth = len(capabilities.reductions) - 1
    if req.nonzero_from is not None:
        levels += list(range(req.nonzero_from, depth + 1))
    check_pyramid(
        capabilities.out_channels,
        capabilities.reductions,
        consumer=display,
        min_depth=req.min_depth,
        max_depth=req.max_depth,
        nonzero_levels=[lv for lv in levels if -len(capabilities.reductions) <= lv <= depth],
    )


def is_compatible(arch_name: str, capabilities: EncoderCapabilities) -> bool:
    """``True`` when :func:`check_compatible` would pass."""
    try:
        check_compatible(arch_name, capabilities)
    except IncompatibleEncoderError:
        return False
    return True


def _info_problem(req: DecoderRequirements, info: Mapping[str, Any]) -> str | None:
    """Why the declared capabilities in ``info`` rule ``req`` out, or None (pure Python, no torch)."""
    dims = info.get("spatial_dims")
    if dims is not None:
        declared = set(dims) if isinstance(dims, (list, tuple, set, frozenset)) else {dims}
        if not declared & set(req.spatial_dims):
            return f"spatial_dims {sorted(declared)} not in {req.spatial_dims}"
    channels, reductions = info.get("out_channels"), info.get("reductions")
    if channels is None or reductions is None:
        return None  # nothing declared: the model constructor checks the built encoder
    if len(channels) != len(reductions) or not reductions or reductions[0] != 1:
        return f"malformed pyramid channels={channels} reductions={reductions}"
    depth = len(reductions) - 1
    if depth < req.min_depth:
        return f"depth {depth} < {req.min_depth}"
    for i in range(1, len(reductions)):
        if reductions[i] < reductions[i - 1] or reductions[i] % reductions[i - 1]:
            return f"reductions {list(reductions)} are not a pyramid"
    levels = list(req.nonzero_levels)
    if req.nonzero_from is not None:
        levels += list(range(req.nonzero_from, depth + 1))
    for level in levels:
        if -len(channels) <= level <= depth and not channels[level]:
            return f"level {level} carries no channels"
    return None


def is_compatible_info(arch_name: str, info: Mapping[str, Any]) -> bool:
    """Decide from an encoder's registry info (no encoder is built) whether it can feed ``arch_name``.

    This is what ``seg_core.list_encoders(compatible_with=...)`` calls for the nine
    architectures. It reads the capabilities encoders declare at registration
    (``spatial_dims``, and the pyramid as ``out_channels``/``reductions``, index 0 being
    the input) with the same requirements :func:`check_compatible` applies to a built
    encoder. Encoders that declare no pyramid are not ruled out.

    Args:
        arch_name: Architecture name (``"fpn"``...).
        info: ``seg_core.get_registry("encoders").info(name)``.

    Returns:
        False when the declared capabilities rule the architecture out.

    Raises:
        ConfigError: Unknown architecture name.

    Example:
        >>> is_compatible_info("fpn", {"spatial_dims": (2,), "out_channels": (3, 8, 16), "reductions": (1, 2, 4)})
        False
    """
    return _info_problem(requirements(arch_name), info) is None
