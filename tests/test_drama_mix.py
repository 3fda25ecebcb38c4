"""The base's second-phase text (scripts/drama_mix.py): more of some chunks, the held-out tail untouched."""

from __future__ import annotations

import numpy as np
import pytest

from charlstm.training import dataset

from helpers import load_script


@pytest.fixture(scope="module")
def drama_mix():
    return load_script("drama_mix")


def corpus_of(n_paragraphs: int, rng: np.random.Generator) -> str:
    words = ["alpha", "beta", "gamma", "delta", "thou", "art"]
    return "\n\n".join(" ".join(rng.choice(words, size=int(rng.integers(5, 40)))) for _ in range(n_paragraphs))


def test_the_mix_keeps_the_tail_and_splits_where_the_corpus_did(drama_mix, monkeypatch):
    monkeypatch.setattr(drama_mix.english, "CHUNK_CHARS", 500)
    corpus = corpus_of(400, np.random.default_rng(0))
    extra = ["EXTRA-ONE " * 30, "EXTRA-TWO " * 30, "EXTRA-THREE " * 30]
    text, n_val = drama_mix.mix(corpus, extra, copies=2)
    n_corpus_val = int(round(len(corpus) * drama_mix.VAL_FRACTION))
    assert n_val == n_corpus_val
    ids = np.frombuffer(text.encode("ascii"), np.uint8)
    fraction = n_val / len(text)
    _, val = dataset.split(ids, fraction, 50)
    _, corpus_val = dataset.split(np.frombuffer(corpus.encode("ascii"), np.uint8), drama_mix.VAL_FRACTION, 50)
    assert val.tobytes() == corpus_val.tobytes()  # train validates on the same characters
    head = text[: len(text) - n_val]
    assert "EXTRA" not in text[len(text) - n_val :]
    for piece in extra:
        assert head.count(piece) == 2  # two more copies, nothing else added
    # Every character of the corpus's training part is still there, in order, paragraph by paragraph.
    corpus_head = corpus[: len(corpus) - n_val]
    kept = [p for p in head.split("\n\n") if "EXTRA" not in p]
    assert "\n\n".join(kept) == corpus_head
    # The copies are spread: a chunk's two copies are not next to each other.
    paragraphs = head.split("\n\n")
    for piece in extra:
        where = [i for i, p in enumerate(paragraphs) if p == piece]
        assert where[1] - where[0] > 1


def test_no_copies_is_the_corpus_itself(drama_mix, monkeypatch):
    monkeypatch.setattr(drama_mix.english, "CHUNK_CHARS", 500)
    corpus = corpus_of(200, np.random.default_rng(1))
    text, _ = drama_mix.mix(corpus, ["unused"], copies=0)
    assert text == corpus
