"""`seg predict` and `seg eval --tta/--window` on a trained run, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

SEG = [sys.executable, "-m", "seg_core.cli"]
TINY = [
    "--set", "model.encoder_depth=3",
    "--set", "model.decoder_channels=[16, 8, 4]",
    "--set", "data.options={size = 32, num_samples = 8}",
    "--set", "data.val_options={num_samples = 4}",
    "--set", "data.loader.batch_size=4",
    "--set", "trainer.epochs=1",
    "--set", "scheduler.warmup_steps=1",
    "--set", "paths.name=run",
]  # fmt: skip


def _seg(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*SEG, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"seg {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("predict")
    _seg("config", "init", "config.toml", cwd=root)
    _seg("train", "config.toml", *TINY, cwd=root)
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name, size in (("a", (37, 45)), ("b", (64, 64))):
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(images / f"{name}.png")
    Image.fromarray(rng.integers(0, 255, (20, 20), dtype=np.uint8)).save(images / "gray.png")  # 1 channel
    (images / "broken.png").write_bytes(b"not a png")
    return root


def test_predict_writes_masks_and_lists_the_failures(trained: Path) -> None:
    result = _seg(
        "predict", "images", "missing.png", "--checkpoint", "runs/run", "--out", "out", "--overlay", "--probabilities",
        cwd=trained, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    out = trained / "out"
    for stem, size in (("a", (37, 45)), ("b", (64, 64))):
        mask = np.asarray(Image.open(out / f"{stem}_mask.png"))
        assert mask.shape == size and mask.max() < 4
        assert np.asarray(Image.open(out / f"{stem}_color.png")).shape == (*size, 3)
        assert (out / f"{stem}_overlay.png").is_file()
        probs = np.load(out / f"{stem}_probabilities.npy")
        assert probs.shape == (4, *size) and np.allclose(probs.sum(0), 1, atol=1e-4)
        assert (probs.argmax(0) == mask).all()
    assert "2 of 4 image(s) predicted" in result.stdout
    assert "broken.png: cannot read the image" in result.stderr
    assert "gray.png: has 1 channels but the model takes 3" in result.stderr
    assert "missing.png: does not exist" in result.stderr


def test_predict_with_windows_and_tta(trained: Path) -> None:
    _seg("predict", "images/b.png", "--checkpoint", "runs/run/best_model", "--out", "w", "--window", "32", "--overlap", "0.5",
         "--tta", "flip", cwd=trained)  # fmt: skip
    mask = np.asarray(Image.open(trained / "w" / "b_mask.png"))
    assert mask.shape == (64, 64)


def test_a_window_the_padding_cannot_fill_fails_that_image_only(trained: Path) -> None:
    small = trained / "small"
    small.mkdir()
    Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(small / "tiny.png")
    result = _seg("predict", "small/tiny.png", "images/b.png", "--checkpoint", "runs/run/best_model", "--out", "r",
                  "--window", "32", "--padding", "reflect", cwd=trained, check=False)  # fmt: skip
    assert result.returncode == 1 and "1 of 2 image(s) predicted" in result.stdout
    assert "tiny.png: window_size 32 on spatial axis 0 is larger than the image (10)" in result.stderr
    assert "use a window <= 28" in result.stderr
    assert np.asarray(Image.open(trained / "r" / "b_mask.png")).shape == (64, 64)
    bad = _seg("predict", "images/b.png", "--checkpoint", "runs/run/best_model", "--out", "r", "--window", "32",
               "--padding", "mirror", cwd=trained, check=False)  # fmt: skip
    assert bad.returncode == 2 and "padding_mode='mirror'; accepted: 'constant', 'reflect'" in bad.stderr


def test_eval_accepts_tta_and_windows(trained: Path) -> None:
    plain = _seg("eval", "config.toml", *TINY, "--checkpoint", "runs/run", cwd=trained)
    tta = _seg(
        "eval", "config.toml", *TINY, "--checkpoint", "runs/run", "--tta", "hflip", "--window", "16", cwd=trained
    )
    assert "miou" in plain.stdout and "miou" in tta.stdout


def test_bad_checkpoint_is_named(trained: Path) -> None:
    result = _seg("predict", "images", "--checkpoint", "runs/nope", "--out", "x", cwd=trained, check=False)
    assert result.returncode == 2 and "runs/nope" in result.stderr and "does not exist" in result.stderr
    assert torch.__version__  # the seg CLI ran in its own process
