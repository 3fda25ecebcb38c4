"""Read text, decode it strictly, and map characters to integer ids.

The vocabulary is the sorted set of Unicode code points in the text, so an emoji
or an accented letter is one symbol. Encoding is vectorised: a 100 MB text turns
into ids without a Python loop per character.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from charlstm.errors import CorpusError, VocabularyError

_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
_UTF8_BOM = b"\xef\xbb\xbf"


def normalize_newlines(text: str) -> str:
    """CRLF and lone CR made LF: the one place line endings are folded (corpus and prime)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def check_bom(head: bytes, name: str) -> int:
    """Refuse a UTF-16/32 BOM; return the length of a UTF-8 BOM to drop (0 or 3)."""
    for bom, encoding in _BOMS.items():
        if head.startswith(bom):
            raise CorpusError(
                f"{name}: this is {encoding} text, not UTF-8; re-encode it first, "
                f"e.g. iconv -f {encoding} -t UTF-8 {name} > {Path(name).stem}.utf8.txt"
            )
    return len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0


def nul_error(name: str, offset: int) -> CorpusError:
    return CorpusError(f"{name}: NUL byte at byte offset {offset}: this looks like a binary file, not text")


def utf8_error(name: str, offset: int, byte: int) -> CorpusError:
    return CorpusError(
        f"{name}: not valid UTF-8 at byte offset {offset} "
        f"(byte 0x{byte:02x}); re-encode it to UTF-8 "
        f"(e.g. iconv -f latin1 -t UTF-8)"
    )


def decode(data: bytes, name: str) -> str:
    """Strict UTF-8 with a leading BOM dropped and every line ending made LF.

    Byte offsets in errors count from after a dropped UTF-8 BOM (charlstm/text/idfile.py,
    the streaming twin of this function, counts the same way).
    """
    data = data[check_bom(data[:4], name) :]
    nul = data.find(b"\x00")
    if nul >= 0:
        raise nul_error(name, nul)
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise utf8_error(name, e.start, data[e.start]) from None
    return normalize_newlines(text)


def _check_file(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CorpusError(f"{path}: no such file")
    if p.is_dir():
        raise CorpusError(f"{path}: is a directory; give a text file (or several)")
    return p


def _read_error(path: str, e: OSError) -> CorpusError:
    if isinstance(e, PermissionError):
        return CorpusError(f"{path}: permission denied; check the file's read permission")
    return CorpusError(f"{path}: cannot read: {e.strerror or e}")


def open_binary(path: str) -> BinaryIO:
    """A file opened for binary reading, with read_bytes's errors (not for '-')."""
    p = _check_file(path)
    try:
        return open(p, "rb")
    except OSError as e:
        raise _read_error(path, e) from None


def read_bytes(path: str) -> bytes:
    """Bytes of a file, or of stdin for '-', with errors a user can act on."""
    if path == "-":
        return sys.stdin.buffer.read()
    p = _check_file(path)
    try:
        return p.read_bytes()
    except OSError as e:
        raise _read_error(path, e) from None


def check_text(name: str, chars: int, non_space: bool) -> None:
    """Refuse a file with nothing to learn from: no characters, or only whitespace."""
    if not chars:
        raise CorpusError(f"{name}: is empty; give a file with text to learn from")
    if not non_space:
        raise CorpusError(f"{name}: contains only whitespace; nothing to learn from")


def read_corpus(paths: list[str], lowercase: bool = False) -> str:
    """Concatenate the decoded files (like `cat`); refuse text with nothing to learn."""
    parts = []
    for path in paths:
        name = "<stdin>" if path == "-" else path
        text = decode(read_bytes(path), name)
        check_text(name, len(text), bool(text.strip()))
        parts.append(text)
    text = "".join(parts)
    return text.lower() if lowercase else text


def codepoints(text: str) -> np.ndarray:
    """The text's code points as an array, uint8 for ASCII (the common case) else uint32."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _id_dtype(size: int) -> np.dtype:
    """Smallest unsigned dtype that holds ids 0..size-1: 1 byte per char for most texts."""
    for dt in (np.uint8, np.uint16, np.uint32):
        if size - 1 <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise AssertionError("unreachable: Unicode has fewer than 2**32 code points")


@dataclass(frozen=True)
class Vocabulary:
    """Distinct characters, sorted (a fine-tune's: its start's, then its text's new ones); id = index."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        cps = codepoints(text)
        counts = np.zeros(int(cps.max()) + 1 if cps.size else 0, np.int64)
        step = 1 << 22  # bincount widens to int64: chunks keep that temporary small
        for lo in range(0, cps.size, step):
            chunk = np.bincount(cps[lo : lo + step])
            counts[: chunk.size] += chunk
        present = np.flatnonzero(counts)
        return cls("".join(map(chr, present)))

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def dtype(self) -> np.dtype:
        return _id_dtype(len(self.chars))

    def _table(self, max_cp: int) -> np.ndarray:
        """Lookup table code point -> id; -1 where the char is not in the vocabulary."""
        table = np.full(max(max_cp, max(map(ord, self.chars))) + 1, -1, dtype=np.int32)
        table[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        return table

    def unknown(self, text: str) -> str:
        """Characters of `text` outside the vocabulary, sorted, each once."""
        return "".join(sorted(set(text) - set(self.chars)))

    def encode(self, text: str) -> np.ndarray:
        """Ids of `text`, shape (len(text),), in the smallest dtype that fits."""
        cps = codepoints(text)
        if cps.size == 0:
            return np.zeros(0, dtype=self.dtype)
        table = self._table(int(cps.max()))
        ids = np.empty(cps.size, dtype=self.dtype)
        step = 1 << 24  # chunks keep the int32 temporaries small for 100 MB texts
        for lo in range(0, cps.size, step):
            chunk = table[cps[lo : lo + step]]
            if chunk.min() < 0:
                missing = self.unknown(text)
                raise VocabularyError(
                    f"{len(missing)} character(s) not in the model's vocabulary: {describe_chars(missing)}"
                )
            ids[lo : lo + step] = chunk
        return ids

    def decode(self, ids) -> str:
        chars = self.chars
        return "".join(chars[i] for i in np.asarray(ids).ravel())


def grown_vocabulary(start_chars: str, text_chars: str) -> str:
    """A fine-tune's vocabulary: the start's characters in their order (old ids keep their rows,
    so no re-sorting), then the text's new ones, sorted. Nothing is dropped or mapped."""
    known = set(start_chars)
    return start_chars + "".join(c for c in sorted(set(text_chars)) if c not in known)


def prime_excerpt(text: str, seed: int, length: int = 40) -> str:
    """A line start of the training text, to prime generation when none is given.

    Reads only text[:EXCERPT_SPAN], so a streamed corpus passes just its head. Of the line
    starts, a seeded choice among the first kind that exists: an excerpt that reads as running
    text (`_reads_as_text`); a line that does not open with a space or tab; any line. A prime
    of layout makes the model's first lines more layout: the 2026-12-06 base opened every
    default sample with the Jargon File's four-space indent, and seed 1 on the `english`
    corpus picked "$ ls -l\ntotal 2\ndrwxrwxr-x   2 aeb      " from a man page (issue 42).
    """
    rng = np.random.default_rng(seed)
    scan = min(len(text), _EXCERPT_SCAN) - 1
    starts = [i + 1 for i in range(scan) if text[i] == "\n" and text[i + 1] != "\n"]
    for kind in (_reads_as_text, _flush):
        chosen = [i for i in starts if kind(text[i : i + length])]
        if chosen:
            starts = chosen
            break
    start = int(rng.choice(starts)) if starts else 0
    return text[start : start + length]


def _flush(excerpt: str) -> bool:
    return excerpt[:1] not in (" ", "\t")


def _reads_as_text(excerpt: str) -> bool:
    """Opens with a letter and holds no tab or run of spaces: prose, verse or a list's items,
    not a listing, a table or indented code."""
    return excerpt[:1].isalpha() and "\t" not in excerpt and "  " not in excerpt


_EXCERPT_SCAN = 200_000  # line starts are looked for in this many first characters
EXCERPT_SPAN = _EXCERPT_SCAN + 40  # characters prime_excerpt may read (length 40 at most)


def describe_chars(chars: str, limit: int = 40) -> str:
    """Characters shown unambiguously on one line: repr for controls and spaces."""
    shown = [repr(c) if not c.isprintable() or c.isspace() else c for c in chars[:limit]]
    more = f" … and {len(chars) - limit} more" if len(chars) > limit else ""
    return " ".join(shown) + more


def corpus_name(paths: list[str]) -> str:
    """A run name for the default checkpoint directory: the first file's stem."""
    if not paths or paths[0] == "-":
        return "stdin"
    stem = Path(paths[0]).stem or "corpus"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
