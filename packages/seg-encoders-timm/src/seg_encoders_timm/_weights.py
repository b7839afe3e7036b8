"""Turn the ``weights`` argument into ``timm.create_model`` arguments.

A local weights file never reaches timm's loader: seg reads it (safetensors, or
``torch.load(weights_only=True)``), checks its tensor names against the timm model's,
and hands timm the tensors (``pretrained_cfg_overlay={"state_dict": ...}``), to which timm
applies its pretrained machinery (classifier dropped, stem adapted to ``in_chans``,
position embedding resampled).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seg_core.callsite import warn_user
from seg_core.errors import CheckpointError, ConfigError, faq_link
from seg_encoders_timm._names import ParsedName

__all__ = ["WEIGHT_SUFFIXES", "WeightsPlan", "load_local_weights", "model_keys", "resolve_weights"]

#: File suffixes read as local weight files.
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")


@dataclass(frozen=True)
class WeightsPlan:
    """How to build the timm model.

    Attributes:
        model_name: Name given to ``timm.create_model`` (with the pretrained tag, if any).
        kwargs: ``pretrained`` (False for a local file: its tensors are added by `load_local_weights`
            once seg has read and checked them, so timm never opens the file nor downloads instead).
        file: The local weights file, if any.
    """

    model_name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    file: Path | None = None

    @property
    def pretrained(self) -> bool:
        """Whether pretrained weights are loaded (downloaded by timm, or from the local file)."""
        return bool(self.kwargs.get("pretrained")) or self.file is not None


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
        return WeightsPlan(parsed.full, {"pretrained": False}, path)
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


class _Tensors(dict[str, Any]):
    """The checked tensors handed to timm; timm's ``deepcopy`` of its config keeps them, not a third copy.

    Also remembers, for `check_file_matches`, where they come from and how they are to be loaded.
    """

    path: str = ""
    in_channels: int = 3

    def __deepcopy__(self, memo: dict[int, Any]) -> _Tensors:
        return self


def model_keys(
    model_name: str, timm_kwargs: Mapping[str, Any]
) -> tuple[dict[str, tuple[int, ...]], tuple[str, ...], tuple[str, ...]]:
    """The whole timm model's state-dict shapes, classifier and input convolutions, without allocating weights.

    The model is built on the meta device (on the CPU if that fails), for 3 input channels.

    Args:
        model_name: timm name (with tag).
        timm_kwargs: The user's ``timm.create_model`` options (they may change the network).

    Returns:
        ``(key -> shape, classifier module names, input convolution module names)``.
    """
    import timm
    import torch

    try:
        with torch.device("meta"):
            model = timm.create_model(model_name, pretrained=False, **timm_kwargs)
    except Exception:
        model = timm.create_model(model_name, pretrained=False, **timm_kwargs)
    cfg = getattr(model, "pretrained_cfg", None) or {}

    def names(value: Any) -> tuple[str, ...]:
        return (value,) if isinstance(value, str) else tuple(value or ())

    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    return shapes, names(cfg.get("classifier")), names(cfg.get("first_conv"))


def _unadaptable_stems(
    tensors: dict[str, Any], shapes: Mapping[str, tuple[int, ...]], stems: tuple[str, ...], in_channels: int
) -> list[tuple[str, str]]:
    """The file's input convolutions timm cannot adapt to ``in_channels`` (timm would drop them, or fail)."""
    from timm.models import adapt_input_conv

    found = []
    for name in stems if in_channels != 3 else ():
        key = f"{name}.weight"
        source, shape = tensors.get(key), shapes.get(key)
        if source is None or shape is None or source.ndim != len(shape) or len(shape) < 2 or shape[1] != 3:
            continue  # another layout (a flattened patch embedding...): timm's filter handles it, checked after
        if tuple(source.shape) == (shape[0], in_channels, *shape[2:]):
            continue  # already for in_channels: checked after the build
        try:
            adapt_input_conv(in_channels, source)
        except Exception as exc:
            found.append(
                (key, f"{key} of shape {list(source.shape)} cannot be adapted to in_channels={in_channels} ({exc})")
            )
    return found


def _listing(keys: list[str], limit: int | None = 12) -> str:
    if limit is None or len(keys) <= limit:
        return ", ".join(keys)
    return ", ".join(keys[:limit]) + f" ... and {len(keys) - limit} more"


def load_local_weights(
    plan: WeightsPlan, timm_kwargs: Mapping[str, Any], *, in_channels: int = 3, strict: bool = True
) -> dict[str, Any]:
    """Read ``plan.file`` with seg's safe loader, check it against the timm model, return the create arguments.

    The file is read by `seg_core.io.load_state_file` (safetensors, or ``torch.load(weights_only=True)``)
    before timm sees anything; timm gets the tensors, never the path. ``module.``/``_orig_mod.``
    prefixes (a file saved from a wrapped model) are removed. The file's tensor names must be
    the timm model's: classifier tensors may be absent or of another size (timm drops them).

    Args:
        plan: A plan with a ``file``.
        timm_kwargs: The user's ``timm.create_model`` options.
        in_channels: The encoder's input channels (timm adapts the file's stem to them).
        strict: Raise when tensors are missing from the file or the file has tensors the model
            lacks; False loads the tensors that match, warns and leaves the rest randomly initialised.
            Shapes must match either way (an input convolution timm cannot adapt raises).

    Returns:
        ``timm.create_model`` arguments: ``pretrained=True`` and the tensors as ``pretrained_cfg_overlay``.

    Raises:
        CheckpointError: The file cannot be read safely, holds no tensor of the model, or (strict)
            does not hold exactly this architecture's tensors; the file and the keys are named.
    """
    from seg_core.io import load_state_file, strip_wrapper_prefixes

    if plan.file is None:
        raise ValueError("load_local_weights needs a plan with a file")
    expected, classifier, stems = model_keys(plan.model_name, timm_kwargs)
    state = strip_wrapper_prefixes(load_state_file(plan.file), expected)

    def optional(key: str) -> bool:  # timm drops or recreates these
        return key.endswith("num_batches_tracked") or any(key.startswith(c + ".") for c in classifier)

    missing = sorted(k for k in expected if k not in state and not optional(k))
    unexpected = sorted(k for k in state if k not in expected)
    where = f"encoder_weights={str(plan.file)!r}"
    tensors = _Tensors((k, v) for k, v in state.items() if k in expected)
    if not tensors:  # an empty state dict would make timm download its own weights instead
        raise CheckpointError(
            f"cannot load {where} into timm model {plan.model_name!r}: the file holds no tensor of the model "
            f"({_listing(unexpected) or 'no tensors at all'}); is it a checkpoint of another architecture?"
        )
    if missing or unexpected:

        def detail(limit: int | None) -> str:
            problems = []
            if missing:
                problems.append(
                    f"missing from the file ({len(missing)} tensors of the model): {_listing(missing, limit)}"
                )
            if unexpected:
                problems.append(
                    f"not in the model ({len(unexpected)} tensors of the file): {_listing(unexpected, limit)}"
                )
            return "; ".join(problems)

        if strict:
            raise CheckpointError(
                f"cannot load {where} into timm model {plan.model_name!r}: {detail(12)}. Is it a checkpoint of "
                "another architecture? The file must be the timm model's state dict; to load only the tensors "
                'that match, pass encoder_params={"weights_strict": False}'
            )
        warn_user(
            f"loaded {where} into timm model {plan.model_name!r} partially (weights_strict=False): {detail(None)}; "
            "the missing tensors keep their random initialisation (train them)"
        )
    for _, problem in _unadaptable_stems(tensors, expected, stems, in_channels):  # a shape problem: always raised
        raise CheckpointError(
            f"cannot load {where} into timm model {plan.model_name!r}: its input convolution {problem}; pass a file "
            "with this architecture's input convolution (3 input channels)"
        )
    tensors.path, tensors.in_channels = str(plan.file), in_channels
    return {"pretrained": True, "pretrained_cfg_overlay": {"state_dict": tensors}}


def local_file_error(plan: WeightsPlan, exc: BaseException) -> CheckpointError:
    """The error raised when timm fails to apply a checked local file (a tensor of another shape...)."""
    return CheckpointError(
        f"cannot load encoder_weights={str(plan.file)!r} into timm model {plan.model_name!r}: "
        f"{type(exc).__name__}: {str(exc)[:2000]}"
    )


def check_file_matches(create_kwargs: dict[str, Any], module: Any, model_name: str) -> None:
    """After a build from a local file: drop timm's copy of its tensors, and check the stem was loaded.

    The file's tensor names were checked before the build (`load_local_weights`). Two things
    remain: timm's ``pretrained_cfg`` (on the model and its submodules) holds a copy of every
    tensor, dropped here; and with ``in_channels != 3`` timm adapts the file's input
    convolution, or, when it cannot (a stem of another shape), leaves it randomly initialised
    with only a log message: a wrong shape, which raises here (whatever ``weights_strict``).

    Args:
        create_kwargs: The ``timm.create_model`` arguments the model was built with.
        module: The built timm model (before any pruning).
        model_name: Its timm name.

    Raises:
        CheckpointError: The file's input convolution was not loaded (the file and the key are named).
    """
    overlay = create_kwargs.get("pretrained_cfg_overlay") or {}
    if "state_dict" not in overlay:
        return
    for sub in module.modules():
        for attr in ("pretrained_cfg", "default_cfg"):
            cfg = getattr(sub, attr, None)
            if isinstance(cfg, dict):
                cfg.pop("state_dict", None)
    tensors = overlay["state_dict"]
    if isinstance(tensors, _Tensors) and tensors.in_channels != 3:
        _check_stems(tensors, module, model_name)


def _built_tensor(state: Mapping[str, Any], key: str) -> Any:
    """The built model's tensor for timm key ``key`` (features wrappers prefix ``model.`` or flatten ``a.0`` to ``a_0``)."""
    head, _, rest = key.partition(".")
    for candidate in (key, f"{head}_{rest}"):
        for name in (candidate, f"model.{candidate}"):
            if name in state:
                return state[name]
    return None


def _stem_loaded(source: Any, built: Any, in_channels: int) -> bool | None:
    """Whether the built stem is the file's, as timm adapts it (None: timm resampled it, cannot tell)."""
    import math

    from timm.models import adapt_input_conv

    candidates = [source]
    spatial = built.shape[0] * math.prod(built.shape[2:])
    if source.ndim < built.ndim and spatial and source.numel() % spatial == 0:  # a flattened (linear) patch embedding
        candidates.append(source.reshape(built.shape[0], -1, *built.shape[2:]))
    resampled = False
    for candidate in candidates:
        if candidate.shape == built.shape and candidate.to(built.dtype).equal(built):
            return True
        if candidate.ndim != built.ndim:
            continue
        try:
            expected = adapt_input_conv(in_channels, candidate)
        except Exception:
            continue
        if expected.shape != built.shape:
            resampled = True
        elif expected.to(built.dtype).allclose(built, rtol=1e-4, atol=1e-6):
            return True
    return None if resampled else False


def _check_stems(tensors: _Tensors, module: Any, model_name: str) -> None:
    first = (getattr(module, "pretrained_cfg", None) or {}).get("first_conv") or ()
    built_state = module.state_dict()
    for name in (first,) if isinstance(first, str) else tuple(first):
        key = f"{name}.weight"
        source, built = tensors.get(key), _built_tensor(built_state, key)
        if source is None or built is None or _stem_loaded(source, built, tensors.in_channels) is not False:
            continue
        raise CheckpointError(
            f"cannot load encoder_weights={tensors.path!r} into timm model {model_name!r}: its input convolution "
            f"{key} of shape {list(source.shape)} cannot be adapted to in_channels={tensors.in_channels} (the "
            f"model's is {list(built.shape)}), so timm left it randomly initialised; pass a file with this "
            "architecture's input convolution (3 input channels)"
        )


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face Hub answers a TCP connection within ``timeout`` seconds."""
    import socket
    from urllib.parse import urlparse

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def offline_unless_reachable(plan: WeightsPlan) -> Iterator[None]:
    """Put huggingface_hub in offline mode for this build when the Hub cannot be reached.

    Without it a machine with no network retries for most of a minute before timm gives
    up; offline mode still loads weights already in the local cache and fails at once
    otherwise (the caller turns that into `fetch_error`'s offline message).
    """
    if not plan.pretrained or plan.file is not None:
        yield
        return
    try:
        from huggingface_hub import constants
    except ImportError:
        yield
        return
    if constants.HF_HUB_OFFLINE or hub_reachable():
        yield
        return
    constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = False
