"""The corpus as a training plan holds it (`training.plan.corpus_from_files`): ids, a vocabulary,
its files and the default prime, and not the text."""

from pathlib import Path

import numpy as np
import pytest

from charlstm.errors import CorpusError, UsageError
from charlstm.training.plan import Corpus, corpus_from_files, resumed_run

from helpers import TINY_TEXT, prepare


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_corpus_is_one_byte_ids_its_files_and_a_line_start_to_prime_with(tmp_path):
    a, b = write(tmp_path / "a.txt", TINY_TEXT), write(tmp_path / "b.txt", "the end.\n")
    c = corpus_from_files([a, b], tmp_path / "run", lowercase=False, vocabulary=None, seed=3)
    assert c.vocab.chars == "".join(sorted(set(TINY_TEXT + "the end.\n")))
    assert c.ids.dtype == np.uint8 and c.vocab.decode(np.asarray(c.ids)) == TINY_TEXT + "the end.\n"
    assert c.excerpt and ("\n" + c.excerpt) in TINY_TEXT  # the default prime is a line start of the text
    assert c.info() == {"names": [a, b], "chars": len(TINY_TEXT) + 9}  # what checkpoints record
    assert (tmp_path / "run" / "corpus.ids").is_file()  # encoded once, in the run's folder


def test_the_corpus_holds_no_copy_of_the_text(tmp_path):
    c = corpus_from_files([write(tmp_path / "a.txt", TINY_TEXT)], tmp_path / "run", False, None, 3)
    held = [getattr(c, f) for f in Corpus.__dataclass_fields__]
    assert not any(isinstance(v, str) and len(v) >= len(TINY_TEXT) // 2 for v in held)


def test_a_checkpoint_vocabulary_keeps_its_ids(tmp_path):
    c = corpus_from_files([write(tmp_path / "a.txt", "cab\n")], tmp_path / "run", False, "\nabcd", 0)
    assert c.vocab.chars == "\nabcd" and np.asarray(c.ids).tolist() == [3, 1, 2, 0]


def test_a_checkpoint_vocabulary_refuses_new_characters(tmp_path):
    path = write(tmp_path / "a.txt", TINY_TEXT + "Z!")
    with pytest.raises(
        CorpusError,
        match=r"^the corpus has 2 character\(s\) the checkpoint's vocabulary lacks: ! Z; resume only on text",
    ):
        corpus_from_files([path], tmp_path / "run", False, "".join(sorted(set(TINY_TEXT))), 0)


def test_resume_refuses_ids_encoded_with_another_vocabulary(trained_run):
    from charlstm import checkpoint as ckpt_io

    stored = ckpt_io.load(trained_run / ckpt_io.LAST)
    other = prepare(TINY_TEXT.replace("c", "k"), seed=0)  # its own vocabulary: no 'c', a 'k'
    with pytest.raises(UsageError, match="not encoded with the checkpoint's vocabulary"):
        resumed_run(stored, other, stored.training)


def test_a_resumed_run_keeps_the_prime_its_checkpoints_store(trained_run, tmp_path):
    from charlstm import checkpoint as ckpt_io

    stored = ckpt_io.load(trained_run / ckpt_io.LAST)
    corpus = prepare(TINY_TEXT, seed=stored.training.seed + 1, vocabulary=stored.vocabulary)
    plan = resumed_run(stored, corpus, stored.training)
    assert plan.corpus.excerpt == stored.prime_excerpt and plan.corpus.vocab == corpus.vocab
