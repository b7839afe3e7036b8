"""seg-data loading speed: samples/s through a DataLoader with the full augmentation, vs a plain loop.

Writes a folder of real JPEG images and PNG masks at 512x1024 to a temporary directory, then measures:

* ``seg_data folder + full augmentation`` with 0 and 2 DataLoader workers (decode, label check, scale jitter,
  random crop 512x512, flips, rotation, perspective, color jitter, blur, normalization);
* ``plain loop``: PIL decode of image and mask and a torchvision resize to 512x512 (no augmentation),
  the floor any loader pays.

Run: ``nox -s bench`` or ``python benchmarks/bench_data.py [--quick] [--samples N] [--epochs E]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

H, W = 512, 1024
NUM_CLASSES = 19


def _write_folder(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    yy, xx = np.mgrid[0:H, 0:W]
    for i in range(n):
        base = ((np.sin(xx / (20 + i)) + np.cos(yy / 15)) * 60 + 128).astype(np.uint8)
        img = np.stack([base, np.roll(base, i * 7, 1), base[::-1]], -1) ^ rng.integers(0, 16, (H, W, 3), dtype=np.uint8)
        Image.fromarray(img).save(root / "images" / f"{i:04d}.jpg", quality=90)
        mask = ((xx // 64 + yy // 64 + i) % NUM_CLASSES).astype(np.uint8)
        mask[:8] = 255
        Image.fromarray(mask).save(root / "masks" / f"{i:04d}.png")


def _rate(loader: torch.utils.data.DataLoader, epochs: int) -> float:
    count, start = 0, time.perf_counter()
    for _ in range(epochs):
        for images, _masks in loader:
            count += images.shape[0]
    return count / (time.perf_counter() - start)


def _plain(root: Path, epochs: int) -> float:
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    files = sorted((root / "images").iterdir())
    count, start = 0, time.perf_counter()
    for _ in range(epochs):
        for f in files:
            img = torch.from_numpy(np.asarray(Image.open(f).convert("RGB")).copy()).permute(2, 0, 1)
            mask = torch.from_numpy(np.asarray(Image.open(root / "masks" / f"{f.stem}.png")).copy())[None]
            img = F.resize(img, [512, 512], antialias=True).float() / 255
            mask = F.resize(mask, [512, 512], interpolation=InterpolationMode.NEAREST).long()
            count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few samples, one epoch (smoke run)")
    parser.add_argument("--samples", type=int, default=None, help="number of image/mask pairs (default 32)")
    parser.add_argument("--epochs", type=int, default=None, help="passes over the files (default 2, --quick 1)")
    args, _ = parser.parse_known_args()  # nox passes the same posargs to every bench script
    n = args.samples or (4 if args.quick else 32)
    epochs = args.epochs or (1 if args.quick else 2)
    torch.set_num_threads(1)

    from seg_data import Compose, SegmentationAugment, SegmentationTransform, create_dataset, seed_worker

    augment = SegmentationAugment(
        hflip=0.5,
        scale_range=(0.5, 2.0),
        crop_size=512,
        rotation=10,
        perspective=0.2,
        color_jitter=(0.3, 0.3, 0.3, 0.05),
        blur=0.3,
    )
    transform = SegmentationTransform(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write_folder(root, n)
        ds = create_dataset(
            "folder", root=root, num_classes=NUM_CLASSES, transforms=Compose([augment, transform]), seed=0
        )
        plain = _plain(root, epochs)
        print(f"seg-data loader benchmark: {n} JPEG/PNG pairs at {H}x{W}, crop 512x512, {epochs} epoch(s)")
        print(f"{'plain decode + resize loop':45s} {plain:8.2f} samples/s")
        for workers in (0, 2):
            loader = torch.utils.data.DataLoader(
                ds, batch_size=2, shuffle=True, num_workers=workers, worker_init_fn=seed_worker,
                persistent_workers=workers > 0,
            )  # fmt: skip
            rate = _rate(loader, epochs)
            print(f"{f'seg_data folder + full augmentation, {workers} workers':45s} {rate:8.2f} samples/s "
                  f"(ratio to plain loop {rate / plain:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
