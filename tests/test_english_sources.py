"""Cleaning of each real source, on small members built here (the formats, not the downloads)."""

import gzip

import pytest

from charlstm.catalog import brs
from charlstm.catalog import english_sources as S


def _b64(n: int) -> str:
    out = ""
    while True:
        out = S._B64[n % 64] + out
        n //= 64
        if n == 0:
            return out


def _dictd(entries: dict[str, str]) -> tuple[bytes, bytes]:
    """A dictd database: `word<TAB>offset<TAB>length` index lines (base64 numbers) over a gzip body."""
    body, index = b"", []
    for word, text in entries.items():
        raw = text.encode()
        index.append(f"{word}\t{_b64(len(body))}\t{_b64(len(raw))}")
        body += raw
    return "\n".join(sorted(index)).encode(), gzip.compress(body)


def test_dict_entries_in_file_order_without_database_headers():
    index, data = _dictd({"00databaseinfo": "about this file\n", "zebra": "ZEBRA, n.  A horse.\n", "apple": "APPLE\n"})
    assert S.dict_entries(index, data) == ["ZEBRA, n.  A horse.", "APPLE"]


def test_jargon_drops_box_tables_and_reference_braces():
    index, data = _dictd(
        {
            "hack": "hack\n n.\n\n    See {hacker} and {quadruple bucky\n    }.\xa0Also cross\xadhatch.\n",
            "ASCII": "ASCII\n\n    ┌─┐\n    │!│\n",
        }
    )
    members = {"usr/share/dictd/jargon.index": index, "usr/share/dictd/jargon.dict.dz": data}
    [(_, text)] = S.clean_jargon(members)
    assert text == "hack\n n.\n\n    See hacker and quadruple bucky. Also crosshatch."


def test_kjv_verses_lose_their_references_and_gain_headings(monkeypatch):
    raw = "\n".join(
        [
            "Holy Bible, Authorized (King James) Version.  Textfile 930105.",
            "Ge1:1 In the beginning God created the heaven and the earth.",
            "Ge1:2 And the earth was without form, and void.",
            "Ge2:1 Thus the heavens and the earth were finished.",
            "Lev1:1 And the LORD called unto Moses.",  # not a selected book
            "Rev22:1 The grace of our Lord Jesus Christ be with you all. Amen.",
        ]
    )
    monkeypatch.setattr(brs, "read", lambda data: raw.encode())
    monkeypatch.setattr(S, "KJV_BOOKS", {"Ge": "GENESIS", "Rev": "THE REVELATION OF ST. JOHN THE DIVINE"})
    docs = dict(S.clean_kjv({"usr/lib/bible.data": b""}))
    assert docs["GENESIS"] == (
        "GENESIS\n\nCHAPTER 1\n\nIn the beginning God created the heaven and the earth.\n"
        "And the earth was without form, and void.\n\nCHAPTER 2\n\nThus the heavens and the earth were finished."
    )
    assert "Moses" not in "".join(docs.values())
    assert docs["THE REVELATION OF ST. JOHN THE DIVINE"].endswith(
        "CHAPTER 22\n\nThe grace of our Lord Jesus Christ be with you all. Amen."
    )
    monkeypatch.setattr(S, "KJV_BOOKS", {**S.KJV_BOOKS, "Jude": "JUDE"})
    with pytest.raises(ValueError, match="has no Jude"):
        S.clean_kjv({"usr/lib/bible.data": b""})


def test_melville_loses_the_gutenberg_header_and_licence(monkeypatch):
    text = (
        "\ufeffThe Project Gutenberg EBook of Moby Dick\r\nlicence words\r\n"
        "*** START OF THIS PROJECT GUTENBERG EBOOK MOBY DICK; OR THE WHALE ***\r\n\r\n"
        "Call me Ishmael.\r\n\r\nEnd of Project Gutenberg's Moby Dick; or The Whale\r\n"
        "*** END OF THIS ***\r\nmore licence"
    )
    monkeypatch.setattr(S, "_rdata", lambda members, package: {"mobydick": [text]})
    [(_, got)] = S.clean_melville({})
    assert got == "\nCall me Ishmael.\n\n"
