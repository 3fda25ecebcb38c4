"""Cut an id array into training windows, many-to-many, without materialising them.

A window of length L holds inputs ids[s : s+L] and targets ids[s+1 : s+L+1], so
every position is a training target (the tutorial trained only the last one).
Each epoch the window grid starts at a random offset, so boundaries move, and the
grid is complete: every character except the first is a target exactly once per
epoch. The at most two partial windows are right-padded with weight 0, which
leaves the real positions untouched in a forward RNN.

Ids stay in their 1-byte (or 2-byte) array; a batch is gathered on demand, so a
100 MB corpus needs 100 MB here, not the tutorial's ~66 GB of one-hot windows.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from charlstm.errors import CorpusError


def split(ids: np.ndarray, val_fraction: float, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Train on the head, validate on the contiguous tail (as char-rnn and nanoGPT do)."""
    n_val = int(round(len(ids) * val_fraction))
    train, val = ids[: len(ids) - n_val], ids[len(ids) - n_val:]
    need = seq_length + 2
    for name, part in (("training", train), ("validation", val)):
        if len(part) < need:
            raise CorpusError(
                f"the {name} part of the text has {len(part)} characters; it needs at least "
                f"{need} (--seq-length + 2): give more text, a smaller --seq-length "
                f"or a different --val-fraction"
            )
    return train, val


def epoch_windows(n: int, seq_length: int, rng: np.random.Generator | None):
    """Window (start, length) pairs covering targets 1..n-1 exactly once.

    With `rng`, the grid is shifted by a random offset and the windows shuffled;
    without, it starts at 0 in text order (validation).
    """
    L = seq_length
    offset = int(rng.integers(0, L)) if rng is not None else 0
    starts = np.arange(offset, n - 1, L, dtype=np.int64)
    if offset:
        starts = np.concatenate([[0], starts])
    ends = np.minimum(np.append(starts[1:], n - 1), starts + L)
    lengths = ends - starts  # (windows,) inputs per window; only the first/last can be short
    if rng is not None:
        order = rng.permutation(len(starts))
        starts, lengths = starts[order], lengths[order]
    return starts, lengths


def gather(ids: np.ndarray, starts: np.ndarray, lengths: np.ndarray, seq_length: int):
    """One batch: inputs (batch, seq), targets (batch, seq), weights (batch, seq)."""
    pos = starts[:, None] + np.arange(seq_length + 1)  # (batch, seq+1)
    np.minimum(pos, len(ids) - 1, out=pos)  # padded tail positions read any valid id
    window = ids[pos].astype(np.int32)
    weights = (np.arange(seq_length)[None, :] < lengths[:, None]).astype(np.float32)
    return window[:, :-1], window[:, 1:], weights


def num_batches(n_windows: int, batch_size: int) -> int:
    return -(-n_windows // batch_size)


def batches(ids: np.ndarray, seq_length: int, batch_size: int, rng=None,
            skip: int = 0) -> Iterator[tuple]:
    """All of one epoch's batches, each exactly (batch_size, seq_length).

    The last batch is filled with weight-0 windows rather than made smaller, so a
    compiled (XLA) train step sees one shape and never recompiles mid-run.
    `skip` drops the first batches (resuming mid-epoch).
    """
    starts, lengths = epoch_windows(len(ids), seq_length, rng)
    pad = -len(starts) % batch_size
    starts = np.concatenate([starts, np.zeros(pad, np.int64)])
    lengths = np.concatenate([lengths, np.zeros(pad, np.int64)])
    for lo in range(skip * batch_size, len(starts), batch_size):
        yield gather(ids, starts[lo:lo + batch_size], lengths[lo:lo + batch_size], seq_length)


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """Shuffling for epoch `epoch` depends only on (seed, epoch): resume sees the same data."""
    return np.random.default_rng([seed, epoch])


def tf_dataset(make_batches, seq_length: int, steps: int):
    """tf.data over a batch generator, prefetched so gathering overlaps the train step.

    `steps` is the generator's exact length, told to tf.data so Keras knows the
    epoch's size.
    """
    import tensorflow as tf

    spec = tf.TensorSpec((None, seq_length), tf.int32)
    wspec = tf.TensorSpec((None, seq_length), tf.float32)
    ds = tf.data.Dataset.from_generator(make_batches, output_signature=(spec, spec, wspec))
    ds = ds.apply(tf.data.experimental.assert_cardinality(steps))
    return ds.prefetch(tf.data.AUTOTUNE)
