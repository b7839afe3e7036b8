"""A small TOML writer for the configs ``seg plan`` prints (seg-3d does not depend on a TOML library).

It writes what a training config holds: tables of strings, integers, floats, booleans, lists and
inline tables, with ``#`` comments. Python 3.11's ``tomllib`` reads the output back.

Example:
    >>> print(dumps({"model": {"encoder_strides": [[1, 2, 2], [2, 2, 2]]}, "data": {"loader": {"batch_size": 2}}}))
    [model]
    encoder_strides = [[1, 2, 2], [2, 2, 2]]
    <BLANKLINE>
    [data.loader]
    batch_size = 2
    <BLANKLINE>
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dumps", "value"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key)


def value(item: Any) -> str:
    """One TOML value (strings, ints, floats, bools, lists and inline tables).

    Raises:
        ValueError: None, NaN / infinity, or an unsupported type (TOML has no null).

    Example:
        >>> value({"name": "dice", "mode": "multiclass"}), value(3e-05), value([True, 1.5])
        ('{ name = "dice", mode = "multiclass" }', '3e-05', '[true, 1.5]')
    """
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if not math.isfinite(item):
            raise ValueError(f"TOML configs hold finite numbers only, got {item!r}")
        return repr(item)
    if isinstance(item, str):
        return json.dumps(item, ensure_ascii=False)
    if isinstance(item, Mapping):
        if not item:
            return "{}"
        return "{ " + ", ".join(f"{_key(str(k))} = {value(v)}" for k, v in item.items()) + " }"
    if isinstance(item, Sequence):
        return "[" + ", ".join(value(v) for v in item) + "]"
    raise ValueError(f"cannot write {item!r} ({type(item).__name__}) as a TOML value")


def _comment(lines: Sequence[str]) -> list[str]:
    out = []
    for line in lines:
        out += [f"# {part}".rstrip() for part in str(line).splitlines() or [""]]
    return out


def dumps(
    tables: Mapping[str, Mapping[str, Any]],
    *,
    header: Sequence[str] = (),
    comments: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """A TOML document: one ``[table]`` per top-level key; nested mappings become sub-tables.

    Args:
        tables: ``{"model": {...}, "data": {...}}``; a non-empty mapping inside a table becomes a
            sub-table ``[table.sub]`` written after the table's own keys (mappings inside lists stay inline).
        header: Comment lines at the top.
        comments: Comment lines written above a table, by its dotted name.

    Returns:
        The document.
    """
    comments = comments or {}
    out = _comment(header)
    if out:
        out.append("")

    def table(name: str, body: Mapping[str, Any]) -> None:
        plain = {k: v for k, v in body.items() if not isinstance(v, Mapping) or not v}
        nested = {k: v for k, v in body.items() if isinstance(v, Mapping) and v}
        out.extend(_comment(comments.get(name, ())))
        if plain or not nested:  # a table holding only sub-tables needs no header of its own
            out.append(f"[{name}]")
            out.extend(f"{_key(k)} = {value(v)}" for k, v in plain.items())
            out.append("")
        for key, sub in nested.items():
            table(f"{name}.{_key(key)}", sub)

    for name, body in tables.items():
        table(_key(name), body)
    return "\n".join(out)
