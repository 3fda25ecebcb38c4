"""Encode corpora larger than memory into a memory-mapped file of vocabulary ids.

`encode_corpus` streams through the input files in chunks, twice: pass 1 decodes
(strict UTF-8, BOM dropped, CRLF/CR made LF, optional lower case; the same rules and
messages as corpus.read_corpus) and counts code points to build the vocabulary;
pass 2 decodes again and writes the ids with plain file writes (page cache, not this
process's memory) to a temp file that is fsynced and renamed over the cache path.
Memory stays at a few chunks whatever the corpus size.

The file is the cache: its header records each input's path, size, mtime_ns and a
hash of its first megabyte, the lower-case flag and the format version, so a later
run on unchanged inputs maps it without re-encoding. A header or length that does
not check out, or ids whose CRC32 differs, means the file is rebuilt, never trusted.

File layout: b"CLSTMIDS", uint32 format version, uint32 header length, the header
(JSON), zero padding to a multiple of 64 bytes, then the ids (little-endian, the
vocabulary's dtype: uint8 for up to 256 characters).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import shutil
import struct
import sys
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from charlstm.errors import CorpusError, TrainingError
from charlstm.files import atomic_write
from charlstm.text.corpus import (
    EXCERPT_SPAN,
    Vocabulary,
    check_bom,
    check_text,
    codepoints,
    describe_chars,
    grown_vocabulary,
    normalize_newlines,
    nul_error,
    open_binary,
    prime_excerpt,
    utf8_error,
)

MAGIC = b"CLSTMIDS"
FORMAT_VERSION = 1
CHUNK_SIZE = 16 << 20  # bytes read at a time: peak memory is a small multiple of this
_HEAD_HASH_BYTES = 1 << 20  # the cache key hashes this much of each input's start
_LOWER_HOLD = 1 << 22  # see _Lower: longest text held back waiting for a space or newline
_STEP = 1 << 20  # characters per NumPy step inside a chunk: temporaries of a few MB
_PREFIX = struct.Struct("<8sII")  # magic, format version, header length


@dataclass
class IdCorpus:
    """A corpus as ids in a read-only memory-mapped file."""

    ids: np.memmap  # (chars,) vocabulary ids, read-only, backed by `path`
    vocab: Vocabulary  # the ids index into it (a resumed checkpoint's when one was given)
    chars: int  # number of characters (== len(ids))
    excerpt: str  # a line start from the text's first part: the default prime
    path: Path  # the id file
    reused: bool  # True when an existing file was mapped without re-encoding

    def read(self, start: int, stop: int) -> np.ndarray:
        """ids[start:stop] copied with pread: unlike slicing the memmap, this leaves no
        file pages counted in this process's RSS (they stay in the OS page cache)."""
        out = np.empty(stop - start, self.vocab.dtype)
        offset = self.ids.offset + start * out.itemsize
        with open(self.path, "rb") as f:
            f.seek(offset)
            if f.readinto(memoryview(out).cast("B")) != out.nbytes:
                raise CorpusError(f"{self.path}: shorter than its header says; delete it to re-encode")
        return out

    def release_pages(self) -> None:
        """Drop the memmap's pages from this process (MADV_DONTNEED; they stay in the page
        cache): reading a whole epoch through `ids` otherwise counts every page in RSS."""
        self.ids._mmap.madvise(mmap.MADV_DONTNEED)


def encode_corpus(
    paths: list[str],
    cache_path: Path,
    *,
    lowercase: bool = False,
    vocabulary: str | None = None,
    grow: bool = False,
    seed: int = 0,
    chunk_size: int = CHUNK_SIZE,
) -> IdCorpus:
    """The corpus `paths` (files, or '-' for stdin, once) as ids mapped from `cache_path`.

    Reuses `cache_path` when it was built from the same unchanged inputs; otherwise
    encodes and writes it atomically. `vocabulary` is a resumed checkpoint's: the text
    must not bring characters outside it; with `grow` (a fine-tune's start), the text's new
    characters are appended to it instead (`corpus.grown_vocabulary`). `seed` picks the prime excerpt.
    Stdin cannot be read twice, so it is first spooled to a temp file beside
    `cache_path` (disk, not memory), and a corpus that includes stdin is never reused.
    """
    cache_path = Path(cache_path)
    if list(paths).count("-") > 1:
        raise CorpusError("stdin ('-') can be given only once")
    for p in paths:
        if p != "-":
            open_binary(p).close()  # missing/directory/permission errors before anything is written
    made = _make_parent(cache_path)
    spool = None
    try:
        spool = _spool_stdin(cache_path, chunk_size) if "-" in paths else None
        inputs = [(("<stdin>", spool) if p == "-" else (p, Path(p))) for p in paths]
        key = None if spool else _key(inputs, lowercase)
        found = _load(cache_path, key, vocabulary, grow) if key else None
        reused = found is not None
        if not reused:
            _build(inputs, cache_path, key, lowercase, vocabulary, grow, chunk_size)
            found = _load(cache_path, key, vocabulary, grow, verify=False)
            if found is None:
                raise TrainingError(f"{cache_path}: changed while it was being written; run again")
    except BaseException:
        _remove_empty(cache_path.parent, made)  # a failed first run leaves no empty run directory behind
        raise
    finally:
        if spool is not None:
            spool.unlink(missing_ok=True)
    ids, vocab = found
    excerpt = prime_excerpt(vocab.decode(ids[:EXCERPT_SPAN]), seed)
    return IdCorpus(ids, vocab, len(ids), excerpt, cache_path, reused)


# ---- decoding, shared by both passes -------------------------------------------------


def _utf8_cut(data: bytes) -> int:
    """Length of `data` without a trailing incomplete UTF-8 sequence (held for the next chunk)."""
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b & 0xC0 != 0x80:  # a lead (or ASCII) byte: does its sequence fit?
            need = 2 if 0xC0 <= b < 0xE0 else 3 if 0xE0 <= b < 0xF0 else 4 if 0xF0 <= b < 0xF8 else 1
            return len(data) - back if need > back else len(data)
    return len(data)


def _decoded(f: BinaryIO, name: str, chunk_size: int) -> Iterator[str]:
    """One file decoded chunk by chunk, strictly; a character split across chunks is held back.

    Offsets in errors count from after a dropped UTF-8 BOM, like corpus.decode. As
    there, a NUL byte anywhere wins over an earlier invalid UTF-8 sequence: after
    the first UTF-8 error the rest of the file is still scanned for NULs.
    """
    head = f.read(max(chunk_size, 4))
    raw = head[check_bom(head, name) :]
    pos, pending, bad = 0, b"", None  # pos: offset of `raw`; pending: held bytes just before it
    while True:
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise nul_error(name, pos + nul)
        if bad is None:
            data, start = pending + raw, pos - len(pending)
            cut = _utf8_cut(data) if raw else len(data)
            try:
                text = data[:cut].decode("utf-8")
            except UnicodeDecodeError as e:
                bad = (start + e.start, data[e.start])
            else:
                pending = data[cut:]
                if text:
                    yield text
        if not raw:
            break
        pos += len(raw)
        raw = f.read(chunk_size)
    if bad is not None:
        raise utf8_error(name, *bad)


class _Lines:
    """Folds a file's line endings piece by piece as corpus.decode does for the whole file.

    A trailing CR is held until the next piece (it may start a CRLF) or the file's end.
    Counts what read_corpus checks: characters, and whether any is not whitespace.
    """

    def __init__(self):
        self.carry, self.chars, self.non_space = "", 0, False

    def feed(self, text: str, final: bool = False) -> str:
        text, self.carry = self.carry + text, ""
        if not final and text.endswith("\r"):
            text, self.carry = text[:-1], "\r"
        text = normalize_newlines(text)
        self.chars += len(text)
        if not self.non_space and text and not text.isspace():
            self.non_space = True
        return text


class _Lower:
    """Lower-cases the corpus piece by piece as read_corpus lowers the joined text.

    str.lower() turns a capital sigma into 'ς' or 'σ' depending on the letters around
    it, even across a file boundary, and a space or newline ends that context. So the
    text after the last space or newline is held until the next piece (of this or the
    next file). A run of more than _LOWER_HOLD characters without either is lowered
    anyway (only a sigma at that cut could then differ from the in-memory path).
    """

    def __init__(self):
        self.carry = ""

    def feed(self, text: str, final: bool = False) -> str:
        text, self.carry = self.carry + text, ""
        if not final:
            cut = max(text.rfind("\n"), text.rfind(" ")) + 1
            if cut or len(text) <= _LOWER_HOLD:
                text, self.carry = text[:cut], text[cut:]
        return text.lower()


def _pieces(inputs: list[tuple[str, Path]], lowercase: bool, chunk_size: int) -> Iterator[str]:
    """The whole corpus as normalised text pieces, file after file; checks each file has text."""
    lower = _Lower() if lowercase else None
    for name, path in inputs:
        lines = _Lines()
        with open_binary(str(path)) as f:
            for piece in _decoded(f, name, chunk_size):
                if text := _fold(lines.feed(piece), lower):
                    yield text
        if text := _fold(lines.feed("", final=True), lower):
            yield text
        check_text(name, lines.chars, lines.non_space)
    if lower is not None and (text := lower.feed("", final=True)):
        yield text


def _fold(text: str, lower: _Lower | None) -> str:
    return text if lower is None or not text else lower.feed(text)


# ---- the two passes ------------------------------------------------------------------


def _count(inputs, lowercase: bool, chunk_size: int) -> tuple[str, int]:
    """Pass 1: the sorted distinct characters (as Vocabulary.from_text) and the length."""
    counts = np.zeros(0x110000, np.int64)  # one per Unicode code point: 9 MB
    total = 0
    for text in _pieces(inputs, lowercase, chunk_size):
        cps = codepoints(text)
        for lo in range(0, cps.size, _STEP):  # bincount widens its input to int64: 8 bytes a char
            found = np.bincount(cps[lo : lo + _STEP])
            counts[: found.size] += found
        total += cps.size
    return "".join(map(chr, np.flatnonzero(counts))), total


def _build(inputs, cache_path: Path, key, lowercase: bool, vocabulary: str | None, grow: bool, chunk_size: int) -> None:
    """Both passes, writing the id file atomically (files.atomic_write: temp, fsync, rename)."""
    text_chars, total = _count(inputs, lowercase, chunk_size)
    vocab = Vocabulary(_vocabulary_for(text_chars, vocabulary, grow))
    table = np.full(0x110000, -1, np.int32)  # code point -> id
    table[[ord(c) for c in vocab.chars]] = np.arange(len(vocab))
    header = {
        "format": FORMAT_VERSION,
        "dtype": vocab.dtype.newbyteorder("<").str,
        "length": total,
        "vocab": vocab.chars,
        "vocab_sha256": hashlib.sha256(vocab.chars.encode()).hexdigest(),
        "text_chars": text_chars,
        "lowercase": lowercase,
        "inputs": key,
        "crc32": 0,
    }

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as out:
            data_offset = _write_header(out, header)
            header["crc32"] = _write_ids(out, _pieces(inputs, lowercase, chunk_size), table, vocab.dtype, total)
            out.seek(0)
            if _write_header(out, header) != data_offset:
                raise AssertionError("the header changed size")  # crc is fixed-width below: unreachable
        if key is not None and _key(inputs, lowercase) != key:
            raise CorpusError("an input changed while it was being encoded; run again")

    temp = cache_path.with_name(f".{cache_path.name}.{uuid.uuid4().hex}.tmp")  # unique even across hosts
    try:
        atomic_write(cache_path, write, temp=temp)
    except OSError as e:
        raise TrainingError(
            f"cannot write the encoded corpus {cache_path}: {e.strerror or e}; "
            f"free some disk space or choose another --checkpoint-dir"
        ) from None


def _write_ids(out: BinaryIO, pieces: Iterator[str], table: np.ndarray, dtype: np.dtype, total: int) -> int:
    """Pass 2: append the pieces' ids to `out`; return their CRC32."""
    dtype = dtype.newbyteorder("<")
    changed = CorpusError("an input changed while it was being encoded; run again")
    crc, written = 0, 0
    for text in pieces:
        cps = codepoints(text)
        for lo in range(0, cps.size, _STEP):  # the int32 lookup is 4 bytes a char
            ids = table[cps[lo : lo + _STEP]]
            if ids.min() < 0:
                raise changed
            ids = ids.astype(dtype)
            crc = zlib.crc32(ids, crc)
            out.write(ids)
            written += ids.size
    if written != total:
        raise changed
    return crc


def _vocabulary_for(text_chars: str, vocabulary: str | None, grow: bool) -> str:
    """The id file's vocabulary: the text's own, a resumed run's (no new characters), or a grown start's."""
    if vocabulary is None:
        return text_chars
    if grow:
        return grown_vocabulary(vocabulary, text_chars)
    _check_vocabulary(text_chars, vocabulary)
    return vocabulary


def _check_vocabulary(text_chars: str, vocabulary: str) -> None:
    missing = "".join(sorted(set(text_chars) - set(vocabulary)))
    if missing:
        raise CorpusError(
            f"the corpus has {len(missing)} character(s) the checkpoint's vocabulary lacks: "
            f"{describe_chars(missing)}; resume only on text made of the same characters"
        )


# ---- the file: header, cache key, loading --------------------------------------------


def _write_header(out: BinaryIO, header: dict) -> int:
    """Write prefix + header + padding; return the ids' offset. crc32 is written as
    10 digits so the header has the same size before and after the ids are known."""
    text = json.dumps({**header, "crc32": f"{header['crc32']:010d}"}, sort_keys=True).encode()
    data_offset = -(-(_PREFIX.size + len(text)) // 64) * 64
    out.write(_PREFIX.pack(MAGIC, FORMAT_VERSION, len(text)) + text + b"\0" * (data_offset - _PREFIX.size - len(text)))
    return data_offset


def _read_header(path: Path) -> tuple[dict, int]:
    with open(path, "rb") as f:
        magic, version, n = _PREFIX.unpack(f.read(_PREFIX.size))
        if magic != MAGIC or version != FORMAT_VERSION or n > 1 << 26:
            raise ValueError("not an id file of this format")
        header = json.loads(f.read(n))
    return header, -(-(_PREFIX.size + n) // 64) * 64


def _key(inputs, lowercase: bool) -> list:
    """What the ids depend on: each input's identity and first megabyte, case folding, format."""
    key = []
    for _name, path in inputs:
        st = path.stat()
        with open(path, "rb") as f:
            head = hashlib.sha256(f.read(_HEAD_HASH_BYTES)).hexdigest()
        key.append({"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "head_sha256": head})
    return [{"format": FORMAT_VERSION, "lowercase": lowercase}, *key]


def _load(path: Path, key: list | None, vocabulary: str | None, grow: bool = False, verify: bool = True):
    """(ids memmap, vocabulary) from `path` if it holds ids for `key`, else None (rebuild)."""
    try:
        header, data_offset = _read_header(path)
        if header["inputs"] != key or header["format"] != FORMAT_VERSION:
            return None
        # a resumed run's new characters are refused now: no need to re-read; another
        # vocabulary (a resumed run's larger one, a start's) means re-encoding
        if header["vocab"] != _vocabulary_for(header["text_chars"], vocabulary, grow):
            return None
        vocab = Vocabulary(header["vocab"])
        dtype, length = np.dtype(header["dtype"]), int(header["length"])
        if dtype != vocab.dtype.newbyteorder("<") or length <= 0:
            return None
        if path.stat().st_size != data_offset + length * dtype.itemsize:
            return None  # truncated or padded
        if verify and _crc32(path, data_offset) != int(header["crc32"]):
            return None
        ids = np.memmap(path, dtype=dtype, mode="r", offset=data_offset, shape=(length,))
        return ids, vocab
    except (OSError, ValueError, KeyError, TypeError, struct.error, json.JSONDecodeError):
        return None


def _crc32(path: Path, offset: int, block: int = 16 << 20) -> int:
    """CRC32 of the ids read with plain reads (6 GB/s here: 0.3 s per 2 GB from the page cache)."""
    crc, buf = 0, bytearray(block)
    with open(path, "rb") as f:
        f.seek(offset)
        while n := f.readinto(buf):
            crc = zlib.crc32(memoryview(buf)[:n], crc)
    return crc


def _make_parent(cache_path: Path) -> Path | None:
    """Create the cache's folder if needed; return the top folder created, if any."""
    top = None
    for d in reversed(cache_path.parents):
        if not d.exists():
            top = d
            break
    try:
        cache_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrainingError(
            f"cannot create {cache_path.parent}: {e.strerror or e}; choose another --checkpoint-dir"
        ) from None
    return top


def _remove_empty(folder: Path, top: Path | None) -> None:
    """Remove `folder` and its parents up to `top` (the first folder _make_parent created) while empty."""
    while top is not None and not any(folder.iterdir()):
        folder.rmdir()
        if folder == top:
            return
        folder = folder.parent


def _spool_stdin(cache_path: Path, chunk_size: int) -> Path:
    """Copy stdin to a file beside the cache, so both passes can read it."""
    spool = cache_path.with_name(f".{cache_path.name}.{uuid.uuid4().hex}.stdin")
    try:
        with open(spool, "wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, chunk_size)
    except OSError as e:
        spool.unlink(missing_ok=True)
        raise TrainingError(f"cannot spool stdin to {spool}: {e.strerror or e}") from None
    return spool
