import numpy as np
import pytest

from charlstm.errors import CorpusError, VocabularyError
from charlstm.text.corpus import Vocabulary, corpus_name, decode, read_corpus


def test_decode_drops_bom_and_normalises_line_endings():
    assert decode(b"\xef\xbb\xbfa\r\nb\rc\n", "f") == "a\nb\nc\n"


def test_decode_names_file_and_byte_offset_of_invalid_utf8():
    with pytest.raises(CorpusError, match=r"bad\.txt: not valid UTF-8 at byte offset 5 \(byte 0xff\)"):
        decode(b"hello\xffworld", "bad.txt")


def test_decode_refuses_utf16_with_bom_and_suggests_reencoding():
    with pytest.raises(CorpusError, match="UTF-16 text, not UTF-8; re-encode.*iconv -f UTF-16"):
        decode("hi".encode("utf-16"), "u16.txt")


def test_decode_refuses_nul_bytes_as_binary():
    with pytest.raises(CorpusError, match="NUL byte at byte offset 8: this looks like a binary file"):
        decode(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "img.png")


def test_vocabulary_is_sorted_code_points_with_emoji_and_accents_as_one_symbol():
    v = Vocabulary.from_text("héllo 🙂 wörld")
    assert v.chars == "".join(sorted(set("héllo 🙂 wörld")))
    assert len(v) == len(set("héllo 🙂 wörld"))
    ids = v.encode("🙂é")
    assert v.decode(ids) == "🙂é"


@pytest.mark.parametrize("text, dtype", [("abc", np.uint8), ("".join(map(chr, range(0x100, 0x100 + 300))), np.uint16)])
def test_encode_uses_smallest_unsigned_dtype(text, dtype):
    v = Vocabulary.from_text(text)
    ids = v.encode(text)
    assert ids.dtype == dtype
    assert ids.tolist() == [v.chars.index(c) for c in text]


def test_encode_rejects_unknown_characters_listing_them():
    v = Vocabulary.from_text("abc")
    with pytest.raises(VocabularyError, match=r"2 character\(s\) not in the model's vocabulary: X Z"):
        v.encode("aXbZ")
    assert v.unknown("aXbZX") == "XZ"


def test_read_corpus_concatenates_files_and_lowercases(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"Hello\r\n")
    b.write_bytes(b"World\n")
    assert read_corpus([str(a), str(b)]) == "Hello\nWorld\n"
    assert read_corpus([str(a), str(b)], lowercase=True) == "hello\nworld\n"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"  \n\t \n", "contains only whitespace"),
    ],
)
def test_read_corpus_refuses_empty_text(tmp_path, content, message):
    p = tmp_path / "e.txt"
    p.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        read_corpus([str(p)])


def test_read_corpus_reports_missing_file_and_directory(tmp_path):
    with pytest.raises(CorpusError, match="nope.txt: no such file"):
        read_corpus([str(tmp_path / "nope.txt")])
    with pytest.raises(CorpusError, match="is a directory"):
        read_corpus([str(tmp_path)])


def test_corpus_name_for_checkpoint_dir():
    assert corpus_name(["/x/y/Mac beth.txt"]) == "Mac_beth"
    assert corpus_name(["-"]) == "stdin"
