"""File-system helpers: locate a layout under a root, pair files by stem, read split lists safely."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from seg_data.errors import DatasetError, LayoutError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def layout_error(name: str, root: Path, tree: str, problem: str) -> LayoutError:
    """Return a :class:`LayoutError` that shows the expected tree."""
    return LayoutError(
        f"{name}: {problem} (root={str(root)!r}). Expected layout under root:\n{tree.rstrip()}\n"
        f"See docs/data/{name}.md."
    )


def locate(root: str | Path, name: str, tree: str, candidates: Sequence[str], marker: str) -> Path:
    """Return the first ``root / candidate`` that contains ``marker``.

    ``candidates`` lists the accepted nestings (``""`` = root itself, then the archive's extra folders).

    Raises:
        LayoutError: ``root`` is missing or no candidate contains ``marker``.
    """
    base = Path(root).expanduser()
    if not base.is_dir():
        raise layout_error(name, base, tree, "root directory does not exist")
    for cand in candidates:
        path = base / cand if cand else base
        if (path / marker).exists():
            return path
    tried = ", ".join(repr(str(Path(c) / marker)) for c in candidates)
    raise layout_error(name, base, tree, f"none of {tried} exists")


def first_existing(base: Path, options: Iterable[str]) -> Path | None:
    """Return the first existing ``base / option`` (as-unzipped nesting or flattened form)."""
    for opt in options:
        if (base / opt).exists():
            return base / opt
    return None


def list_files(directory: Path, suffixes: Sequence[str] = IMAGE_SUFFIXES, *, recursive: bool = False) -> list[Path]:
    """Sorted files of ``directory`` with one of ``suffixes`` (case-insensitive)."""
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in directory.glob(pattern) if p.is_file() and p.suffix.lower() in suffixes)


def index_by_stem(files: Iterable[Path], strip: str = "", *, what: str) -> dict[str, Path]:
    """Map ``stem`` (minus the ``strip`` suffix) -> path; duplicate stems are an error naming both files."""
    out: dict[str, Path] = {}
    for f in files:
        stem = f.stem
        if strip and stem.endswith(strip):
            stem = stem[: -len(strip)]
        if stem in out:
            raise DatasetError(f"two {what} files share the stem {stem!r}: {out[stem]} and {f}")
        out[stem] = f
    return out


def pair_by_stem(
    images: dict[str, Path],
    masks: dict[str, Path] | None,
    *,
    name: str,
    keys: Sequence[str] | None = None,
    mask_hint: Callable[[str], str] | None = None,
) -> list[tuple[str, Path, Path | None]]:
    """Pair images and masks by stem (never by position), sorted by stem.

    Args:
        images: stem -> image path.
        masks: stem -> mask path, or None for splits without annotations.
        name: Dataset name for messages.
        keys: Restrict to these stems (from a split list); each must have an image.
        mask_hint: stem -> expected mask path text for the error message.

    Raises:
        DatasetError: An image without mask or a mask without image (names the file).
    """
    if keys is None:
        stems = sorted(images)
    else:
        stems = list(dict.fromkeys(keys))
        for s in stems:
            if s not in images:
                raise DatasetError(f"{name}: split list names {s!r} but no image with that stem exists")
    pairs: list[tuple[str, Path, Path | None]] = []
    for s in stems:
        if masks is None:
            pairs.append((s, images[s], None))
            continue
        mask = masks.get(s)
        if mask is None:
            where = mask_hint(s) if mask_hint else f"a mask with stem {s!r}"
            raise DatasetError(f"{name}: image {images[s]} has no mask (expected {where})")
        pairs.append((s, images[s], mask))
    if masks is not None and keys is None:
        orphans = sorted(set(masks) - set(images))
        if orphans:
            raise DatasetError(f"{name}: mask {masks[orphans[0]]} has no image (stem {orphans[0]!r})")
    return pairs


def escapes(entry: str) -> bool:
    """True when ``entry`` is not a plain relative path: absolute, a drive (``C:``), empty, or with a ``..`` part.

    Backslashes count as separators (paths written on Windows).

    Example:
        >>> escapes("train"), escapes("a/b"), escapes("../x"), escapes("/etc"), escapes("C:/x")
        (False, False, True, True, True)
    """
    text = entry.replace("\\", "/")
    return not text.strip() or text.startswith("/") or (len(text) > 1 and text[1] == ":") or ".." in text.split("/")


def resolves_inside(path: Path, base: Path) -> bool:
    """True when ``path`` resolved (symlinks followed) stays inside ``base`` resolved."""
    return path.resolve().is_relative_to(base.resolve())


def read_split_list(path: Path, root: Path, *, name: str) -> list[str]:
    """Read a split list (one stem or relative path per line) and refuse entries that escape ``root``.

    Backslashes are read as separators. Absolute entries, ``..`` components and entries that resolve outside
    ``root`` (through a symlink) are rejected; so is a list file that itself resolves outside ``root``.

    Returns:
        The stems (last path component without suffix), in file order.

    Raises:
        LayoutError: The list file is missing.
        DatasetError: An entry is absolute, contains ``..`` or resolves outside ``root``; the list resolves outside
            ``root``, cannot be read or is not text; or it lists no entry.
    """
    if not path.is_file():
        raise LayoutError(f"{name}: split list {path} does not exist")
    if not resolves_inside(path, root):
        raise DatasetError(
            f"{name}: split list {path} resolves outside the dataset root {root} (a symlink out); "
            "keep split lists inside the root"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"{name}: cannot read split list {path}: {type(exc).__name__}: {exc}; it must be a UTF-8 text file "
            "with one stem per line"
        ) from exc
    stems: list[str] = []
    root_resolved = root.resolve()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entry = line.split()[0].replace("\\", "/")
        parts = entry.split("/")
        if escapes(entry):
            raise DatasetError(
                f"{name}: {path}:{lineno}: entry {line!r} points outside the dataset root; "
                "split lists may only hold stems or paths relative to the root"
            )
        if not (root_resolved / entry).resolve().is_relative_to(root_resolved):
            raise DatasetError(f"{name}: {path}:{lineno}: entry {line!r} resolves outside {root}")
        stems.append(Path(parts[-1]).stem if "." in parts[-1] else parts[-1])
    if not stems:
        raise DatasetError(f"{name}: split list {path} lists no sample (empty split); add one stem per line")
    return stems
