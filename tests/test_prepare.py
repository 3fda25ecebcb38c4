"""The corpus as training holds it: ids and a vocabulary, not the text."""

import numpy as np
import pytest

from charlstm.errors import CorpusError
from charlstm.training.plan import Corpus

from helpers import TINY_TEXT, prepare


def test_prepare_encodes_the_text_into_one_byte_ids():
    c = prepare(TINY_TEXT, seed=3)
    assert c.vocab.chars == "".join(sorted(set(TINY_TEXT)))
    assert c.ids.dtype == np.uint8 and c.ids.shape == (len(TINY_TEXT),)
    assert c.vocab.decode(c.ids) == TINY_TEXT
    # the default prime is a line start of the text
    assert c.excerpt and ("\n" + c.excerpt) in TINY_TEXT


def test_prepare_holds_no_copy_of_the_text():
    c = prepare(TINY_TEXT, seed=3)
    held = [getattr(c, f) for f in Corpus.__dataclass_fields__]
    assert not any(isinstance(v, str) and len(v) >= len(TINY_TEXT) // 2 for v in held)


def test_prepare_with_a_checkpoint_vocabulary_uses_its_ids():
    c = prepare("cab\n", seed=0, vocabulary="\nabcd")
    assert c.vocab.chars == "\nabcd" and c.ids.tolist() == [3, 1, 2, 0]


def test_prepare_with_a_checkpoint_vocabulary_refuses_new_characters():
    with pytest.raises(
        CorpusError,
        match=r"^the corpus has 2 character\(s\) the checkpoint's "
        r"vocabulary lacks: ! Z; resume only on text",
    ):
        prepare(TINY_TEXT + "Z!", seed=0, vocabulary="".join(sorted(set(TINY_TEXT))))


def test_resume_refuses_ids_encoded_with_another_vocabulary(trained_run):
    from charlstm import checkpoint as ckpt_io
    from charlstm.errors import UsageError
    from charlstm.training.plan import resumed_run

    stored = ckpt_io.load(trained_run / ckpt_io.LAST)
    other = prepare(TINY_TEXT.replace("c", "k"), seed=0)  # its own vocabulary: no 'c', a 'k'
    with pytest.raises(UsageError, match="not encoded with the checkpoint's vocabulary"):
        resumed_run(stored, other, stored.training)
