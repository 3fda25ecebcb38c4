"""A released base carries no path of the machine that trained it: its corpus by name, size and sha256."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.catalog import registries

from helpers import load_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def release_base():
    return load_script("release_base")


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


def _metadata(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read(ckpt_io.META_NAME).decode("utf-8"))


def _absolute_paths(meta: dict) -> list[str]:
    return [s for s in _strings(meta) if s.startswith("/") or s[1:3] == ":\\"]


def test_a_release_records_the_corpus_by_name_size_and_sha256(tmp_path, trained_run, release_base):
    corpus = trained_run.parent / "tiny.txt"
    assert str(corpus) in json.dumps(_metadata(trained_run / ckpt_io.BEST))  # what a training run records
    dest = tmp_path / "base.keras"
    release_base.release(trained_run, dest, float16=False)
    meta = _metadata(dest)
    assert _absolute_paths(meta) == [] and str(trained_run.parent) not in json.dumps(meta)
    assert meta["corpus"] == {
        "name": "tiny",
        "chars": len(corpus.read_text(encoding="utf-8")),
        "sha256": registries.sha256_of(corpus.read_bytes()),
    }
    assert "tiny (" in ckpt_io.describe_corpus(meta["corpus"]) and "sha256" in ckpt_io.describe_corpus(meta["corpus"])


def test_rewriting_the_corpus_record_leaves_every_other_member_byte_identical(tmp_path, trained_run, release_base):
    corpus = trained_run.parent / "tiny.txt"
    released = tmp_path / "base.keras"
    shutil.copyfile(trained_run / ckpt_io.BEST, released)
    with zipfile.ZipFile(released) as z:
        before = {i.filename: z.read(i.filename) for i in z.infolist()}
    record = release_base.rewrite_corpus_record(released, corpus)
    with zipfile.ZipFile(released) as z:
        after = {i.filename: z.read(i.filename) for i in z.infolist()}
    assert after.keys() == before.keys()
    assert all(after[k] == before[k] for k in before if k != ckpt_io.META_NAME)
    meta = json.loads(after[ckpt_io.META_NAME])
    assert meta["corpus"] == record and record["sha256"] == registries.sha256_of(corpus.read_bytes())
    assert _absolute_paths(meta) == []
    assert ckpt_io.load(released).extra["corpus"] == record  # still a checkpoint charlstm reads
    other = tmp_path / "other.txt"
    other.write_text("a different corpus")
    with pytest.raises(SystemExit, match="is not the corpus"):
        release_base.rewrite_corpus_record(released, other)


def test_the_bundled_base_records_no_absolute_path():
    meta = _metadata(ROOT / "charlstm" / "models" / "base.keras")
    assert _absolute_paths(meta) == []
    record = meta["corpus"]
    assert record["name"] and record["chars"] > 0 and len(record["sha256"]) == 64


def test_inspect_finds_a_named_corpus_by_its_sha256(tmp_path, monkeypatch):
    from charlstm.inspect.run import corpus_files

    folder = tmp_path / "corpora"
    folder.mkdir()
    (folder / "english.txt").write_text("the corpus")
    monkeypatch.setenv("CHARLSTM_CORPORA", str(folder))
    record = {"name": "english", "chars": 10, "sha256": registries.sha256_of(b"the corpus")}
    assert corpus_files(record) == [str(folder / "english.txt")]
    assert corpus_files({**record, "sha256": "0" * 64}) == []  # another build of that name: not it
    assert corpus_files({"names": ["/data/x.txt"], "chars": 3}) == ["/data/x.txt"]


def test_a_release_picks_the_default_prime_again_with_todays_rule(tmp_path, trained_run, release_base):
    """A run keeps the prime its first checkpoint stored; the release replaces one an older rule
    chose (the run behind the 2026-12-08 base stored a man page's `ls -l` listing)."""
    from charlstm.text.corpus import prime_excerpt

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    stale = "$ ls -l\ntotal 2\n"
    with zipfile.ZipFile(trained_run / ckpt_io.BEST) as zin, zipfile.ZipFile(run / ckpt_io.BEST, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == ckpt_io.META_NAME:
                meta = json.loads(data)
                meta["prime_excerpt"] = stale
                data = json.dumps(meta).encode("utf-8")
            zout.writestr(item.filename, data)
    assert ckpt_io.load(run / ckpt_io.BEST).prime_excerpt == stale
    dest = tmp_path / "base.keras"
    report = release_base.release(run, dest, float16=False)
    corpus = trained_run.parent / "tiny.txt"
    expected = prime_excerpt(corpus.read_text(encoding="utf-8"), ckpt_io.load(run / ckpt_io.BEST).training.seed)
    assert report["prime"] == ckpt_io.load(dest).prime_excerpt == expected != stale
