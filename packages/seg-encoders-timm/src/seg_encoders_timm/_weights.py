"""Turn the ``weights`` argument into ``timm.create_model`` arguments."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seg_core.errors import CheckpointError, ConfigError, faq_link
from seg_encoders_timm._names import ParsedName

__all__ = ["WEIGHT_SUFFIXES", "WeightsPlan", "resolve_weights"]

#: File suffixes read as local weight files.
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


@dataclass(frozen=True)
class WeightsPlan:
    """How to build the timm model.

    Attributes:
        model_name: Name given to ``timm.create_model`` (with the pretrained tag, if any).
        kwargs: ``pretrained`` and, for a local file, ``pretrained_cfg_overlay``.
        file: The local weights file, if any.
    """

    model_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None

    @property
    def pretrained(self) -> bool:
        """Whether pretrained weights are loaded."""
        return bool(self.kwargs.get("pretrained"))


def _looks_like_path(value: str) -> bool:
    return value.lower().endswith(WEIGHT_SUFFIXES) or os.sep in value or "/" in value or Path(value).is_file()


def resolve_weights(parsed: ParsedName, weights: Any) -> WeightsPlan:
    """Decide which weights to load.

    Args:
        parsed: The encoder name.
        weights: None/False (random init); True or ``"imagenet"`` (timm's default or the
            tag in the name); another string without a path separator (a timm pretrained tag,
            e.g. ``"fb_in22k"``); or a path to a local ``.safetensors``/``.pth``/``.pt``/``.bin`` file.

    Returns:
        A :class:`WeightsPlan`.

    Raises:
        ConfigError: Unsupported value, or a tag that contradicts the one in the name.
        CheckpointError: The local file does not exist.
    """
    if weights is None or weights is False:
        return WeightsPlan(parsed.full, {"pretrained": False})
    if weights is True or (isinstance(weights, str) and weights.lower() == "imagenet"):
        return WeightsPlan(parsed.full, {"pretrained": True})
    if isinstance(weights, os.PathLike) or (isinstance(weights, str) and _looks_like_path(weights)):
        path = Path(os.fspath(weights)).expanduser()
        if not path.is_file():
            raise CheckpointError(f"encoder_weights={str(weights)!r}: no such file")
        if not path.name.lower().endswith(WEIGHT_SUFFIXES):
            raise ConfigError(
                f"encoder_weights={str(weights)!r}: expected a {', '.join(WEIGHT_SUFFIXES)} file, got {path.suffix!r}"
            )
        overlay = {"file": str(path.resolve())}
        return WeightsPlan(parsed.full, {"pretrained": True, "pretrained_cfg_overlay": overlay}, path)
    if isinstance(weights, str) and weights.strip():
        tag = weights.strip()
        if parsed.tag and parsed.tag != tag:
            raise ConfigError(
                f"encoder_weights={tag!r} contradicts the tag in the encoder name {parsed.full!r}; "
                "give the tag in one place only"
            )
        return WeightsPlan(f"{parsed.base}.{tag}", {"pretrained": True})
    raise ConfigError(
        f"encoder_weights must be None, True, 'imagenet', a timm pretrained tag or a local weights file path, "
        f"got {weights!r}"
    )


def check_tag(plan: WeightsPlan) -> None:
    """Raise a clear error if the pretrained tag in ``plan.model_name`` is unknown to timm.

    Raises:
        ConfigError: With the tags timm knows for the architecture.
    """
    import timm

    base, _, tag = plan.model_name.partition(".")
    if not tag:
        return
    known = timm.list_pretrained(f"{base}.*")
    if plan.model_name not in known:
        raise ConfigError(f"timm has no pretrained tag {tag!r} for {base!r}; known: {', '.join(known) or 'none'}")


def fetch_error(model_name: str, exc: BaseException) -> CheckpointError:
    """The error raised when pretrained weights cannot be obtained."""
    return CheckpointError(
        f"pretrained weights for {model_name!r} cannot be fetched ({type(exc).__name__}: {str(exc)[:300]}). "
        "If this machine is offline, download the weights elsewhere and pass a local file: "
        "encoder_weights='/path/to/model.safetensors' (.safetensors, .pth or .bin); "
        f"see {faq_link('offline-weights')}"
    )


def check_file_matches(create_kwargs: dict[str, Any], module: Any, model_name: str) -> None:
    """After a build from a local file, make sure the file really held this architecture's weights.

    timm loads local files leniently for feature models; a file of another architecture
    would otherwise leave the encoder silently random.

    Raises:
        CheckpointError: Fewer than half of the model's tensors are in the file.
    """
    overlay = create_kwargs.get("pretrained_cfg_overlay") or {}
    path = overlay.get("file")
    if not path:
        return
    from seg_core.io import load_state_file

    keys = set(load_state_file(path))
    own = list(module.state_dict())

    def present(key: str) -> bool:
        return key in keys or (key.startswith("model.") and key[len("model.") :] in keys)

    missing = [k for k in own if not present(k)]
    if not own or len(missing) * 2 > len(own):
        raise CheckpointError(
            f"cannot load encoder_weights={path!r} into timm model {model_name!r}: {len(own) - len(missing)} of "
            f"{len(own)} tensors are in the file (missing e.g. {missing[:3]}); is it a checkpoint of this architecture?"
        )
