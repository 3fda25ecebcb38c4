"""Carried-state batches (contiguous streams) against a naive reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charlstm.training import dataset


def naive_streams(ids, L, rows, offset):
    """Row r is the text from offset + r*S, S = (n - L) // rows; step k is its k-th window."""
    n = len(ids)
    S = (n - L) // rows
    out = []
    for k in range(-(-S // L)):
        xs, ys, ws = [], [], []
        for r in range(rows):
            x, y, w = [], [], []
            for j in range(L):
                t = k * L + j  # position within the row
                p = offset + r * S + t
                real = t < S
                x.append(int(ids[min(p, n - 1)]))
                y.append(int(ids[min(p + 1, n - 1)]))
                w.append(1.0 if real else 0.0)
            xs.append(x), ys.append(y), ws.append(w)
        out.append((xs, ys, ws))
    return out


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(30, 400),
    L=st.integers(1, 12),
    rows=st.integers(1, 6),
    seed=st.integers(0, 9),
    epoch=st.integers(0, 3),
)
def test_stream_batches_equal_the_naive_reference(n, L, rows, seed, epoch):
    ids = (np.arange(n) * 7 % 23).astype(np.uint8)
    if dataset.stream_row_length(n, L, rows) < 1:
        return
    b = dataset.Batches(ids, L, rows, seed, carry_state=True)
    offset = int(dataset.epoch_rng(seed, epoch).integers(0, L))
    want = naive_streams(ids, L, rows, offset)
    got = list(b.epoch(epoch))
    assert len(got) == len(want) == b.steps
    for (x, y, w), (wx, wy, ww) in zip(got, want):
        real = np.asarray(ww) > 0
        np.testing.assert_array_equal(w, ww)
        np.testing.assert_array_equal(x[real], np.asarray(wx)[real])
        np.testing.assert_array_equal(y[real], np.asarray(wy)[real])
    assert b.targets(epoch, 0, b.steps) == int(sum(np.sum(ww) for _, _, ww in want))


def test_consecutive_windows_continue_each_row():
    ids = np.arange(1000).astype(np.int64) % 251
    b = dataset.Batches(ids.astype(np.uint8), 10, 4, seed=1, carry_state=True)
    batches = list(b.epoch(0))
    for (_, y0, _), (x1, _, w1) in zip(batches, batches[1:]):
        real = w1[:, 0] > 0
        # the next window's first input is the character after this window's last input
        np.testing.assert_array_equal(x1[real, 0], y0[real, -1])


def test_skip_and_offsets():
    ids = (np.arange(600) % 13).astype(np.uint8)
    b = dataset.Batches(ids, 10, 4, seed=0, carry_state=True)
    full = list(b.epoch(2))
    rest = list(b.epoch(2, skip=3))
    assert len(rest) == len(full) - 3
    for a, c in zip(full[3:], rest):
        assert all((p == q).all() for p, q in zip(a, c))
    firsts = {int(next(b.epoch(e))[0][0, 0]) for e in range(8)}
    assert len(firsts) > 1  # the grid moves between epochs


@pytest.mark.parametrize("n, L, batch, want", [(270, 10, 64, 26), (10_000, 50, 64, 64), (61, 50, 8, 1)])
def test_stream_rows_shrink_for_short_texts(n, L, batch, want):
    assert dataset.stream_rows(n, L, batch) == want


def test_validation_streams_cover_the_text_in_order():
    ids = (np.arange(500) % 17).astype(np.uint8)
    vb = dataset.validation_batches(ids, 10, 4, carry_state=True)
    rows = [np.concatenate([b[0][r][b[2][r] > 0] for b in vb]) for r in range(4)]
    S = (500 - 10) // 4
    for r, row in enumerate(rows):
        np.testing.assert_array_equal(row, ids[r * S : (r + 1) * S])
