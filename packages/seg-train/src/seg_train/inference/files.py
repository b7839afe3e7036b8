"""``seg predict`` on files: load a trained model with its preprocessing and classes, predict images,
write index masks, color masks, overlays and probabilities; a bad file is reported and skipped.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from seg_core.errors import CheckpointError, ConfigError, InputShapeError

__all__ = ["IMAGE_SUFFIXES", "InferenceBundle", "collect_inputs", "load_for_inference", "predict_files"]

#: The image files ``seg predict`` reads (by suffix, case-insensitive).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")


@dataclass
class InferenceBundle:
    """A model ready for inference, with what it was trained with.

    Attributes:
        model: The model (eval mode).
        transform: The deterministic transform of training (``[data.transform]``), or the default one.
        metadata: Class names and colors (`seg_data.DatasetMetadata`).
        in_channels: The channels the model takes.
        spatial_dims: 2 (images) or 3 (volumes, with seg-3d).
    """

    model: nn.Module
    transform: Any
    metadata: Any
    in_channels: int
    spatial_dims: int = 2


def load_for_inference(path: str | Path, device: torch.device | str = "cpu") -> InferenceBundle:
    """Load what ``seg predict --checkpoint`` names.

    Args:
        path: A run folder (``runs/<name>``: its ``best_model/``, else ``checkpoints/latest.pt``), a
            ``save_pretrained`` folder, or a training checkpoint (``.pt``) inside a run folder. The run's
            ``config.toml`` gives the preprocessing and the classes; without one, images are only
            scaled to [0, 1] and classes are numbered.
        device: Where the model runs.

    Returns:
        The bundle.

    Raises:
        CheckpointError: ``path`` is none of these, or cannot be read.
    """
    import seg_core
    import seg_data
    from seg_train.config.validate import load_config

    path = Path(path)
    run_dir: Path | None = None
    if path.is_dir() and (path / "config.toml").is_file():
        run_dir = path
        weights = (
            path / "best_model"
            if (path / "best_model" / "config.json").is_file()
            else path / "checkpoints" / "latest.pt"
        )
    elif path.is_dir() and (path / "config.json").is_file():
        weights = path
        run_dir = path.parent if (path.parent / "config.toml").is_file() else None
    elif path.is_file():
        weights = path
        run_dir = path.parent.parent if (path.parent.parent / "config.toml").is_file() else None
    else:
        raise CheckpointError(
            f"--checkpoint {str(path)!r} {'does not exist' if not path.exists() else 'is not a run folder'}: give a run "
            "folder (runs/<name>), a save_pretrained folder (runs/<name>/best_model) or a checkpoint (.pt)"
        )
    config = load_config(run_dir / "config.toml") if run_dir is not None else None
    model: nn.Module
    if weights.is_dir():
        model = seg_core.from_pretrained(weights)
    else:
        if config is None:
            raise CheckpointError(
                f"{weights} is a training checkpoint outside a run folder: its config.toml (next to checkpoints/) is "
                "needed to build the model; or give a save_pretrained folder"
            )
        from seg_train.checkpoint import load_checkpoint
        from seg_train.run import build_model

        state = load_checkpoint(weights)
        model = build_model(config, _metadata(config, None))
        model.load_state_dict(state["ema_model"] if state.get("ema_model") else state["model"])
    classes = _classes(model)
    metadata = _metadata(config, classes)
    dims = int(getattr(model, "spatial_dims", 2))
    if config is not None:
        from seg_train.run import build_transforms

        transform = build_transforms(config)[1]  # the validation transform (a volume dataset declares its own)
    else:
        transform = seg_data.SegmentationTransform() if dims == 2 else _as_float
    in_channels = int(getattr(getattr(model, "encoder", None), "in_channels", 0) or _in_channels(model))
    return InferenceBundle(model.to(device).eval(), transform, metadata, in_channels, dims)


def _as_float(image: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return image.float(), label


def _classes(model: nn.Module) -> int | None:
    head = getattr(model, "segmentation_head", None)
    convs = [m for m in (head.modules() if head is not None else ()) if isinstance(m, nn.modules.conv._ConvNd)]
    return int(convs[-1].out_channels) if convs else None


def _in_channels(model: nn.Module) -> int:
    first = next((m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)), None)
    return int(first.in_channels) if first is not None else 3


def _metadata(config: Any, classes: int | None) -> Any:
    import seg_data

    if config is not None:
        try:
            metadata = seg_data.resolve_metadata(config.data.dataset, **config.data.options)
            if classes is None or metadata.num_classes == classes:
                return metadata
        except Exception:  # a dataset whose metadata needs its files (root): numbered classes instead
            pass
    return seg_data.DatasetMetadata("predict", classes or 2)


def collect_inputs(paths: Sequence[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The image files among ``paths`` (folders are searched, sorted), and the paths that are not usable.

    Returns:
        ``(files, problems)``: problems are ``(path, reason)`` (missing, not an image, a volume without seg-3d).
    """
    files: list[Path] = []
    problems: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.is_file() and (p.suffix.lower() in IMAGE_SUFFIXES or _is_volume(p))
            )
            if not found:
                problems.append((path, f"no image files ({', '.join(IMAGE_SUFFIXES)}) or volumes in this folder"))
            files += found
        elif not path.exists():
            problems.append((path, "does not exist"))
        elif _is_volume(path):
            files.append(path)
        elif path.name.lower().endswith(_VOLUME_SUFFIXES):
            problems.append((path, "volumes need seg-3d: pip install ./packages/seg-3d (from a seg checkout)"))
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append((path, f"not an image file (accepted: {', '.join(IMAGE_SUFFIXES)})"))
        else:
            files.append(path)
    return files, problems


def _is_volume(path: Path) -> bool:
    """A volume file seg-3d reads (NIfTI, npy / npz, NRRD, MetaImage); always False without seg-3d."""
    if importlib.util.find_spec("seg_3d") is None:
        return False
    from seg_3d.data import volume_stem

    return volume_stem(path) is not None


def _read(path: Path) -> torch.Tensor:
    from torchvision.io import ImageReadMode, decode_image

    try:
        data = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
        return decode_image(data, mode=ImageReadMode.UNCHANGED)
    except Exception as error:
        raise ValueError(f"cannot read the image ({type(error).__name__}: {error})") from None


def predict_files(
    bundle: InferenceBundle,
    files: Iterable[Path],
    out: str | Path,
    *,
    tta: Any = None,
    window: Mapping[str, Any] | None = None,
    overlay: bool = False,
    probabilities: bool = False,
    progress: bool = True,
) -> list[tuple[Path, str]]:
    """Predict every file and write ``<stem>_mask.png`` (class indices), ``<stem>_color.png`` (palette),
    and optionally ``<stem>_overlay.png`` and ``<stem>_probabilities.npy`` (K, H, W float32) into ``out``.

    Returns:
        ``(file, reason)`` for each file that failed; the others were written.
    """
    from torchvision.io import encode_png

    from seg_core.io import atomic_write_bytes
    from seg_data.visualize import colorize
    from seg_data.visualize import overlay as draw_overlay
    from seg_train.inference.predict import predict

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = list(files)
    failures: list[tuple[Path, str]] = []
    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(files), desc="predict", unit="image")
    device = next(bundle.model.parameters()).device
    for path in files:
        try:
            if _is_volume(path):
                _predict_volume(bundle, path, out, tta=tta, window=window, probabilities=probabilities)
                continue
            if bundle.spatial_dims != 2:
                raise InputShapeError(f"is a 2D image but the model is {bundle.spatial_dims}D (it takes volumes)")
            image = _read(path)
            if image.shape[0] != bundle.in_channels:
                raise InputShapeError(
                    f"has {image.shape[0]} channels but the model takes {bundle.in_channels} (in_channels)"
                )
            tensor, _ = bundle.transform(image, torch.zeros(image.shape[1:], dtype=torch.int64))
            batch = tensor.unsqueeze(0).to(device)
            output = "probabilities" if probabilities else "labels"
            result = predict(_Padded(bundle.model), batch, tta=tta, window=window, output=output)
            if probabilities:
                probs = result[0].float().cpu()
                labels = probs.argmax(0)
                np.save(out / f"{path.stem}_probabilities.npy", probs.numpy())
            else:
                labels = result[0].long().cpu()
            stem = out / path.stem
            atomic_write_bytes(f"{stem}_mask.png", encode_png(labels.to(torch.uint8).unsqueeze(0)).numpy().tobytes())
            color = torch.from_numpy(colorize(labels, bundle.metadata)).permute(2, 0, 1).contiguous()
            atomic_write_bytes(f"{stem}_color.png", encode_png(color).numpy().tobytes())
            if overlay:
                rgb = image[:3] if image.shape[0] >= 3 else image[:1].expand(3, -1, -1)
                blended = torch.from_numpy(draw_overlay(rgb, labels, bundle.metadata)).permute(2, 0, 1).contiguous()
                atomic_write_bytes(f"{stem}_overlay.png", encode_png(blended).numpy().tobytes())
        except (ValueError, RuntimeError, OSError, InputShapeError, ConfigError) as error:
            failures.append((path, str(error)))
        finally:
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return failures


def _predict_volume(
    bundle: InferenceBundle,
    path: Path,
    out: Path,
    *,
    tta: Any,
    window: Mapping[str, Any] | None,
    probabilities: bool,
) -> None:
    """Predict one volume and write ``<stem>_mask<suffix>`` with the input's geometry (affine, spacing),
    and optionally ``<stem>_probabilities.npy`` ``(K, D, H, W)``.

    The validation transform of the run (normalisation, resampling to the training spacing) is applied;
    predictions at another spacing are resampled back to the input's grid (probabilities, trilinear)
    before the argmax, as nnU-Net does.
    """
    from seg_3d.data import read_image, volume_scope, volume_stem, write_prediction
    from seg_train.inference.predict import predict

    if bundle.spatial_dims != 3:
        raise InputShapeError(f"is a volume but the model is {bundle.spatial_dims}D; use a 3D model (seg-3d)")
    array, meta = read_image(path)
    if array.shape[0] != bundle.in_channels:
        raise InputShapeError(f"has {array.shape[0]} channels but the model takes {bundle.in_channels} (in_channels)")
    image = torch.from_numpy(array)
    size = tuple(image.shape[1:])
    ignore = int(getattr(bundle.metadata, "ignore_index", 255))
    with volume_scope(ignore, getattr(meta, "spacing", None)):
        tensor, _ = bundle.transform(image, torch.zeros(size, dtype=torch.int64))
    device = next(bundle.model.parameters()).device
    batch = tensor.unsqueeze(0).float().to(device)
    resampled = tuple(batch.shape[2:]) != size
    output = "probabilities" if probabilities or resampled else "labels"
    result = predict(_Padded(bundle.model), batch, tta=tta, window=window, output=output)
    if resampled:
        result = torch.nn.functional.interpolate(result.float(), size=size, mode="trilinear", align_corners=False)
    if output == "probabilities":
        probs = result[0].float().cpu()
        labels = probs.argmax(0)
        if probabilities:
            np.save(out / f"{volume_stem(path)}_probabilities.npy", probs.numpy())
    else:
        labels = result[0].long().cpu()
    suffix = path.name[len(str(volume_stem(path))) :]
    write_prediction(labels, meta, out / f"{volume_stem(path)}_mask{suffix}")


class _Padded(nn.Module):
    """The model on any image size: pads to what the model accepts and crops back (``predict(pad=True)``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        predict = getattr(self.model, "predict", None)
        if callable(predict):
            result: torch.Tensor = predict(x, pad=True)
            return result
        output: torch.Tensor = self.model(x)
        return output
