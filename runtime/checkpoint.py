"""Safetensors files, read and written without extra dependencies.

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length,
a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
then the raw little-endian data. Tensors are written in the order given and read back in data
order, so a file keeps definition order. Writes are atomic: a temporary file in the same
directory is renamed over the target, so a crash never leaves a half-written checkpoint.

`save` stores the SHA-256 of the data section (every byte after the header) in the metadata
under CHECKSUM, and `load` refuses a file whose data no longer matches it: a flipped bit would
otherwise load as a wrong weight without a word. Files written elsewhere have no checksum and
still load; the metadata then lacks CHECKSUM, so a caller can say that nothing was verified.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
          "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}
MAX_HEADER = 100 << 20  # the reference implementation's limit
CHECKSUM = "data_sha256"  # metadata key: hex SHA-256 of the data section


class CheckpointError(ValueError):
    """A file that is not a readable checkpoint; the message names the file and the problem."""


def save(path: str | Path, tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None
         ) -> None:
    """Write `tensors` (name -> array, any array with `__array__`) to a .safetensors file,
    with `metadata` and the data's checksum."""
    entries: dict[str, Any] = {}
    arrays, offset, digest = [], 0, hashlib.sha256()
    for name, value in tensors.items():
        a = np.ascontiguousarray(np.asarray(value))
        if a.dtype not in CODES:
            raise TypeError(f"'{name}': safetensors has no dtype for {a.dtype}")
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        entries[name] = {"dtype": CODES[a.dtype.newbyteorder("=")], "shape": list(a.shape),
                         "data_offsets": [offset, offset + a.nbytes]}
        arrays.append(a)
        digest.update(a.data)  # the bytes written below, in the same order
        offset += a.nbytes
    header = {"__metadata__": dict(metadata or {}) | {CHECKSUM: digest.hexdigest()}} | entries
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keep the data 8-byte aligned
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for a in arrays:
                f.write(a.tobytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors in data order, metadata) of a .safetensors file; CheckpointError if broken or
    if its data does not match the checksum in its metadata (metadata without CHECKSUM: not
    verified)."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read: {e.strerror}") from None
    if len(blob) < 8:
        raise CheckpointError(f"{path}: not a safetensors file ({len(blob)} bytes)")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > min(MAX_HEADER, len(blob) - 8):
        raise CheckpointError(f"{path}: not a safetensors file, or truncated (header of "
                              f"{size} bytes in a file of {len(blob)})")
    try:
        header = json.loads(blob[8:8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    data = memoryview(blob)[8 + size:]
    entries = sorted(header.items(), key=lambda kv: _offsets(path, kv)[0])
    tensors, end = {}, 0
    for name, entry in entries:
        begin, stop = _offsets(path, (name, entry))
        dtype, shape = DTYPES.get(entry.get("dtype")), entry.get("shape")
        if dtype is None or not (isinstance(shape, list)
                                 and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise CheckpointError(f"{path}: tensor '{name}' has an unknown dtype or no shape")
        if begin != end or stop > len(data) or stop - begin != math.prod(shape) * np.dtype(
                dtype).itemsize:
            raise CheckpointError(f"{path}: tensor '{name}' has inconsistent data offsets "
                                  "(truncated or corrupt file)")
        tensors[name] = np.frombuffer(data[begin:stop], dtype=np.dtype(dtype).newbyteorder("<")
                                      ).reshape(shape).copy()
        end = stop
    if end != len(data):
        raise CheckpointError(f"{path}: {len(data) - end} bytes after the last tensor "
                              "(corrupt file)")
    if CHECKSUM in metadata and hashlib.sha256(data).hexdigest() != metadata[CHECKSUM]:
        raise CheckpointError(f"{path}: tensor data does not match its checksum: the file is "
                              "corrupt (changed after it was written); use another copy or "
                              "write it again")
    return tensors, metadata


def _offsets(path: Path, item: tuple[str, Any]) -> tuple[int, int]:
    name, entry = item
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(isinstance(o, int) for o in offsets) and 0 <= offsets[0] <= offsets[1]):
        raise CheckpointError(f"{path}: tensor '{name}' has no valid data_offsets")
    return offsets[0], offsets[1]
