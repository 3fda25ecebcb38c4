"""The streaming id file must hold exactly the ids of the in-memory path (read_corpus +
Vocabulary), whatever the chunk size, and its cache must never serve stale ids."""

import io
import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charlstm.errors import CorpusError
from charlstm.text import idfile
from charlstm.text.corpus import Vocabulary, prime_excerpt, read_corpus
from charlstm.text.idfile import encode_corpus


def reference(paths, lowercase=False):
    text = read_corpus([str(p) for p in paths], lowercase)
    vocab = Vocabulary.from_text(text)
    return text, vocab, vocab.encode(text)


def check_equal(paths, cache, lowercase=False, chunk_size=7, seed=3):
    text, vocab, ids = reference(paths, lowercase)
    got = encode_corpus([str(p) for p in paths], cache, lowercase=lowercase, seed=seed, chunk_size=chunk_size)
    assert got.vocab == vocab
    assert got.ids.dtype == ids.dtype
    assert not got.ids.flags.writeable
    np.testing.assert_array_equal(np.asarray(got.ids), ids)
    assert got.chars == len(text)
    assert got.excerpt == prime_excerpt(text, seed)
    return got


def test_the_default_prime_opens_a_line_that_is_not_indented():
    text = "head\n    indented one\n\tindented two\nflush line\n    more indent\n" * 3
    for seed in range(20):
        assert prime_excerpt(text, seed).startswith(("flush line", "head"))
    assert prime_excerpt("x\n  only indented\n", 1) == "  only indented\n"  # no flush line: an indented one


def test_the_default_prime_prefers_running_text_to_a_listing_or_code():
    """Seed 1 on the `english` corpus once picked a man page's `ls -l` listing (issue 42)."""
    layout = "$ ls -l\ntotal 2\ndrwxrwxr-x   2 aeb      staff\n    indented code\n\tand a tab\n"
    text = (layout + "A line of prose, as a person writes it.\n") * 3
    for seed in range(20):
        assert prime_excerpt(text, seed).startswith("A line of prose")
    assert prime_excerpt(layout * 3, 1).startswith(("$ ls", "total", "drwx"))  # no running text: a flush line


def write(path, data: bytes):
    path.write_bytes(data)
    return path


MIXED = "héllo wörld 🙂\r\nΣίσυφος ΟΔΥΣΣΕΥΣ\rline\r\n\r\nend ĀĀ 日本語\n".encode()


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 1 << 20])
def test_multibyte_crlf_bom_and_several_files_match_in_memory_path(tmp_path, chunk_size):
    a = write(tmp_path / "a.txt", b"\xef\xbb\xbf" + MIXED * 5)
    b = write(tmp_path / "b.txt", b"tail ends with CR\r")
    c = write(tmp_path / "c.txt", b"\nstarts with LF after b's CR\xe2\x82\xac")
    check_equal([a, b, c], tmp_path / "ids", chunk_size=chunk_size)


@pytest.mark.parametrize("chunk_size", [1, 5, 7, 4096])
def test_lowercase_matches_including_final_sigma_at_chunk_edges(tmp_path, chunk_size):
    # str.lower() makes Σ 'ς' at a word end and 'σ' inside one: a chunk cut must not change that
    a = write(tmp_path / "a.txt", ("ΟΔΥΣΣΕΥΣ ΣΑΣ İstanbul ΑΣ\r\nΣΣ Σ ABC ΑΣ.Β\n" * 9).encode())
    check_equal([a], tmp_path / "ids", lowercase=True, chunk_size=chunk_size)
    # across files too: read_corpus lowers the joined text, so "ΑΣ" + "Β" gives 'σ', not 'ς'
    b, c = write(tmp_path / "b.txt", "x ΑΣ".encode()), write(tmp_path / "c.txt", "Β y ΑΣ".encode())
    check_equal([b, c, b], tmp_path / "ids2", lowercase=True, chunk_size=chunk_size)


def test_crlf_split_exactly_at_a_chunk_boundary(tmp_path):
    a = write(tmp_path / "a.txt", b"abcdef\r\nghijkl\r\rmn\r")
    for size in range(1, 12):
        got = check_equal([a], tmp_path / f"ids{size}", chunk_size=size)
        assert got.vocab.decode(got.ids) == "abcdef\nghijkl\n\nmn\n"


def test_more_than_256_characters_use_uint16(tmp_path):
    a = write(tmp_path / "a.txt", "".join(map(chr, range(0x100, 0x100 + 300))).encode() * 3)
    got = check_equal([a], tmp_path / "ids", chunk_size=11)
    assert got.ids.dtype == np.uint16


# any character but NUL and surrogates, with the ones chunking could get wrong made common:
# CR/LF, capital sigma (its lower case depends on its neighbours), İ (lowers to two chars), a case-ignorable '
ALPHABET = st.one_of(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), st.sampled_from(list("\r\n ΣΑβİ'."))
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.text(alphabet=ALPHABET, min_size=1).filter(lambda t: t.strip()), min_size=1, max_size=3),
    crs=st.booleans(),
    bom=st.booleans(),
    lowercase=st.booleans(),
    chunk_size=st.integers(1, 40),
)
def test_property_any_text_any_chunk_size(tmp_path_factory, parts, crs, bom, lowercase, chunk_size):
    d = tmp_path_factory.mktemp("p")
    paths = []
    for i, part in enumerate(parts):
        if crs:
            part = part.replace("\n", "\r\n")
        data = (b"\xef\xbb\xbf" if bom else b"") + part.encode()
        paths.append(write(d / f"{i}.txt", data))
    check_equal(paths, d / "ids", lowercase=lowercase, chunk_size=chunk_size)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    parts=st.lists(st.text(alphabet="ΣΑβ\r\n '", min_size=1).filter(lambda t: t.strip()), min_size=1, max_size=3),
    chunk_size=st.integers(1, 9),
)
def test_property_sigma_lowercase_any_chunk_size(tmp_path_factory, parts, chunk_size):
    d = tmp_path_factory.mktemp("s")
    paths = [write(d / f"{i}.txt", part.encode()) for i, part in enumerate(parts)]
    check_equal(paths, d / "ids", lowercase=True, chunk_size=chunk_size)


def test_lowercase_without_spaces_beyond_the_hold_limit_still_streams(tmp_path, monkeypatch):
    monkeypatch.setattr(idfile, "_LOWER_HOLD", 10)
    a = write(tmp_path / "a.txt", b"ABCDEFGHIJ" * 20)  # no space or newline: lowered in pieces anyway
    check_equal([a], tmp_path / "ids", lowercase=True, chunk_size=7)


# ---- the cache -----------------------------------------------------------------------


def test_unchanged_inputs_reuse_the_file_without_re_encoding(tmp_path, monkeypatch):
    a = write(tmp_path / "a.txt", MIXED * 3)
    first = encode_corpus([str(a)], tmp_path / "ids", chunk_size=7)
    stamp = os.stat(tmp_path / "ids").st_mtime_ns
    monkeypatch.setattr(idfile, "_build", lambda *a, **k: pytest.fail("re-encoded an unchanged corpus"))
    second = encode_corpus([str(a)], tmp_path / "ids", chunk_size=7, seed=9)
    assert not first.reused and second.reused
    assert os.stat(tmp_path / "ids").st_mtime_ns == stamp
    np.testing.assert_array_equal(second.ids, first.ids)
    assert second.excerpt == prime_excerpt(read_corpus([str(a)]), 9)  # excerpt follows the seed, not the cache


def test_same_size_changed_content_with_mtime_restored_is_not_reused(tmp_path):
    a = write(tmp_path / "a.txt", b"abc def\n" * 10)
    encode_corpus([str(a)], tmp_path / "ids")
    st_before = os.stat(a)
    a.write_bytes(b"abc dXf\n" * 10)  # same size
    os.utime(a, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))  # and the same mtime: only the hash differs
    got = encode_corpus([str(a)], tmp_path / "ids")
    assert not got.reused and "X" in got.vocab.chars


def test_touched_file_is_re_encoded(tmp_path):
    a = write(tmp_path / "a.txt", b"abc def\n" * 10)
    encode_corpus([str(a)], tmp_path / "ids")
    st_before = os.stat(a)
    os.utime(a, ns=(st_before.st_atime_ns, st_before.st_mtime_ns + 10**9))
    assert not encode_corpus([str(a)], tmp_path / "ids").reused


def test_lowercase_flag_and_file_list_are_part_of_the_key(tmp_path):
    a = write(tmp_path / "a.txt", b"Abc def\n" * 10)
    b = write(tmp_path / "b.txt", b"xyz\n")
    encode_corpus([str(a)], tmp_path / "ids")
    assert not encode_corpus([str(a)], tmp_path / "ids", lowercase=True).reused
    assert "A" not in encode_corpus([str(a)], tmp_path / "ids", lowercase=True).vocab.chars
    assert not encode_corpus([str(a), str(b)], tmp_path / "ids", lowercase=True).reused


@pytest.mark.parametrize("damage", ["truncate", "flip_id", "flip_header", "garbage", "empty"])
def test_corrupted_cache_is_rebuilt_not_trusted(tmp_path, damage):
    a = write(tmp_path / "a.txt", MIXED * 3)
    cache = tmp_path / "ids"
    good = encode_corpus([str(a)], cache, chunk_size=7)
    expected = np.array(good.ids)
    del good
    data = bytearray(cache.read_bytes())
    if damage == "truncate":
        data = data[:-5]
    elif damage == "flip_id":
        data[-3] ^= 0x01
    elif damage == "flip_header":
        data[20] ^= 0x40
    elif damage == "garbage":
        data = bytearray(b"not an id file at all")
    else:
        data = bytearray()
    cache.write_bytes(bytes(data))
    got = encode_corpus([str(a)], cache, chunk_size=7)
    assert not got.reused
    np.testing.assert_array_equal(got.ids, expected)


def test_no_temp_files_left_behind(tmp_path):
    a = write(tmp_path / "a.txt", MIXED)
    encode_corpus([str(a)], tmp_path / "run" / "ids")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["ids"]


def test_failed_encode_leaves_no_cache_and_no_temp(tmp_path):
    a = write(tmp_path / "a.txt", b"good text\n" * 3 + b"\xff")
    with pytest.raises(CorpusError):
        encode_corpus([str(a)], tmp_path / "runs" / "run" / "ids")
    assert not (tmp_path / "runs").exists()  # the folders it made for the cache are gone again
    (tmp_path / "run").mkdir()
    with pytest.raises(CorpusError):
        encode_corpus([str(a)], tmp_path / "run" / "ids")
    assert (tmp_path / "run").is_dir() and list((tmp_path / "run").iterdir()) == []  # not made here: kept
    with pytest.raises(CorpusError, match="no such file"):
        encode_corpus([str(tmp_path / "nope")], tmp_path / "other" / "ids")
    assert not (tmp_path / "other").exists()


def test_stdin_is_spooled_and_matches(tmp_path, monkeypatch):
    a = write(tmp_path / "a.txt", b"first file\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MIXED * 2)))
    got = encode_corpus([str(a), "-"], tmp_path / "run" / "ids", chunk_size=7)
    text = "first file\n" + MIXED.decode().replace("\r\n", "\n").replace("\r", "\n") * 2
    assert got.vocab.decode(got.ids) == text and not got.reused
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["ids"]  # spool removed


def test_read_and_release_pages(tmp_path):
    a = write(tmp_path / "a.txt", "".join(map(chr, range(0x100, 0x100 + 300))).encode())
    got = encode_corpus([str(a)], tmp_path / "ids", chunk_size=5)
    np.testing.assert_array_equal(got.read(10, 250), got.ids[10:250])
    got.release_pages()
    np.testing.assert_array_equal(got.ids[:5], np.arange(5))


def _resident_kib(path) -> int:
    """KiB of this process's mappings of `path` resident in its RSS (/proc/self/smaps `Rss`)."""
    target, total, inside = str(path), 0, False
    for line in open("/proc/self/smaps", encoding="utf-8", errors="replace"):
        fields = line.split()
        if fields and not fields[0].endswith(":"):  # a mapping's header: range perms offset dev inode path
            inside = " ".join(fields[5:]) == target
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps"), reason="needs Linux's /proc/self/smaps")
def test_release_pages_drops_the_mapped_pages_from_rss(tmp_path):
    a = write(tmp_path / "a.txt", b"the cat sat on the mat.\n" * 160_000)  # 3.8 MB: 960 pages of ids
    got = encode_corpus([str(a)], tmp_path / "ids")
    size_kib = got.ids.nbytes // 1024
    assert int(got.ids.sum(dtype=np.int64)) > 0  # reads every page through the map
    touched = _resident_kib(got.path.resolve())
    assert touched >= size_kib * 0.9, (touched, size_kib)
    got.release_pages()
    assert _resident_kib(got.path.resolve()) <= size_kib * 0.1, (touched, size_kib)
    np.testing.assert_array_equal(got.ids[:3], got.vocab.encode("the"))  # still readable: faults back in


# ---- resume vocabulary ---------------------------------------------------------------


def test_same_corpus_as_training_prepare_fresh_and_resumed(tmp_path):
    from helpers import prepare

    a = write(tmp_path / "a.txt", MIXED * 40)
    text = read_corpus([str(a)])
    for vocabulary in (None, "".join(sorted(set(text) | set("QZ")))):
        want = prepare(text, 5, vocabulary)
        got = encode_corpus([str(a)], tmp_path / "ids", vocabulary=vocabulary, seed=5, chunk_size=13)
        assert (got.vocab, got.excerpt) == (want.vocab, want.excerpt)
        np.testing.assert_array_equal(got.ids, want.ids)
    with pytest.raises(CorpusError) as want_err:
        prepare(text, 5, "abc")
    with pytest.raises(CorpusError) as got_err:
        encode_corpus([str(a)], tmp_path / "ids", vocabulary="abc")
    assert str(got_err.value) == str(want_err.value)


def test_resume_vocabulary_refuses_new_characters(tmp_path):
    a = write(tmp_path / "a.txt", b"abc xyz\n")
    with pytest.raises(
        CorpusError,
        match=r"^the corpus has 2 character\(s\) the checkpoint's vocabulary lacks: "
        r"x z; resume only on text made of the same characters$",
    ):
        encode_corpus([str(a)], tmp_path / "ids", vocabulary="\n abcy")


def test_resume_vocabulary_refused_even_from_a_valid_cache(tmp_path):
    a = write(tmp_path / "a.txt", b"abc xyz\n")
    encode_corpus([str(a)], tmp_path / "ids")
    with pytest.raises(CorpusError, match="2 character"):
        encode_corpus([str(a)], tmp_path / "ids", vocabulary="\n abcy")


def test_resume_with_larger_vocabulary_encodes_with_it(tmp_path):
    a = write(tmp_path / "a.txt", b"abc ab\n")
    vocab = "\n !abcdz"
    got = encode_corpus([str(a)], tmp_path / "ids", vocabulary=vocab, chunk_size=3)
    assert got.vocab.chars == vocab
    np.testing.assert_array_equal(got.ids, Vocabulary(vocab).encode("abc ab\n"))
    assert encode_corpus([str(a)], tmp_path / "ids", vocabulary=vocab).reused
    fresh = encode_corpus([str(a)], tmp_path / "ids")  # no longer resuming: the text's own vocabulary
    assert fresh.vocab.chars == "\n abc" and not fresh.reused


# ---- bad input: the same messages as read_corpus --------------------------------------


BAD = [
    (b"", "is empty; give a file with text to learn from"),
    (b"\xef\xbb\xbf", "is empty"),
    (b" \r\n\t\n", "contains only whitespace; nothing to learn from"),
    ("hi".encode("utf-16"), "this is UTF-16 text, not UTF-8"),
    ("hi".encode("utf-32"), "this is UTF-32 text, not UTF-8"),
    (b"hello world\xffmore", r"not valid UTF-8 at byte offset 11 \(byte 0xff\)"),
    (b"\xef\xbb\xbfhello\xc3", r"not valid UTF-8 at byte offset 5 \(byte 0xc3\)"),
    (b"ab\xe2\x82zzzzzzzzz", r"not valid UTF-8 at byte offset 2 \(byte 0xe2\)"),
    (b"bad \xff utf8 then a NUL later \x00", "NUL byte at byte offset 28"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "NUL byte at byte offset 8: this looks like a binary file"),
]


@pytest.mark.parametrize("data, message", BAD)
@pytest.mark.parametrize("chunk_size", [1, 3, 1 << 20])
def test_bad_input_gives_read_corpus_message(tmp_path, data, message, chunk_size):
    a = write(tmp_path / "bad.txt", data)
    with pytest.raises(CorpusError, match=message) as expected:
        read_corpus([str(a)])
    with pytest.raises(CorpusError) as got:
        encode_corpus([str(a)], tmp_path / "ids", chunk_size=chunk_size)
    assert str(got.value) == str(expected.value)


def test_missing_file_and_directory_messages(tmp_path):
    with pytest.raises(CorpusError, match=r"nope\.txt: no such file"):
        encode_corpus([str(tmp_path / "nope.txt")], tmp_path / "ids")
    with pytest.raises(CorpusError, match="is a directory; give a text file"):
        encode_corpus([str(tmp_path)], tmp_path / "ids")


def test_permission_message(tmp_path, monkeypatch):
    a = write(tmp_path / "a.txt", b"abc\n")

    def denied(*args, **kwargs):  # chmod would not stop root, who runs these tests in CI
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("charlstm.text.corpus.open", denied, raising=False)
    with pytest.raises(CorpusError, match=r"a\.txt: permission denied; check the file's read permission"):
        encode_corpus([str(a)], tmp_path / "ids")


def test_error_names_the_file_among_several(tmp_path):
    a = write(tmp_path / "a.txt", b"good\n")
    b = write(tmp_path / "b.txt", b"  \n")
    with pytest.raises(CorpusError, match=r"b\.txt: contains only whitespace"):
        encode_corpus([str(a), str(b)], tmp_path / "ids")
