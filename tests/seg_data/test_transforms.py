"""Deterministic transforms, random augmentations, seeding (also with DataLoader workers)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader
from torchvision.transforms import InterpolationMode

from seg_core.errors import ConfigError
from seg_data import Compose, SegmentationAugment, SegmentationTransform, augment_batch, create_dataset
from seg_data.seeding import make_generator, seed_worker


def _pair(h: int = 10, w: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g), torch.randint(0, 3, (h, w), generator=g)


def test_transform_dtype_and_normalization() -> None:
    image, mask = _pair()
    x, y = SegmentationTransform()(image, mask)
    assert x.dtype == torch.float32 and torch.allclose(x, image.float() / 255) and torch.equal(y, mask)
    x, _ = SegmentationTransform(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))(image, mask)
    assert torch.allclose(x, (image.float() / 255 - 0.5) / 0.25, atol=1e-6)
    with pytest.raises(ConfigError, match="mean and std"):
        SegmentationTransform(mean=(0.5,))


def test_transform_resize_mask_nearest() -> None:
    image, mask = _pair()
    x, y = SegmentationTransform((23, 17))(image, mask)
    assert x.shape == (3, 23, 17) and y.shape == (23, 17)
    assert set(y.unique().tolist()) <= set(mask.unique().tolist())


def test_transform_pad_crop_fills_mask_with_ignore() -> None:
    image, mask = _pair(4, 5)
    x, y = SegmentationTransform((6, 7), mode="pad_crop", ignore_index=255)(image, mask)
    assert x.shape == (3, 6, 7) and y.shape == (6, 7)
    assert torch.equal(y[:4, :5], mask) and bool((y[4:] == 255).all()) and bool((y[:, 5:] == 255).all())
    assert float(x[:, 4:].abs().sum()) == 0.0
    x, y = SegmentationTransform((2, 3), mode="pad_crop")(image, mask)
    assert torch.equal(y, mask[1:3, 1:4])


def test_augment_rejects_bad_values() -> None:
    with pytest.raises(ConfigError, match="hflip=2"):
        SegmentationAugment(hflip=2)
    with pytest.raises(ConfigError, match="scale_range"):
        SegmentationAugment(scale_range=(2.0, 1.0))


def test_augment_crop_pads_mask_with_ignore() -> None:
    image, mask = _pair(4, 4)
    x, y = SegmentationAugment(crop_size=8, ignore_index=99)(image, mask)
    assert x.shape == (3, 8, 8) and int((y == 99).sum()) == 64 - 16


def _full_aug(**kw) -> SegmentationAugment:
    return SegmentationAugment(
        hflip=0.5, vflip=0.5, scale_range=(0.5, 1.5), crop_size=16, rotation=30, perspective=0.4,
        color_jitter=(0.4, 0.4, 0.4, 0.1), blur=0.5, **kw,
    )  # fmt: skip


def test_seeded_dataset_same_stream_any_workers() -> None:
    tf = Compose([_full_aug(), SegmentationTransform()])

    def stream(workers: int, seed: int) -> list[torch.Tensor]:
        ds = create_dataset("synthetic", num_samples=6, size=24, transforms=tf, seed=seed)
        dl = DataLoader(ds, batch_size=2, num_workers=workers, worker_init_fn=seed_worker, generator=make_generator(0))
        return [t for batch in dl for t in batch]

    a = stream(0, 1)
    assert all(torch.equal(p, q) for p, q in zip(a, stream(0, 1), strict=True))
    assert all(torch.equal(p, q) for p, q in zip(a, stream(2, 1), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a, stream(0, 2), strict=True))


def test_set_epoch_changes_draws() -> None:
    ds = create_dataset("synthetic", num_samples=2, size=24, transforms=_full_aug(), seed=0)
    first = ds[0]
    ds.set_epoch(1)
    assert not torch.equal(first[0], ds[0][0])
    ds.set_epoch(0)
    assert torch.equal(first[0], ds[0][0])


def test_augment_batch_on_device() -> None:
    images = torch.rand(3, 3, 16, 16)
    masks = torch.randint(0, 4, (3, 16, 16))
    aug = SegmentationAugment(hflip=1.0)
    xi, ym = augment_batch(aug, images, masks)
    assert torch.equal(xi, images.flip(-1)) and torch.equal(ym, masks.flip(-1)) and type(xi) is torch.Tensor
    xi, ym = augment_batch(aug, images, masks, per_sample=False)
    assert torch.equal(ym, masks.flip(-1))


# An image whose pixel value encodes its class: label k -> value 40 k + 20 (fill value 0 is no class).
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    hflip=st.floats(0, 1),
    vflip=st.floats(0, 1),
    lo=st.floats(0.3, 1.0),
    hi=st.floats(1.0, 2.0),
    rotation=st.floats(0, 180),
    perspective=st.floats(0, 0.9),
    crop=st.integers(4, 40),
)
def test_augment_keeps_image_and_mask_aligned(
    seed: int, hflip: float, vflip: float, lo: float, hi: float, rotation: float, perspective: float, crop: int
) -> None:
    g = torch.Generator().manual_seed(seed)
    mask = torch.randint(0, 5, (20, 24), generator=g)
    mask[0, :3] = 255
    image = (mask.clamp(max=5) * 40 + 20).to(torch.uint8).expand(3, -1, -1).clone()
    image[:, mask == 255] = 250
    aug = SegmentationAugment(
        hflip=hflip, vflip=vflip, scale_range=(lo, hi), crop_size=crop, rotation=rotation, perspective=perspective,
        interpolation=InterpolationMode.NEAREST,
    )  # fmt: skip
    torch.manual_seed(seed)
    x, y = aug(image, mask)
    y = y.as_subclass(torch.Tensor)
    assert x.shape[-2:] == y.shape == (crop, crop)
    labels = set(y.unique().tolist())
    assert labels <= {0, 1, 2, 3, 4, 255}
    decoded = torch.full_like(y, 255)
    known = (x[0] >= 20) & (x[0] <= 180)
    decoded[known] = (x[0][known].long() - 20) // 40
    assert torch.equal(decoded, y)  # filled pixels (0) and original ignore (250) both decode to 255


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), num_classes=st.integers(1, 9))
def test_full_augmentation_labels_stay_valid(seed: int, num_classes: int) -> None:
    ds = create_dataset(
        "synthetic", num_samples=1, size=20, num_classes=num_classes, transforms=Compose([_full_aug(), SegmentationTransform()]),
        seed=seed,
    )  # fmt: skip
    x, y = ds[0]
    assert x.shape == (3, 16, 16) and y.dtype == torch.int64
    valid = y[y != 255]
    assert valid.numel() == 0 or (int(valid.min()) >= 0 and int(valid.max()) < num_classes)


# -- ignore_index comes from the dataset's metadata ------------------------------------------------------------
def _pad_everything() -> Compose:
    """An augmentation and a transform that both pad (crop larger than the image, rotation, pad_crop)."""
    return Compose([SegmentationAugment(crop_size=14, rotation=30), SegmentationTransform((16, 16), mode="pad_crop")])


def test_dataset_transforms_fill_with_the_metadata_ignore_index() -> None:
    ds = create_dataset(
        "synthetic", num_samples=2, size=8, num_classes=3, ignore_index=7, transforms=_pad_everything(), seed=0
    )
    _, y = ds[0]
    values = set(y.unique().tolist())
    assert 7 in values and 255 not in values and values <= {0, 1, 2, 7}
    assert bool((y[14:] == 7).all()) and bool((y[:, 14:] == 7).all())  # pad_crop's border


def test_folder_dataset_with_negative_ignore_index(make_folder) -> None:
    root = make_folder({"num_classes": 3, "ignore_index": -100})
    ds = create_dataset("folder", root=root, transforms=_pad_everything(), seed=1)
    _, y = ds[0]
    assert set(y.unique().tolist()) - {0, 1, 2} == {-100}


def test_explicit_ignore_index_that_contradicts_the_dataset_is_an_error() -> None:
    aug = SegmentationAugment(crop_size=12, ignore_index=255)
    ds = create_dataset("synthetic", num_samples=1, size=8, num_classes=3, ignore_index=7, transforms=aug)
    with pytest.raises(ConfigError, match=r"ignore_index=255 but dataset 'synthetic' has metadata ignore_index=7"):
        ds[0]
    same = SegmentationAugment(crop_size=12, ignore_index=7)
    ds.transforms = same
    assert int(ds[0][1].max()) == 7


def test_standalone_transforms_default_to_255_and_follow_a_metadata_scope() -> None:
    from seg_data.metadata import DatasetMetadata
    from seg_data.transforms import DEFAULT_IGNORE_INDEX, metadata_scope

    image, mask = _pair(4, 4)
    aug = SegmentationAugment(crop_size=6)
    assert DEFAULT_IGNORE_INDEX == 255 and int(aug(image, mask)[1].max()) == 255
    with metadata_scope(DatasetMetadata("custom", 3, ignore_index=42)):
        assert int(aug(image, mask)[1].max()) == 42
        assert int(aug.batch(image[None], mask[None])[1].max()) == 42
        assert int(SegmentationTransform((6, 6), mode="pad_crop")(image, mask)[1].max()) == 42
    assert int(aug(image, mask)[1].max()) == 255


# -- one conversion path ------------------------------------------------------------------------------------
def test_transforms_receive_tv_tensors_and_the_dataset_returns_plain_tensors() -> None:
    from torchvision import tv_tensors

    seen: list[tuple[type, type, torch.dtype]] = []

    def spy(image, mask):
        seen.append((type(image), type(mask), image.dtype))
        return image, mask

    ds = create_dataset(
        "synthetic", num_samples=1, size=8, transforms=Compose([spy, SegmentationAugment(hflip=1.0), spy])
    )
    x, y = ds[0]
    assert seen == [(tv_tensors.Image, tv_tensors.Mask, torch.uint8)] * 2
    assert type(x) is torch.Tensor and type(y) is torch.Tensor and x.dtype == torch.float32


def test_uint8_is_scaled_to_float_in_one_place() -> None:
    plain = create_dataset("synthetic", num_samples=2, size=16)
    transformed = create_dataset("synthetic", num_samples=2, size=16, transforms=SegmentationTransform())
    for i in range(2):
        assert torch.equal(plain[i][0], transformed[i][0]) and torch.equal(plain[i][1], transformed[i][1])
