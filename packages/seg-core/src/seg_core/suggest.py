"""Close-match suggestions and install hints for unknown names (public; no heavy imports).

Example:
    >>> from seg_core.suggest import close_matches
    >>> close_matches("resnet", ["resnet18", "resnet34", "vgg16"])
    ['resnet34', 'resnet18']
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Mapping, Sequence

#: The names seg's own distributions provide, by kind, as fnmatch patterns: the one
#: source of "not installed: pip install X" hints, so an unknown-name error can say which
#: package to install even when that package is absent (its names cannot be listed then).
#: ``tests/integration/test_install_hints.py`` checks it against the real registry: every
#: pattern matches a name that distribution registers, and every name a first-party
#: distribution registers directly (not through a provider) is covered.
FIRST_PARTY_NAMES: dict[str, list[tuple[str, str]]] = {
    "encoders": [
        ("basic_cnn*", "seg-core"),
        ("*_3d", "seg-3d"),
    ]
    + [
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
    ],
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
            "fcn",
            "lraspp",
            "bisenet",
            "enet",
            "sfnet",
            "sfnet_lite",
        )
    ],
    "losses": [
        (name, "seg-train")
        for name in (
            "cross_entropy",
            "crossentropyloss",
            "ce",
            "soft_cross_entropy",
            "softcrossentropyloss",
            "soft_bce",
            "softbcewithlogitsloss",
            "dice",
            "diceloss",
            "jaccard",
            "jaccardloss",
            "iou",
            "tversky",
            "tverskyloss",
            "generalized_dice",
            "generalizeddiceloss",
            "generalised_dice",
            "mcc",
            "mccloss",
            "focal",
            "focalloss",
            "lovasz",
            "lovaszloss",
            "combined",
            "combinedloss",
            "deep_supervision",
            "deepsupervisionloss",
        )
    ],
    "optimizers": [
        (name, "seg-train")
        for name in (
            "asgd",
            "adadelta",
            "adafactor",
            "adagrad",
            "adam",
            "adamw",
            "adamax",
            "lbfgs",
            "muon",
            "nadam",
            "radam",
            "rmsprop",
            "rprop",
            "sgd",
            "sparseadam",
            "padam",
        )
    ],
    "schedulers": [
        (name, "seg-train")
        for name in (
            "chainedscheduler",
            "constantlr",
            "cosineannealinglr",
            "cosineannealingwarmrestarts",
            "cycliclr",
            "exponentiallr",
            "lambdalr",
            "linearlr",
            "multisteplr",
            "multiplicativelr",
            "onecyclelr",
            "polynomiallr",
            "reducelronplateau",
            "sequentiallr",
            "steplr",
            "warmup_poly",
            "warmuppolylr",
            "poly",
            "warmup_cosine",
            "warmupcosinelr",
        )
    ],
    "metrics": [(name, "seg-train") for name in ("segmentation", "hausdorff95")],
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
    ]
    + [(name, "seg-3d") for name in ("volume_folder", "msd", "synthetic_volumes")],
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


def unexpected_arguments(what: str, unknown: Iterable[str], accepted: Sequence[str]) -> str:
    """The message for keyword arguments ``what`` does not accept, with close matches for each.

    Args:
        what: Who got them (``"Unet"``, ``"encoder 'basic_cnn'"``).
        unknown: The unexpected names.
        accepted: The accepted names (searched for close matches).

    Returns:
        One sentence naming each unexpected argument, its close matches and the accepted ones.

    Example:
        >>> unexpected_arguments("Unet", ["clases"], ["classes", "activation"])
        "Unet got unexpected argument(s) 'clases' (did you mean 'classes'?); accepted: classes, activation"
    """
    hints = []
    for key in unknown:
        near = close_matches(key, accepted, limit=2)
        hints.append(f"{key!r}" + (f" (did you mean {', '.join(map(repr, near))}?)" if near else ""))
    return f"{what} got unexpected argument(s) {', '.join(hints)}; accepted: {', '.join(accepted)}"


def provider_of(kind: str, name: str) -> str | None:
    """Return the first-party distribution whose names include ``name`` (from `FIRST_PARTY_NAMES`).

    Example:
        >>> provider_of("architectures", "unet++")
        'seg-decoders'
    """
    lowered = name.lower()
    for pattern, dist in FIRST_PARTY_NAMES.get(kind, []):
        if fnmatch.fnmatchcase(lowered, pattern):
            return dist
    return None


def install_hint(kind: str, name: str, plugins: Mapping[str, tuple[str, str | None]]) -> str | None:
    """Say how to get ``name`` when a first-party distribution provides it but it is not registered.

    Args:
        kind: Registry kind.
        name: The unknown name.
        plugins: Installed distributions (normalised names) -> ``(status, error)``, where the
            status is ``"loaded"``, ``"failed"`` or ``"disabled"``.

    Returns:
        A sentence: install it (from a checkout, as the packages are not on the index yet),
        enable it, or why it failed to load; None when no first-party distribution claims
        the name or that distribution is loaded (then the name is simply unknown).

    Example:
        >>> install_hint("architectures", "fpn", {})
        "'fpn' is provided by seg-decoders, which is not installed: pip install ./packages/seg-decoders (from a seg checkout)"
    """
    dist = provider_of(kind, name)
    if dist is None:
        return None
    state = plugins.get(dist)
    if state is None:
        return (
            f"{name!r} is provided by {dist}, which is not installed: "
            f"pip install ./packages/{dist} (from a seg checkout)"
        )
    status, error = state
    if status == "disabled":
        return f"{name!r} is provided by {dist}, which is installed but disabled by SEG_DISABLED_PLUGINS"
    if status == "failed":
        return f"{name!r} is provided by {dist}, which is installed but its plugin failed to load: {error}"
    return None


def singular(kind: str) -> str:
    """The singular of a registry kind, for messages.

    Example:
        >>> singular("losses"), singular("architectures"), singular("metrics")
        ('loss', 'architecture', 'metric')
    """
    if kind.endswith("sses"):
        return kind[:-2]
    return kind[:-1] if kind.endswith("s") else kind
