"""Class weights from mask histograms, visualization, and the light plugin module."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seg_core.errors import ConfigError
from seg_data import create_dataset, resolve_metadata
from seg_data.class_weights import METHODS, class_histogram, compute_class_weights, weights_from_counts
from seg_data.visualize import IGNORE_COLOR, colorize, make_grid, overlay, save_grid


def test_histogram_ignores_ignore_and_rejects_bad_values() -> None:
    counts = class_histogram([torch.tensor([[0, 1, 255]]), torch.tensor([1, 1])], 3)
    assert counts.tolist() == [1.0, 3.0, 0.0]
    with pytest.raises(ConfigError):
        class_histogram([torch.tensor([3])], 3)


def test_weight_formulas() -> None:
    counts = torch.tensor([100.0, 25.0, 0.0, 400.0])
    med = weights_from_counts(counts, "median_frequency")
    raw = torch.tensor([1.0, 4.0, 0.25])  # m / f with m = 100
    assert torch.allclose(med[[0, 1, 3]], raw / raw.mean()) and med[2] == 0
    sq = weights_from_counts(counts, "inverse_sqrt")
    raw = torch.tensor([1.0, 2.0, 0.5])
    assert torch.allclose(sq[[0, 1, 3]], raw / raw.mean())
    lg = weights_from_counts(counts, "inverse_log")
    raw = 1 / torch.log(1.02 + torch.tensor([100.0, 25.0, 400.0]) / 525)
    assert torch.allclose(lg[[0, 1, 3]], (raw / raw.mean()).float())
    eff = weights_from_counts(counts, "effective_number", beta=0.99)
    raw = torch.tensor([(1 - 0.99) / (1 - 0.99**f) for f in (100.0, 25.0, 400.0)])
    assert torch.allclose(eff[[0, 1, 3]], (raw / raw.mean()).float(), atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_weights_finite_with_absent_and_single_pixel_classes(method: str) -> None:
    w = weights_from_counts(torch.tensor([1.0, 0.0, 1e12, 5.0]), method)
    assert all(math.isfinite(v) for v in w.tolist()) and w[1] == 0 and w[0] > w[2]
    with pytest.raises(ConfigError, match="unknown"):
        weights_from_counts(torch.ones(2), "nope")


def test_compute_class_weights_reads_masks_only_and_caches(make_folder: Callable[..., Path], tmp_path: Path) -> None:
    root = make_folder({"num_classes": 3})
    for p in (root / "images").iterdir():
        p.write_bytes(b"corrupt: images must not be decoded")
    ds = create_dataset("folder", root=root)
    w = compute_class_weights(ds, "median_frequency", cache_dir=tmp_path / "cache")
    files = list((tmp_path / "cache").iterdir())
    assert len(files) == 1 and json.loads(files[0].read_text())["counts"] == [46.0, 49.0, 49.0]
    for p in (root / "masks").iterdir():
        p.unlink()
    assert torch.equal(compute_class_weights(ds, "median_frequency", cache_dir=tmp_path / "cache"), w)


def test_overlay_and_ignore_color() -> None:
    meta = resolve_metadata("voc")
    image = torch.zeros(3, 2, 2)
    mask = torch.tensor([[1, 255], [0, 15]])
    out = overlay(image, mask, meta, alpha=1.0)
    assert out[0, 0].tolist() == list(meta.colors[1]) and out[0, 1].tolist() == list(IGNORE_COLOR)
    half = overlay(torch.full((3, 2, 2), 1.0), mask, meta, alpha=0.5)
    assert half[1, 1].tolist() == [round((255 + c) / 2) for c in meta.colors[15]]
    assert half[0, 1].tolist() == list(IGNORE_COLOR)  # ignore drawn opaque, distinct
    assert colorize(mask, meta).shape == (2, 2, 3)


def test_save_grid_png(tmp_path: Path) -> None:
    ds = create_dataset("synthetic", num_samples=2, size=16, ignore_border=1)
    (x0, y0), (x1, y1) = ds[0], ds[1]
    path = save_grid(tmp_path / "out" / "grid.png", [x0, x1], [y0, y1], ds.metadata, [y0, torch.zeros_like(y1)])
    arr = np.asarray(Image.open(path))
    assert arr.shape == (2 * 18 + 2, 3 * 18 + 2, 3)
    assert make_grid([x0], [y0], ds.metadata).shape == (20, 2 * 18 + 2, 3)
    with pytest.raises(ValueError):
        make_grid([x0], [], ds.metadata)


def test_hook_and_metadata_modules_do_not_import_torch() -> None:
    code = (
        "import sys, seg_data._plugin, seg_data.metadata, seg_data.labels, seg_data;"
        "seg_data.resolve_metadata('voc');"
        "print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
