"""The layout logic every dataset module shares: find the dataset under a root, check splits, pair files.

A dataset module declares a :class:`Layout` (its expected tree, the nestings archives add, the allowed
splits) and describes its folders relative to the located dataset folder; :class:`Located` turns that into
paired samples and the :class:`~seg_data.base.SegmentationDataset`, with errors that show the expected tree.
Nothing here imports torch (the dataset class is imported when a dataset is built), so the dataset modules
stay cheap to import for their metadata.

Example:
    >>> layout = Layout("toy", "<root>/\\n└── images/\\n", splits=("training",), aliases={"train": "training"})
    >>> layout.split("train")
    'training'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from seg_core.errors import ConfigError
from seg_data._files import (
    IMAGE_SUFFIXES,
    escapes,
    first_existing,
    index_by_stem,
    layout_error,
    list_files,
    locate,
    pair_by_stem,
    read_split_list,
)
from seg_data.errors import LayoutError

if TYPE_CHECKING:
    from seg_data.base import Sample, SegmentationDataset, Transform
    from seg_data.metadata import DatasetMetadata

__all__ = ["Layout", "Located"]


@dataclass(frozen=True)
class Layout:
    """How a dataset is laid out under the root its user passes.

    Args:
        name: Registry name (messages and the docs page ``docs/data/<name>.md``).
        tree: The expected tree, shown by every :class:`~seg_data.errors.LayoutError`.
        nestings: Accepted dataset folders relative to the root, in order (``""`` is the root itself, then the
            extra folders archives add).
        marker: A path whose presence identifies the dataset folder among the nestings.
        splits: Allowed split names (on disk); empty allows any.
        aliases: Other accepted split names -> on-disk name (``{"train": "training"}``).
    """

    name: str
    tree: str
    nestings: Sequence[str] = ("",)
    marker: str = ""
    splits: Sequence[str] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)

    def error(self, root: str | Path, problem: str) -> LayoutError:
        """Return a :class:`~seg_data.errors.LayoutError` for ``problem`` that shows the expected tree."""
        return layout_error(self.name, Path(root), self.tree, problem)

    def split(self, split: str, allowed: Sequence[str] | None = None) -> str:
        """Return the on-disk name of ``split``.

        Args:
            split: The split asked for (an on-disk name or an alias).
            allowed: Overrides :attr:`splits` (e.g. splits that depend on an option).

        Returns:
            The on-disk split name.

        Raises:
            ConfigError: Not an allowed split (the message lists the allowed names and aliases), or, for layouts
                that allow any split, a split that is not a plain relative name (absolute, a drive, ``..``): a
                split names a file or folder under the dataset root and may not leave it.
        """
        names = self.splits if allowed is None else allowed
        if not isinstance(split, str):
            raise ConfigError(f"{self.name}: split must be a string, got {type(split).__name__} {split!r}")
        real = self.aliases.get(split, split)
        if not names and escapes(real):
            raise ConfigError(
                f"{self.name}: split={split!r} leaves the dataset root (absolute path, drive or '..'); a split is "
                "the name of a list or folder inside the root, e.g. 'train'"
            )
        if names and real not in names:
            shown = list(names) + [a for a in self.aliases if a not in names]
            raise ConfigError(f"{self.name}: split={split!r} is unknown; use one of {shown}")
        return real

    def locate(
        self,
        root: str | Path,
        split: str | None = None,
        *,
        splits: Sequence[str] | None = None,
        marker: str | None = None,
    ) -> Located:
        """Check ``split`` and find the dataset folder: the first nesting under ``root`` that holds the marker.

        Args:
            root: The folder the user passed.
            split: The split asked for (checked with :meth:`split`); None for a dataset used without split.
            splits: Overrides :attr:`splits` (e.g. splits that depend on an option).
            marker: Overrides :attr:`marker`; ``{split}`` in it stands for the on-disk split name.

        Returns:
            The located dataset.

        Raises:
            ConfigError: Unknown split.
            LayoutError: ``root`` is missing or no nesting holds the marker.
        """
        real = self.split(split, splits) if split is not None else ""
        mark = (self.marker if marker is None else marker).replace("{split}", real)
        return Located(self, Path(root), locate(root, self.name, self.tree, self.nestings, mark), real)


@dataclass(frozen=True)
class Located:
    """A dataset found on disk: its :class:`Layout`, the user's root, the dataset folder and the on-disk split
    (``""`` without split)."""

    layout: Layout
    root: Path
    base: Path
    split: str = ""

    @overload
    def folder(self, *options: str, required: Literal[True] = True) -> Path: ...
    @overload
    def folder(self, *options: str, required: bool) -> Path | None: ...
    def folder(self, *options: str, required: bool = True) -> Path | None:
        """Return the first of ``options`` (paths relative to :attr:`base`) that exists.

        Args:
            *options: Candidate paths, most likely first (as unzipped, then flattened...).
            required: Raise when none exists (else return None).

        Returns:
            The existing path, or None.

        Raises:
            LayoutError: ``required`` and none exists (names the first candidate).
        """
        found = first_existing(self.base, options)
        if found is None and required:
            others = f" (nor {', '.join(options[1:])})" if len(options) > 1 else ""
            raise self.layout.error(self.root, f"{self.base / options[0]} does not exist{others}")
        return found

    def split_list(self, *options: str, required: bool = True) -> list[str] | None:
        """Read the first existing split list among ``options`` (see :func:`seg_data._files.read_split_list`).

        Returns:
            The listed stems in file order, or None when not ``required`` and no list exists.

        Raises:
            LayoutError: ``required`` and no list exists.
            DatasetError: An entry is absolute or escapes the dataset folder, the list resolves outside it, cannot
                be read, or lists nothing.
        """
        found = first_existing(self.base, options)
        if found is None:
            if required:
                raise self.layout.error(self.root, f"split list {self.base / options[0]} does not exist")
            return None
        return read_split_list(found, self.base, name=self.layout.name)

    def pair(
        self,
        images: Path,
        masks: Path | None,
        *,
        keys: Sequence[str] | None = None,
        mask_suffixes: Sequence[str] = (".png",),
        image_pattern: str | None = None,
        mask_pattern: str | None = None,
    ) -> list[Sample]:
        """Pair the image and mask files of two folders by stem (never by position).

        Args:
            images: Image folder.
            masks: Mask folder, or None for a split without annotations.
            keys: Stems from a split list (their order is kept); None pairs every image.
            mask_suffixes: Mask file suffixes (case-insensitive) when ``mask_pattern`` is not given.
            image_pattern: Glob of the images relative to ``images`` whose text after the last ``*`` ends the
                stem (``"*/*_leftImg8bit.png"``: stem without ``_leftImg8bit``); default: files with an image
                suffix directly in ``images``.
            mask_pattern: The same for masks.

        Returns:
            ``(stem, image, mask)`` samples.

        Raises:
            LayoutError: No image at all (an empty split): names the folder searched and the pattern.
            DatasetError: Two files with one stem, an image without mask, a mask without image, or a listed stem
                without image.
        """
        name = self.layout.name
        image_files = _index(images, image_pattern, IMAGE_SUFFIXES, "image")
        if not image_files:
            wanted = image_pattern or f"files with suffix {'/'.join(IMAGE_SUFFIXES)}"
            raise self.layout.error(
                self.root, f"no images found in {images} (searched for {wanted}): the split is empty"
            )
        mask_files = _index(masks, mask_pattern, mask_suffixes, "mask") if masks is not None else None
        tail = f"*{mask_suffixes[0]}" if mask_pattern is None else mask_pattern

        def hint(stem: str) -> str:
            head, _, end = tail.rpartition("*")
            return f"{masks}/{head}{stem}{end}"

        return pair_by_stem(image_files, mask_files, name=name, keys=keys, mask_hint=hint)

    def dataset(
        self,
        samples: Sequence[Sample],
        metadata: DatasetMetadata,
        transforms: Transform | None,
        **kwargs: Any,
    ) -> SegmentationDataset:
        """Build the :class:`~seg_data.base.SegmentationDataset` of ``samples`` rooted at :attr:`base`.

        Args:
            samples: The paired samples.
            metadata: The dataset's metadata.
            transforms: The user's transforms.
            **kwargs: Other :class:`~seg_data.base.SegmentationDataset` arguments (``lut``, ``seed``...).

        Returns:
            The dataset.
        """
        from seg_data.base import SegmentationDataset

        return SegmentationDataset(samples, metadata, transforms, split=self.split, root=self.base, **kwargs)


def _index(folder: Path, pattern: str | None, suffixes: Sequence[str], what: str) -> dict[str, Path]:
    if pattern is None:
        return index_by_stem(list_files(folder, suffixes), what=what)
    strip = pattern.rpartition("*")[2].rpartition(".")[0]
    return index_by_stem(sorted(folder.glob(pattern)), strip, what=what)
