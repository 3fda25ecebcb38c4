"""The Bible Retrieval System reader: LZW streams as `compress` writes them, and the windowed file."""

import random
import shutil
import struct
import subprocess

import pytest

from charlstm.catalog import brs


def _compress(data: bytes, max_bits: int = 16, clear_when_full: bool = False) -> bytes:
    """Naive reference `compress` (block mode, no header), written from compress.c's output():
    codes go out in groups of n_bits bytes; a group is flushed whole (padded) when the code
    width grows or the table is cleared, and only as far as used at the end."""
    out, group, offset = bytearray(), 0, 0
    n_bits, max_code, max_max = 9, 511, 1 << max_bits
    table = {bytes([i]): i for i in range(256)}
    free = brs.FIRST

    def flush(final=False):  # mid-stream a whole group of n_bits bytes; at the end only the bytes used
        nonlocal group, offset
        if offset:
            out.extend(group.to_bytes((offset + 7) // 8 if final else n_bits, "little"))
        group, offset = 0, 0

    def output(code, clearing=False):
        nonlocal group, offset, n_bits, max_code
        group |= code << offset
        offset += n_bits
        if offset == n_bits * 8:
            flush()
        if free > max_code or clearing:
            flush()
            if clearing:
                n_bits, max_code = 9, 511
            else:
                n_bits += 1
                max_code = max_max if n_bits == max_bits else (1 << n_bits) - 1

    ent = data[:1]
    for c in data[1:]:
        nxt = ent + bytes([c])
        if nxt in table:
            ent = nxt
            continue
        output(table[ent])
        ent = bytes([c])
        if free < max_max:
            table[nxt] = free
            free += 1
        elif clear_when_full:
            table = {bytes([i]): i for i in range(256)}
            free = brs.FIRST
            output(brs.CLEAR, clearing=True)
    if ent:
        output(table[ent])
    flush(final=True)
    return bytes(out)


def _text(n: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    words = [b"in", b"the", b"beginning", b"God", b"created", b"heaven", b"and", b"earth", b"light", b"waters"]
    words += [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randrange(2, 9))) for _ in range(400)]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + rng.choice([b" ", b" ", b", ", b".\n"])
    return bytes(out[:n])


@pytest.mark.parametrize("n", [1, 2, 300, 5_000, 200_000])  # 200K chars take the codes past 9..16 bits
def test_lzw_round_trip_against_reference_compressor(n):
    data = _text(n)
    assert brs.lzw_decompress(_compress(data)) == data


def test_lzw_table_clears_are_followed():
    data = _text(60_000, seed=1)
    packed = _compress(data, max_bits=10, clear_when_full=True)
    assert brs.lzw_decompress(packed, max_bits=10) == data


@pytest.mark.skipif(shutil.which("gzip") is None, reason="gzip (an independent .Z decoder) not installed")
def test_reference_compressor_agrees_with_gzip():
    """gzip reads .Z files: this pins the reference compressor (and so the decoder) to the real format."""
    data = _text(200_000, seed=2)
    for bits, clear in ((16, False), (10, True)):
        z = b"\x1f\x9d" + bytes([0x80 | bits]) + _compress(data, bits, clear)
        assert subprocess.run(["gzip", "-dc"], input=z, capture_output=True, check=True).stdout == data


def test_windowed_file_is_read_whole():
    data = _text(10_000, seed=3)
    wsize = 4096
    windows = [_compress(data[i : i + wsize]) for i in range(0, len(data), wsize)]
    header = brs.MAGIC + b"test".ljust(80, b"\0") + struct.pack(">ii", wsize, len(windows))
    offsets, at = [], len(header) + 4 * (len(windows) + 1)
    for w in windows:
        offsets.append(at)
        at += len(w)
    raw = header + struct.pack(f">{len(windows) + 1}i", *offsets, at) + b"".join(windows)
    assert brs.read(raw) == data
    with pytest.raises(ValueError, match="EC02"):
        brs.read(b"XX01" + raw[4:])
    truncated = raw[: offsets[1] - 10] + raw[offsets[1] :]  # window 0 loses bytes: wrong size
    bad = truncated[:92] + struct.pack(f">{len(windows) + 1}i", offsets[0], *(o - 10 for o in offsets[1:]), at - 10)
    with pytest.raises(ValueError, match="window 0"):
        brs.read(bad + truncated[92 + 4 * (len(windows) + 1) :])
