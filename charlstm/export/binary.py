"""The weights file of the `web` and `js` exports (`model.bin`): one JSON header, then the arrays.

Layout (all integers little-endian):
    bytes 0-7    magic b"CHARLSTM"
    bytes 8-11   uint32 format version (1)
    bytes 12-15  uint32 n: length of the header in bytes
    16 .. 16+n   header: UTF-8 JSON, padded with spaces so the data starts at a multiple of 8
    then         the arrays, each starting at a multiple of 8 from the data start, row-major,
                 little-endian float16 or float32 (the header's "dtype")

Header fields: "format" ("charlstm-weights"), "dtype", "cell", "layers", "units",
"vocabulary" (id = index), "lowercase", "prime" (the default prime), and "arrays": a list
of {"name", "shape", "offset"} (offset in bytes from the data start). Array names and
shapes: charlstm/export/arrays.py. The reader is `readWeights` in js/charlstm.mjs.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from charlstm.errors import CheckpointError
from charlstm.export.arrays import NetworkArrays

MAGIC = b"CHARLSTM"
VERSION = 1


def _pad(n: int, align: int = 8) -> int:
    return -n % align


def encode(net: NetworkArrays, precision: str = "float16") -> bytes:
    """The weights file's bytes, arrays cast to `precision` (float16 rounds to nearest)."""
    dtype = np.dtype(precision).newbyteorder("<")
    entries, blobs, offset = [], [], 0
    for name, a in net.arrays.items():
        data = a.astype(dtype).tobytes()
        entries.append({"name": name, "shape": list(a.shape), "offset": offset})
        blobs.append(data + b"\0" * _pad(len(data)))
        offset += len(blobs[-1])
    header = {
        "format": "charlstm-weights",
        "dtype": precision,
        "cell": net.cell,
        "layers": net.layers,
        "units": net.units,
        "vocabulary": net.vocabulary,
        "lowercase": net.lowercase,
        "prime": net.prime_excerpt,
        "arrays": entries,
    }
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    text += b" " * _pad(16 + len(text))
    return MAGIC + struct.pack("<II", VERSION, len(text)) + text + b"".join(blobs)


def decode(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, float32 arrays) from a weights file: what the JavaScript reader does, for tests and tools."""
    if data[:8] != MAGIC or len(data) < 16:
        raise CheckpointError("not a charlstm weights file")
    version, n = struct.unpack("<II", data[8:16])
    if version > VERSION:
        raise CheckpointError(f"weights file version {version} is newer than this charlstm understands ({VERSION})")
    header = json.loads(data[16 : 16 + n].decode("utf-8"))
    dtype, start = np.dtype(header["dtype"]).newbyteorder("<"), 16 + n
    arrays = {}
    for e in header["arrays"]:
        count = int(np.prod(e["shape"]))
        a = np.frombuffer(data, dtype, count, start + e["offset"])
        arrays[e["name"]] = a.reshape(e["shape"]).astype(np.float32)
    return header, arrays
