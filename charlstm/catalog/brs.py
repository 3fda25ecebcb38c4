"""Read the King James Bible as Debian's `bible-kjv-text` stores it (`/usr/lib/bible.data`).

The Bible Retrieval System (Chip Chapin, 1989-93) keeps the text in "windows" of
`wsize` bytes, each compressed on its own with the LZW of Unix `compress`, so that a
reader can decompress one window without the others. File layout, integers big-endian:

    0-1    magic "EC"        2-3   version "02"       4-83  description (NUL-padded)
    84-87  window size       88-91 number of windows n
    92-    n+1 file offsets: window i is bytes [offset[i], offset[i+1])

Each window is a `compress -b 16` stream (block mode, CLEAR = 256, codes of 9 to 16
bits, no 3-byte header), decoded here exactly as compress's `getcode` reads it: codes
come in groups of `n_bits` bytes (8 codes), and a group is abandoned whenever the code
width grows or the table is cleared. Decoding the whole Bible takes ~3.5 s.
"""

from __future__ import annotations

import struct

MAGIC = b"EC02"
MAX_BITS = 16  # the BRS library compiles compress with BITS = 16
CLEAR = 256
FIRST = 257


def lzw_decompress(data: bytes, max_bits: int = MAX_BITS) -> bytes:
    """Decode one headerless, block-mode `compress` stream."""
    max_max = 1 << max_bits
    table = [bytes([i]) for i in range(256)] + [b""] * (max_max - 256)
    out: list[bytes] = []
    n_bits, max_code, free = 9, 511, FIRST
    pos, offset, size, clear, group = 0, 0, 0, False, 0
    old = -1
    while True:
        if clear or offset >= size or free > max_code:
            if free > max_code:
                n_bits += 1
                max_code = max_max if n_bits == max_bits else (1 << n_bits) - 1
            if clear:
                n_bits, max_code, clear = 9, 511, False
            n = min(n_bits, len(data) - pos)
            if n <= 0:
                break
            group = int.from_bytes(data[pos : pos + n], "little")
            pos += n
            offset, size = 0, n * 8 - (n_bits - 1)
        code = (group >> offset) & ((1 << n_bits) - 1)
        offset += n_bits
        if old < 0:  # the first code is a literal
            out.append(table[code])
            old = code
        elif code == CLEAR:  # the next code is read at 9 bits and decoded against the old `old`
            clear, free = True, CLEAR
        else:
            entry = table[code] if code < free else table[old] + table[old][:1]  # the KwKwK case
            out.append(entry)
            if free < max_max:
                table[free] = table[old] + entry[:1]
                free += 1
            old = code
    return b"".join(out)


def read(raw: bytes) -> bytes:
    """The whole uncompressed text of a BRS data file."""
    if raw[:4] != MAGIC or len(raw) < 92:
        raise ValueError("not a Bible Retrieval System data file (no EC02 header)")
    wsize, wnum = struct.unpack(">ii", raw[84:92])
    offsets = struct.unpack(f">{wnum + 1}i", raw[92 : 92 + 4 * (wnum + 1)])
    windows = []
    for i in range(wnum):
        window = lzw_decompress(raw[offsets[i] : offsets[i + 1]])
        if len(window) != wsize and i != wnum - 1:  # only the last window may be short
            raise ValueError(f"window {i} decompresses to {len(window)} bytes, not {wsize}")
        windows.append(window)
    return b"".join(windows)
