import numpy as np
import pytest

from charlstm.errors import CorpusError
from charlstm.training import dataset


@pytest.mark.parametrize("n, L", [(101, 10), (100, 10), (23, 7), (12, 50)])
def test_every_char_but_the_first_is_a_target_exactly_once_per_epoch(n, L):
    ids = np.arange(n, dtype=np.int64) % 251
    rng = np.random.default_rng(0)
    for _ in range(5):  # several epochs: offsets differ, the coverage property holds
        targets = []
        shapes = []
        for x, y, w in dataset.batches(ids.astype(np.uint8), L, 4, rng):
            shapes.append(x.shape[0])
            assert x.shape == y.shape == w.shape and x.shape[1] == L
            real = w > 0
            targets.extend(y[real].tolist())
            # target at position j is the character after input j
            assert ((y[:, :-1] == x[:, 1:]) | ~real[:, 1:]).all()
        assert sorted(targets) == sorted((ids[1:] % 251).tolist())
        assert all(b == 4 for b in shapes[:-1]) and 1 <= shapes[-1] <= 4  # only the last is smaller


def _grid_offset(data: dataset.Batches, epoch: int) -> int:
    """Where `epoch`'s window grid starts, read back from its batches (ids are positions)."""
    L = data.seq_length
    if data.carry_state:  # row r's windows start at offset + r * row_length + k * L
        first = next(iter(data.epoch(epoch)))[0][:, 0]  # (rows,) first input of every row
        offsets = first - np.arange(data.rows) * dataset.stream_row_length(len(data.ids), L, data.rows)
    else:  # real windows start at offset + k * L, and one at 0 covers the text before the grid
        offsets = np.concatenate([x[w[:, 0] > 0, 0] for x, _, w in data.epoch(epoch)]) % L
        offsets = offsets[offsets != 0] if offsets.any() else offsets
    assert len(set(offsets.tolist())) == 1, offsets  # one grid per epoch
    return int(offsets[0])


@pytest.mark.parametrize("carry", [False, True])
def test_offsets_move_window_boundaries_between_epochs(carry):
    """Each epoch's grid starts at a random offset in [0, seq_length): window starts modulo
    seq_length change between epochs (shuffling alone would keep them all at multiples of it)."""
    data = dataset.Batches(np.arange(1000, dtype=np.int64), seq_length=50, rows=4, seed=1, carry_state=carry)
    offsets = [_grid_offset(data, e) for e in range(10)]
    assert all(0 <= o < 50 for o in offsets)
    assert len(set(offsets)) > 3, offsets


def test_epoch_order_depends_only_on_seed_and_epoch():
    a = dataset.epoch_windows(500, 20, dataset.epoch_rng(3, 4))
    b = dataset.epoch_windows(500, 20, dataset.epoch_rng(3, 4))
    c = dataset.epoch_windows(500, 20, dataset.epoch_rng(3, 5))
    assert all((x == y).all() for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_skip_resumes_mid_epoch_with_the_same_batches():
    ids = (np.arange(400) % 13).astype(np.uint8)
    full = list(dataset.batches(ids, 10, 4, dataset.epoch_rng(0, 0)))
    rest = list(dataset.batches(ids, 10, 4, dataset.epoch_rng(0, 0), skip=3))
    assert len(rest) == len(full) - 3
    for a, b in zip(full[3:], rest):
        assert all((p == q).all() for p, q in zip(a, b))


def test_validation_windows_are_in_text_order_from_zero():
    starts, lengths = dataset.epoch_windows(95, 10, None)
    assert starts.tolist() == list(range(0, 94, 10))
    assert lengths.tolist() == [10] * 9 + [4]


def test_split_holds_out_the_contiguous_tail():
    ids = np.arange(1000) % 7
    train, val = dataset.split(ids, 0.1, 50)
    assert len(train) == 900 and len(val) == 100
    assert (val == ids[900:]).all()


def test_split_refuses_text_too_short_for_a_window():
    with pytest.raises(CorpusError, match=r"validation part of the text has 10 characters; it needs at least 52"):
        dataset.split(np.zeros(100, np.uint8), 0.1, 50)
