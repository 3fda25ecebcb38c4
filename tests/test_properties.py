"""Property tests on arbitrary Unicode text: encoding and windowing are exact."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from charlstm.text.corpus import Vocabulary, decode
from charlstm.training import dataset

texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=400)


@given(texts)
def test_encode_decode_round_trips(text):
    v = Vocabulary.from_text(text)
    ids = v.encode(text)
    assert v.decode(ids) == text
    assert list(v.chars) == sorted(set(text))
    assert ids.dtype.itemsize == (1 if len(v) <= 256 else 2)


@given(texts.filter(lambda t: "\x00" not in t and "\r" not in t))
def test_utf8_decoding_round_trips(text):
    expected = text[1:] if text.startswith("\ufeff") else text  # a leading BOM is dropped
    assert decode(text.encode("utf-8"), "t") == expected


@settings(max_examples=80, deadline=None)
@given(texts.filter(lambda t: len(t) >= 2), st.integers(1, 30), st.integers(1, 9), st.integers(0, 2**31))
def test_windows_line_up_and_cover_every_target_once(text, seq_length, batch_size, seed):
    ids = Vocabulary.from_text(text).encode(text)
    starts, lengths = dataset.epoch_windows(len(ids), seq_length, np.random.default_rng(seed))
    seen = np.zeros(len(ids), int)
    for s, n in zip(starts, lengths):
        seen[s + 1 : s + 1 + n] += 1
    assert seen[0] == 0 and (seen[1:] == 1).all()  # every char but the first: a target once

    row, sizes = 0, []
    for x, y, w in dataset.batches(ids, seq_length, batch_size, np.random.default_rng(seed)):
        assert x.shape == y.shape == w.shape and x.shape[1] == seq_length
        sizes.append(x.shape[0])
        for r in range(x.shape[0]):
            n = int(w[r].sum())
            assert (w[r, :n] == 1).all() and (w[r, n:] == 0).all()  # real positions first
            if row < len(starts):
                s = starts[row]
                assert n == lengths[row]
                assert (x[r, :n] == ids[s : s + n]).all()
                assert (y[r, :n] == ids[s + 1 : s + 1 + n]).all()  # target[i] = char after input[i]
            else:
                assert n == 0  # filler rows of the last batch carry no weight
            row += 1
    # every batch is full but the last; the epoch is padded to a fixed window count
    assert row == dataset.windows_per_epoch(len(ids), seq_length) >= len(starts)
    assert all(b == batch_size for b in sizes[:-1]) and 1 <= sizes[-1] <= batch_size
