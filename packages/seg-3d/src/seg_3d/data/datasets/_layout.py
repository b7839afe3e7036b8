"""What the file-based volume datasets share: list volume files by stem, pair them, choose a split's cases.

Nothing here imports torch, so the dataset modules stay cheap to import for their metadata builders.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seg_3d.data.errors import VolumeError, VolumeLayoutError
from seg_3d.data.io import volume_stem
from seg_core.errors import ConfigError

__all__ = ["channel_groups", "holdout", "inside", "layout_error", "list_volumes", "read_split_list"]

_CHANNEL = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


def layout_error(name: str, root: Path, problem: str, tree: str) -> VolumeLayoutError:
    """The error of a root that is not laid out as dataset ``name`` expects; shows the expected tree."""
    return VolumeLayoutError(f"{name}: {problem} (root {root}); expected:\n{tree}")


def inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves inside ``root`` (paths from a dataset's files must not leave it)."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def list_volumes(folder: Path) -> dict[str, Path]:
    """The volume files of ``folder`` by stem, sorted; hidden files (``.x``, macOS ``._x``) are skipped.

    Raises:
        VolumeError: Two files with the same stem (``a.nii.gz`` and ``a.npy``), naming both.
    """
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        stem = volume_stem(path)
        if stem is None or path.name.startswith(".") or not path.is_file():
            continue
        if stem in found:
            raise VolumeError(f"{found[stem]} and {path} have the same stem {stem!r}: keep one of them")
        found[stem] = path
    return dict(sorted(found.items()))


def channel_groups(files: dict[str, Path]) -> dict[str, tuple[Path, ...]] | None:
    """Group nnU-Net's per-channel files (``<case>_0000``, ``<case>_0001``...) by case; None if not named so.

    Raises:
        VolumeError: A case whose channel numbers are not ``0000 .. N-1``, or cases with different channel counts.
    """
    matches = {stem: _CHANNEL.match(stem) for stem in files}
    if not files or not all(matches.values()):
        return None
    grouped: dict[str, dict[int, Path]] = {}
    for stem, match in matches.items():
        assert match is not None
        grouped.setdefault(match["case"], {})[int(match["channel"])] = files[stem]
    out: dict[str, tuple[Path, ...]] = {}
    for case, channels in sorted(grouped.items()):
        if sorted(channels) != list(range(len(channels))):
            listed = ", ".join(str(channels[c]) for c in sorted(channels))
            raise VolumeError(
                f"case {case!r}: channel files must be numbered _0000 .. _{len(channels) - 1:04d}: {listed}"
            )
        out[case] = tuple(channels[c] for c in sorted(channels))
    counts = {len(v) for v in out.values()}
    if len(counts) > 1:
        raise VolumeError(f"cases have different numbers of channel files {sorted(counts)}: {sorted(out)[:5]}...")
    return out


def read_split_list(path: Path) -> list[str]:
    """The stems listed in a split file, one per line (blank lines and ``#`` comments skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def holdout(stems: Sequence[str], split: str, *, fold: int, folds: int, owner: str) -> list[str]:
    """The cases of ``split`` (``"train"`` or ``"val"``) in a deterministic ``folds``-fold split of ``stems``.

    The sorted stems are shuffled with a fixed seed and dealt round-robin to the folds; ``val`` is fold ``fold``,
    ``train`` the others (as nnU-Net's five-fold cross-validation, though not with its exact assignment).

    Raises:
        ConfigError: ``fold`` outside ``[0, folds)``, ``folds < 2``, or fewer cases than folds.

    Example:
        >>> stems = [f"case_{i}" for i in range(10)]
        >>> val = holdout(stems, "val", fold=0, folds=5, owner="demo")
        >>> len(val), set(val).isdisjoint(holdout(stems, "train", fold=0, folds=5, owner="demo"))
        (2, True)
    """
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise ConfigError(f"{owner}: folds={folds!r} must be an int >= 2")
    if isinstance(fold, bool) or not isinstance(fold, int) or not 0 <= fold < folds:
        raise ConfigError(f"{owner}: fold={fold!r} must be in [0, {folds})")
    ordered = sorted(stems)
    if len(ordered) < folds:
        raise ConfigError(
            f"{owner}: {len(ordered)} case(s) cannot be split into folds={folds}; lower folds or give explicit splits"
        )
    order = np.random.default_rng(12345).permutation(len(ordered))
    val = {ordered[i] for k, i in enumerate(order) if k % folds == fold}
    return [s for s in ordered if (s in val) == (split == "val")]
