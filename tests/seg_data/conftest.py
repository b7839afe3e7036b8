"""Builders of tiny dataset trees in the official layouts (real label encodings, no downloads)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ._trees import raw_mask, write_image, write_mask

os.environ.setdefault("SEG_STRICT_PLUGINS", "1")


@pytest.fixture
def make_cityscapes(tmp_path: Path) -> Callable[..., Path]:
    def build(nested: bool = False) -> Path:
        root = tmp_path / "cs"
        base = root / "cityscapes" if nested else root
        for split, city in (("train", "aachen"), ("val", "frankfurt")):
            for k in range(2):
                stem = f"{city}_00000{k}_000019"
                write_image(base / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", k)
                write_mask(
                    base / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", raw_mask([7, 33, 0, 9, 26, 24])
                )
        return root

    return build


@pytest.fixture
def make_voc(tmp_path: Path) -> Callable[..., Path]:
    def build() -> Path:
        base = tmp_path / "voc" / "VOCdevkit" / "VOC2012"
        stems = ["2007_000032", "2007_000039", "2007_000063"]
        for i, s in enumerate(stems):
            write_image(base / "JPEGImages" / f"{s}.jpg", i)
            write_mask(base / "SegmentationClass" / f"{s}.png", raw_mask([0, 1, 15, 20, 255]), palette=True)
        (base / "ImageSets" / "Segmentation").mkdir(parents=True)
        (base / "ImageSets" / "Segmentation" / "train.txt").write_text("2007_000039\n2007_000032\n")
        (base / "ImageSets" / "Segmentation" / "val.txt").write_text("2007_000063\n")
        return tmp_path / "voc"

    return build


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    def build(metadata: dict | None = None) -> Path:
        root = tmp_path / "folder"
        for i, s in enumerate(["b", "a", "c"]):
            write_image(root / "images" / f"{s}.png", i)
            write_mask(root / "masks" / f"{s}.png", raw_mask([i % 3, 1, 2]))
        if metadata is not None:
            (root / "metadata.json").write_text(json.dumps(metadata))
        return root

    return build
