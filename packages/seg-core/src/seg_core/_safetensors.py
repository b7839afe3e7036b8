"""Minimal reader/writer for the safetensors format (no dependency on ``safetensors``).

Layout: 8-byte little-endian header length, a JSON header mapping each tensor
name to ``{"dtype", "shape", "data_offsets"}`` (plus optional ``__metadata__``),
then the raw little-endian bytes. Files written here load with the official
``safetensors`` package and vice versa.
"""

from __future__ import annotations

import ctypes
import json
import math
import struct
from collections.abc import Mapping
from pathlib import Path

import torch

from seg_core.errors import CheckpointError

__all__ = ["load_file", "save_bytes"]

_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
for _name, _attr in (
    ("F8_E4M3", "float8_e4m3fn"),
    ("F8_E5M2", "float8_e5m2"),
    ("U16", "uint16"),
    ("U32", "uint32"),
    ("U64", "uint64"),
):
    if hasattr(torch, _attr):
        _DTYPES[_name] = getattr(torch, _attr)
_NAMES = {v: k for k, v in _DTYPES.items()}


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    t = tensor.detach().to("cpu").contiguous()
    nbytes = t.numel() * t.element_size()
    if nbytes == 0:
        return b""
    return ctypes.string_at(t.data_ptr(), nbytes)


def save_bytes(tensors: Mapping[str, torch.Tensor], metadata: Mapping[str, str] | None = None) -> bytes:
    """Serialise ``tensors`` to safetensors bytes.

    Raises:
        CheckpointError: A tensor has a dtype safetensors cannot store.
    """
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(tensors):
        tensor = tensors[name]
        if tensor.dtype not in _NAMES:
            raise CheckpointError(f"cannot save tensor {name!r} of dtype {tensor.dtype} in safetensors")
        data = _tensor_bytes(tensor)
        header[name] = {
            "dtype": _NAMES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(chunks)


def load_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file into CPU tensors.

    Raises:
        CheckpointError: The file is missing, truncated or corrupt (the message names it).
    """
    path = Path(path)
    try:
        data = bytearray(path.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"cannot read weights file {path}: {exc}") from exc

    def corrupt(reason: str) -> CheckpointError:
        return CheckpointError(f"{path} is not a valid safetensors file ({reason}); it may be truncated or corrupt")

    if len(data) < 8:
        raise corrupt("shorter than its 8-byte header length")
    (size,) = struct.unpack("<Q", bytes(data[:8]))
    if size > len(data) - 8:
        raise corrupt(f"header claims {size} bytes but the file has {len(data) - 8}")
    try:
        header = json.loads(bytes(data[8 : 8 + size]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise corrupt(f"header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise corrupt("header is not a JSON object")
    base = 8 + size
    out: dict[str, torch.Tensor] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _DTYPES[spec["dtype"]]
            shape = [int(s) for s in spec["shape"]]
            start, end = (int(v) for v in spec["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise corrupt(f"bad entry for {name!r}: {exc}") from exc
        itemsize = torch.empty((), dtype=dtype).element_size()
        count = math.prod(shape)
        if end - start != count * itemsize or start < 0 or base + end > len(data):
            raise corrupt(f"tensor {name!r} does not fit its declared shape {shape} and offsets")
        if count == 0:
            out[name] = torch.empty(shape, dtype=dtype)
            continue
        chunk = bytearray(data[base + start : base + end])
        out[name] = torch.frombuffer(chunk, dtype=dtype, count=count).reshape(shape)
    return out
