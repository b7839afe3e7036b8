"""Close-match suggestions and install hints for unknown names (public; no heavy imports).

Example:
    >>> from seg_core.suggest import close_matches
    >>> close_matches("resnet", ["resnet18", "resnet34", "vgg16"])
    ['resnet34', 'resnet18']
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable

# Names that belong to a first-party distribution, by kind, as fnmatch patterns.
# This lets an unknown-name error say which package to install even when that
# package is absent (the names cannot be listed then).
_FIRST_PARTY_FAMILIES: dict[str, list[tuple[str, str]]] = {
    "encoders": [
        (pattern, "seg-encoders-timm")
        for pattern in (
            "tu-*",
            "resnet*",
            "resnext*",
            "seresnet*",
            "convnext*",
            "efficientnet*",
            "tf_efficientnet*",
            "mobilenet*",
            "regnet*",
            "densenet*",
            "vit_*",
            "deit*",
            "swin*",
            "eva*",
            "beit*",
            "dino*",
            "mixnet*",
            "mnasnet*",
            "dla*",
            "dpn*",
            "hrnet*",
            "xception*",
            "inception*",
            "vgg*",
            "res2net*",
            "resnest*",
            "maxvit*",
            "coatnet*",
            "levit*",
            "xcit*",
            "pvt*",
            "poolformer*",
            "caformer*",
            "convformer*",
            "edgenext*",
            "fastvit*",
            "ghostnet*",
            "hgnet*",
            "repvit*",
            "tiny_vit*",
            "mobilevit*",
            "efficientvit*",
            "nfnet*",
            "cspdarknet*",
            "darknet*",
            "rexnet*",
            "selecsls*",
            "tresnet*",
            "mambaout*",
            "sam2_*",
        )
    ]
    + [("*_3d", "seg-3d"), ("*3d*", "seg-3d")],
    "architectures": [
        (name, "seg-decoders")
        for name in (
            "unet",
            "unetplusplus",
            "unet++",
            "manet",
            "linknet",
            "fpn",
            "pspnet",
            "pan",
            "deeplabv3",
            "deeplabv3plus",
            "deeplabv3+",
            "upernet",
            "segformer",
            "dpt",
        )
    ],
    "datasets": [
        (name, "seg-data")
        for name in (
            "cityscapes*",
            "ade20k",
            "voc",
            "sbd",
            "coco_stuff",
            "bdd100k",
            "mapillary*",
            "lip",
            "folder",
            "synthetic",
        )
    ],
    "losses": [
        (name, "seg-train") for name in ("dice", "jaccard", "tversky", "focal", "lovasz", "cross_entropy", "bce", "mcc")
    ],
    "optimizers": [(name, "seg-train") for name in ("sgd", "adam", "adamw", "padam")],
    "schedulers": [(name, "seg-train") for name in ("poly", "cosine", "step", "onecycle")],
    "loggers": [(name, "seg-train") for name in ("csv", "tensorboard", "wandb", "console")],
}


def close_matches(name: str, candidates: Iterable[str], limit: int = 5) -> list[str]:
    """Return up to ``limit`` candidates that look like ``name``.

    Args:
        name: The unknown name.
        candidates: Registered names.
        limit: Maximum number of suggestions.

    Returns:
        The closest names, best first (case-insensitive comparison).
    """
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    lowered = name.lower()
    matches = difflib.get_close_matches(lowered, list(by_lower), n=limit, cutoff=0.6)
    # Also offer names that share a prefix (e.g. "resnet" -> "resnet18").
    prefixed = sorted(c for c in by_lower if c.startswith(lowered) and c not in matches)
    return [by_lower[m] for m in (matches + prefixed)[:limit]]


def install_hint(kind: str, name: str, installed: Iterable[str]) -> str | None:
    """Return the first-party distribution that would provide ``name``, if absent.

    Args:
        kind: Registry kind.
        name: The unknown name.
        installed: Normalised names of the distributions already installed.

    Returns:
        A distribution name to ``pip install``, or None when unknown or already installed.
    """
    present = set(installed)
    lowered = name.lower()
    for pattern, dist in _FIRST_PARTY_FAMILIES.get(kind, []):
        if fnmatch.fnmatchcase(lowered, pattern) and dist not in present:
            return dist
    return None
