"""Vectorized augmentation of (B, C, H, W) batches: alignment, label range, seeding, per-sample draws, devices."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.transforms import InterpolationMode

from seg_core.errors import ConfigError, InputShapeError
from seg_data import SegmentationAugment, augment_batch
from seg_data._augment_ops import color_jitter, gaussian_blur

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]


def _encoded_batch(seed: int, b: int = 4, h: int = 20, w: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks with labels 0..4 and some ignore; images whose value encodes the label (k -> 40 k + 20, ignore 250)."""
    g = torch.Generator().manual_seed(seed)
    masks = torch.randint(0, 5, (b, h, w), generator=g)
    masks[:, 0, :3] = 255
    images = (masks.clamp(max=5) * 40 + 20).to(torch.uint8)[:, None].expand(b, 3, h, w).clone()
    images[:, :, 0, :3] = 250
    return images, masks


def _decode(x: torch.Tensor) -> torch.Tensor:
    decoded = torch.full(x.shape, 255, dtype=torch.int64, device=x.device)
    known = (x >= 20) & (x <= 180)
    decoded[known] = (x[known].long() - 20) // 40
    return decoded


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    lo=st.floats(0.3, 1.0),
    hi=st.floats(1.0, 2.0),
    rotation=st.floats(0, 180),
    perspective=st.floats(0, 0.9),
    crop=st.integers(4, 40),
)
def test_batch_keeps_image_and_mask_aligned(
    seed: int, lo: float, hi: float, rotation: float, perspective: float, crop: int
) -> None:
    images, masks = _encoded_batch(seed)
    aug = SegmentationAugment(
        hflip=0.5, vflip=0.5, scale_range=(lo, hi), crop_size=crop, rotation=rotation, perspective=perspective,
        interpolation=InterpolationMode.NEAREST,
    )  # fmt: skip
    x, y = aug.batch(images, masks, generator=torch.Generator().manual_seed(seed))
    assert x.shape == (4, 3, crop, crop) and y.shape == (4, crop, crop) and x.dtype == torch.uint8
    assert set(y.unique().tolist()) <= {0, 1, 2, 3, 4, 255}
    assert torch.equal(_decode(x[:, 0]), y)  # fill (0) and original ignore (250) both decode to 255


@pytest.mark.parametrize("device", DEVICES)
def test_batch_bilinear_full_pipeline_labels_valid_and_reproducible(device: str) -> None:
    images, masks = _encoded_batch(0, b=3)
    images, masks = images.to(device).float() / 255, masks.to(device)
    aug = SegmentationAugment(
        hflip=0.5, vflip=0.5, scale_range=(0.5, 2.0), crop_size=(16, 18), rotation=30, perspective=0.4,
        color_jitter=(0.4, 0.4, 0.4, 0.1), blur=0.5, ignore_index=99,
    )  # fmt: skip
    masks = masks.masked_fill(masks == 255, 99)
    x1, y1 = augment_batch(aug, images, masks, generator=torch.Generator().manual_seed(7))
    x2, y2 = augment_batch(aug, images, masks, generator=torch.Generator().manual_seed(7))
    x3, _ = augment_batch(aug, images, masks, generator=torch.Generator().manual_seed(8))
    assert x1.device.type == device and x1.dtype == torch.float32 and y1.dtype == torch.int64
    assert x1.shape == (3, 3, 16, 18) and y1.shape == (3, 16, 18)
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)
    assert float(x1.min()) >= 0.0 and float(x1.max()) <= 1.0
    assert set(y1.unique().tolist()) <= {0, 1, 2, 3, 4, 99}


def test_draws_are_per_sample_unless_shared() -> None:
    images, masks = _encoded_batch(1, b=1)
    images, masks = images.expand(6, -1, -1, -1), masks.expand(6, -1, -1)
    aug = SegmentationAugment(scale_range=(0.5, 2.0), crop_size=12, rotation=45, color_jitter=(0.5, 0.5, 0.5, 0.2))
    x, y = aug.batch(images, masks, generator=torch.Generator().manual_seed(0))
    assert len({tuple(t.flatten().tolist()) for t in x}) == 6 and len({tuple(t.flatten().tolist()) for t in y}) > 1
    x, y = aug.batch(images, masks, generator=torch.Generator().manual_seed(0), per_sample=False)
    assert all(torch.equal(x[0], t) for t in x) and all(torch.equal(y[0], t) for t in y)


def test_single_sample_and_batch_share_one_code_path() -> None:
    images, masks = _encoded_batch(2, b=1)
    aug = SegmentationAugment(
        hflip=0.5, scale_range=(0.7, 1.5), crop_size=16, rotation=20, perspective=0.3, color_jitter=(0.3, 0.3, 0.3, 0.1)
    )
    torch.manual_seed(5)
    xs, ys = aug(images[0], masks[0])
    xb, yb = aug.batch(images, masks, generator=torch.Generator().manual_seed(5))
    assert torch.equal(xs.as_subclass(torch.Tensor), xb[0]) and torch.equal(ys.as_subclass(torch.Tensor), yb[0])


def test_batch_without_crop_keeps_input_size_and_pads_with_ignore() -> None:
    images, masks = _encoded_batch(3, b=5)
    aug = SegmentationAugment(scale_range=(0.3, 0.5), ignore_index=77)
    x, y = aug.batch(images, masks, generator=torch.Generator().manual_seed(0))
    assert x.shape == images.shape and y.shape == masks.shape
    assert bool((y == 77).any(dim=(1, 2)).all())  # every downscaled sample is padded back with ignore


def test_flip_and_crop_are_exact_gathers() -> None:
    images = torch.rand(4, 3, 10, 12)
    masks = torch.randint(0, 3, (4, 10, 12))
    x, y = SegmentationAugment(hflip=1.0, vflip=1.0).batch(images, masks)
    assert torch.equal(x, images.flip(-1, -2)) and torch.equal(y, masks.flip(-1, -2))
    x, y = SegmentationAugment(crop_size=(10, 12)).batch(images, masks)
    assert torch.equal(x, images) and torch.equal(y, masks)


def test_color_jitter_matrix() -> None:
    img = torch.rand(2, 3, 5, 6)
    same = color_jitter(img, torch.tensor([[1.0, 1.0, 1.0, 0.0]] * 2, dtype=torch.float64), 1.0)
    assert torch.allclose(same, img, atol=1e-6)
    half = color_jitter(img, torch.tensor([[0.5, 1.0, 1.0, 0.0]] * 2, dtype=torch.float64), 1.0)
    assert torch.allclose(half, img * 0.5, atol=1e-6)
    gray = torch.full((1, 3, 4, 4), 0.4)  # hue and saturation leave gray untouched
    out = color_jitter(gray, torch.tensor([[1.0, 1.0, 0.2, 0.3]], dtype=torch.float64), 1.0)
    assert torch.allclose(out, gray, atol=1e-6)
    flat = color_jitter(img, torch.tensor([[1.0, 0.0, 1.0, 0.0]] * 2, dtype=torch.float64), 1.0)
    assert torch.allclose(flat, flat.mean(dim=(2, 3), keepdim=True).expand_as(flat).mean(1, keepdim=True), atol=1e-5)
    hue = color_jitter(img, torch.tensor([[1.0, 1.0, 1.0, 0.25]] * 2, dtype=torch.float64), 1.0)
    assert not torch.allclose(hue, img, atol=1e-2)


def test_gaussian_blur_per_sample() -> None:
    img = torch.rand(3, 2, 9, 9)
    out = gaussian_blur(img, torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64), 5)
    assert torch.allclose(out[0], img[0]) and float(out[1].std()) < float(img[1].std())
    assert float(out[2].std()) < float(out[1].std())
    const = torch.full((1, 3, 6, 7), 0.3)
    assert torch.allclose(gaussian_blur(const, torch.tensor([1.5], dtype=torch.float64), 5), const, atol=1e-6)


def test_batch_rejects_bad_shapes_and_options() -> None:
    aug = SegmentationAugment(hflip=0.5)
    with pytest.raises(InputShapeError, match=r"\(B, C, H, W\)"):
        aug.batch(torch.rand(3, 8, 8), torch.zeros(3, 8, 8, dtype=torch.long))
    with pytest.raises(InputShapeError, match="same B, H, W"):
        aug.batch(torch.rand(2, 3, 8, 8), torch.zeros(2, 8, 9, dtype=torch.long))
    with pytest.raises(ConfigError, match="interpolation"):
        SegmentationAugment(interpolation=InterpolationMode.BOX)
    with pytest.raises(ConfigError, match="color_jitter"):
        SegmentationAugment(color_jitter=(0.1, 0.1, 0.1, 0.7))
    with pytest.raises(ConfigError, match="blur_kernel=4"):
        SegmentationAugment(blur=0.5, blur_kernel=4)


def test_gray_images_get_brightness_and_contrast_only() -> None:
    images = torch.randint(0, 256, (2, 1, 8, 8), dtype=torch.uint8)
    aug = SegmentationAugment(color_jitter=(0.5, 0.5, 0.5, 0.2), blur=1.0)
    x, _ = aug.batch(images, torch.zeros(2, 8, 8, dtype=torch.long), generator=torch.Generator().manual_seed(0))
    assert x.shape == images.shape and x.dtype == torch.uint8 and not torch.equal(x, images)
    out = color_jitter(torch.full((1, 1, 4, 4), 0.5), torch.tensor([[0.5, 1.0, 1.0, 0.0]], dtype=torch.float64), 1.0)
    assert torch.allclose(out, torch.full((1, 1, 4, 4), 0.25))
