"""The R lazy-load reader on objects serialized here by a small XDR writer."""

import gzip
import struct
import zlib

import pytest

from charlstm.catalog import rdata


def _i(*values: int) -> bytes:
    return struct.pack(f">{len(values)}i", *values)


def _char(s: str | None, latin1: bool = False) -> bytes:
    if s is None:
        return _i(rdata.CHARSXP, -1)
    raw = s.encode("latin-1" if latin1 else "utf-8")
    return _i(rdata.CHARSXP | (rdata.LATIN1 if latin1 else 1 << 15), len(raw)) + raw


class _Writer:
    """Enough of R's serialize(): symbols (second use as a reference), vectors, attribute pairlists."""

    def __init__(self):
        self.symbols: list[str] = []

    def symbol(self, name: str) -> bytes:
        if name in self.symbols:
            return _i(((self.symbols.index(name) + 1) << 8) | rdata.REFSXP)
        self.symbols.append(name)
        return _i(rdata.SYMSXP) + _char(name)

    def attrs(self, attrs: dict) -> bytes:
        out = b""
        for tag, value in attrs.items():
            out += _i(rdata.LISTSXP | rdata.HAS_TAG) + self.symbol(tag) + value
        return out + _i(254)  # NULL

    def vector(self, sexp: int, body: bytes, n: int, attrs: dict | None = None) -> bytes:
        head = _i(sexp | (rdata.HAS_ATTR if attrs else 0), n)
        return head + body + (self.attrs(attrs) if attrs else b"")

    def strings(self, items, attrs=None) -> bytes:
        return self.vector(rdata.STRSXP, b"".join(_char(s) for s in items), len(items), attrs)

    def ints(self, items) -> bytes:
        return self.vector(rdata.INTSXP, _i(*items), len(items))

    def named_list(self, items: dict) -> bytes:
        names = self.strings(list(items))
        return self.vector(rdata.VECSXP, b"".join(items.values()), len(items), {"names": names})


def _serialized(body: bytes) -> bytes:
    return b"X\n" + _i(2, 0x040201, 0x020300) + body


def _lazyload(objects: dict[str, bytes]) -> tuple[bytes, bytes]:
    rdb, where = b"", {}
    for name, body in objects.items():
        raw = _serialized(body)
        blob = struct.pack(">I", len(raw)) + zlib.compress(raw)
        where[name] = (len(rdb), len(blob))
        rdb += blob
    w = _Writer()
    variables = w.named_list({name: w.ints(list(span)) for name, span in where.items()})
    index = w.named_list(
        {"variables": variables, "references": w.vector(rdata.VECSXP, b"", 0), "compressed": w.ints([1])}
    )
    return gzip.compress(_serialized(index)), rdb


def test_character_vectors_are_read_with_na_utf8_latin1_and_symbol_references():
    w = _Writer()
    lines = w.strings(["Hello,", None, "naïve"], {"names": w.strings(["a", "b", "c"]), "class": w.strings(["x"])})
    latin = _i(rdata.STRSXP, 1) + _char("café", latin1=True)
    rdx, rdb = _lazyload({"lines": lines, "latin": latin, "numbers": _Writer().ints([1, 2, 3])})
    got = rdata.lazyload_strings(rdx, rdb)  # the index names two lists: `names` is a back-reference the 2nd time
    assert got == {"lines": ["Hello,", None, "naïve"], "latin": ["café"]}  # the integer vector is skipped


def test_unsupported_types_and_foreign_bytes_are_refused():
    with pytest.raises(rdata.RDataError, match="XDR"):
        rdata.unserialize(b"A\n" + _i(2, 0, 0))
    with pytest.raises(rdata.RDataError, match="SEXP type 99"):
        rdata.unserialize(_serialized(_i(99, 1)))
    rdx, rdb = _lazyload({"lines": _Writer().strings(["x"])})
    with pytest.raises(rdata.RDataError, match="zlib"):
        rdata.lazyload_strings(rdx, rdb[:4] + b"not zlib at all" + rdb[19:])
