"""Read character vectors out of an installed R package's lazy-load data (`data/Rdata.rdb` + `.rdx`).

Debian ships CRAN packages installed, so their data sets sit in R's lazy-load database:
`Rdata.rdx` is a gzip-compressed serialized list whose `variables` element maps each
object's name to (offset, length) in `Rdata.rdb`; there each object is a 4-byte
big-endian length followed by a zlib stream holding the object serialized in R's XDR
format (version 2 or 3). This reader implements the part of that format the data
sets need: vectors, pairlists, symbols, CHARSXPs, references, and environments only
as far as skipping them. Anything else is refused rather than guessed.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass, field

# SEXP types (R Internals, "Serialization formats")
SYMSXP, LISTSXP, CLOSXP, ENVSXP, PROMSXP, LANGSXP, CHARSXP = 1, 2, 3, 4, 5, 6, 9
LGLSXP, INTSXP, REALSXP, CPLXSXP, STRSXP, DOTSXP, VECSXP, EXPRSXP, RAWSXP = 10, 13, 14, 15, 16, 17, 19, 20, 24
REFSXP, ATTRLISTSXP, ATTRLANGSXP = 255, 239, 240
SINGLETONS = {254, 253, 252, 251, 250, 242, 241}  # NULL, global/empty/base env, unbound, missing, base namespace
PAIRS = {LISTSXP, CLOSXP, PROMSXP, LANGSXP, DOTSXP, ATTRLISTSXP, ATTRLANGSXP}
HAS_ATTR, HAS_TAG, LATIN1 = 1 << 9, 1 << 10, 1 << 14  # flag bits; LATIN1 is gp bit 2 (levels << 12)


@dataclass
class Vector:
    """An R vector: its SEXP type, elements, and attributes (a dict of tag -> value)."""

    sexp: int
    items: list | tuple | bytes
    attrs: dict = field(default_factory=dict)


class RDataError(ValueError):
    """The bytes are not an R serialization this reader understands."""


class _Reader:
    def __init__(self, data: bytes):
        if data[:2] != b"X\n":
            raise RDataError("not an XDR R serialization")
        self.data, self.pos, self.refs = data, 2, []
        version = self._int()
        self.pos += 8  # writer's and minimal reader's R versions
        if version == 3:
            self.pos += 4 + self._int()  # native encoding name
        elif version != 2:
            raise RDataError(f"serialization version {version}")

    def _int(self) -> int:
        (v,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return v

    def _length(self) -> int:
        n = self._int()
        return (self._int() << 32) + self._int() if n == -1 else n

    def _take(self, fmt: str, n: int, width: int) -> tuple:
        out = struct.unpack_from(f">{n}{fmt}", self.data, self.pos)
        self.pos += n * width
        return out

    def item(self):
        flags = self._int()
        sexp = flags & 0xFF
        if sexp in SINGLETONS:
            return None
        if sexp == REFSXP:
            return self.refs[(flags >> 8 or self._int()) - 1]
        if sexp == SYMSXP:
            sym = ("symbol", self.item())
            self.refs.append(sym)
            return sym
        if sexp == CHARSXP:
            n = self._int()
            if n == -1:
                return None  # NA_character_
            raw = self.data[self.pos : self.pos + n]
            self.pos += n
            return raw.decode("latin-1" if flags & LATIN1 else "utf-8")
        if sexp in PAIRS:
            return self._pairlist(flags)
        if sexp == ENVSXP:
            self.refs.append(("environment",))
            self._int()  # locked
            for _ in range(4):  # enclosure, frame, hash table, attributes
                self.item()
            return ("environment",)
        return self._vector(sexp, flags)

    def _pairlist(self, flags: int) -> dict:
        out: dict = {}
        while True:
            if flags & HAS_ATTR:
                self.item()  # the cell's own attributes: no data set needs them
            tag = self.item() if flags & HAS_TAG else None
            out[tag[1] if tag else len(out)] = self.item()
            flags = self._int()
            if (flags & 0xFF) not in PAIRS:
                self.pos -= 4
                if self.item() is not None:
                    raise RDataError("pairlist ends in something other than NULL")
                return out

    def _vector(self, sexp: int, flags: int) -> Vector:
        n = self._length()
        if sexp in (LGLSXP, INTSXP):
            items = self._take("i", n, 4)
        elif sexp == REALSXP:
            items = self._take("d", n, 8)
        elif sexp == CPLXSXP:
            items = self._take("d", 2 * n, 8)
        elif sexp in (STRSXP, VECSXP, EXPRSXP):
            items = [self.item() for _ in range(n)]
        elif sexp == RAWSXP:
            items = self.data[self.pos : self.pos + n]
            self.pos += n
        else:
            raise RDataError(f"unsupported SEXP type {sexp}")
        attrs = self.item() if flags & HAS_ATTR else {}
        return Vector(sexp, items, attrs or {})


def unserialize(data: bytes):
    """One object from R's XDR serialization (`serialize(x, NULL)`, without compression)."""
    return _Reader(data).item()


def lazyload_index(rdx: bytes) -> dict[str, tuple[int, int]]:
    """Name -> (offset, length) of every object in the matching `.rdb`."""
    top = unserialize(gzip.decompress(rdx))
    names = top.attrs["names"].items
    variables = top.items[names.index("variables")]
    return {name: tuple(v.items) for name, v in zip(variables.attrs["names"].items, variables.items)}


def lazyload_strings(rdx: bytes, rdb: bytes) -> dict[str, list[str | None]]:
    """Every character vector in a lazy-load database, by name (other objects are skipped)."""
    out = {}
    for name, (offset, length) in lazyload_index(rdx).items():
        blob = rdb[offset : offset + length]
        try:
            obj = unserialize(zlib.decompress(blob[4:]))
        except zlib.error as e:
            raise RDataError(f"{name}: not zlib-compressed ({e})") from None
        if isinstance(obj, Vector) and obj.sexp == STRSXP:
            out[name] = list(obj.items)
    return out
