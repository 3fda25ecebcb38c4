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

import math
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


def windows_per_epoch(n: int, seq_length: int) -> int:
    """The most windows any offset gives (offset 1): every epoch is padded to this."""
    return 1 + math.ceil((n - 2) / seq_length) if n > 2 else 1


def steps_per_epoch(n: int, seq_length: int, batch_size: int) -> int:
    """Batches per epoch, the same for every offset, so one `model.fit` runs all epochs."""
    return math.ceil(windows_per_epoch(n, seq_length) / batch_size)


def epoch_plan(n: int, seq_length: int, rng=None):
    """An epoch's windows, padded with at most one empty (weight-0) window to a fixed
    count. The last batch is the remainder: smaller, never padded with dead rows
    (on Macbeth at batch 256 that padding would have been 9% of the compute)."""
    starts, lengths = epoch_windows(n, seq_length, rng)
    pad = windows_per_epoch(n, seq_length) - len(starts)
    return (np.concatenate([starts, np.zeros(pad, np.int64)]),
            np.concatenate([lengths, np.zeros(pad, np.int64)]))


def batches(ids: np.ndarray, seq_length: int, batch_size: int, rng=None,
            skip: int = 0) -> Iterator[tuple]:
    """One epoch's batches in NumPy, (batch_size, seq_length) but the last: the
    reference for `tf_batches`, which makes the same batches inside tf.data.
    `skip` drops the first batches (resuming mid-epoch)."""
    starts, lengths = epoch_plan(len(ids), seq_length, rng)
    for lo in range(skip * batch_size, len(starts), batch_size):
        yield gather(ids, starts[lo:lo + batch_size], lengths[lo:lo + batch_size], seq_length)


def targets_in(n: int, seq_length: int, batch_size: int, rng, first: int, end: int) -> int:
    """Real targets (weight 1) in batches [first, end) of an epoch: the honest chars count."""
    _, lengths = epoch_plan(n, seq_length, rng)
    return int(lengths[first * batch_size:end * batch_size].sum())


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """Shuffling for epoch `epoch` depends only on (seed, epoch): resume sees the same data."""
    return np.random.default_rng([seed, epoch])


def _tf_gather(tf, ids_t, seq_length: int):
    n = tf.cast(tf.shape(ids_t, out_type=tf.int64)[0], tf.int64)

    def fn(starts, lengths):  # (batch,) each
        pos = starts[:, None] + tf.range(seq_length + 1, dtype=tf.int64)  # (batch, seq+1)
        window = tf.cast(tf.gather(ids_t, tf.minimum(pos, n - 1)), tf.int32)
        weights = tf.sequence_mask(lengths, seq_length, dtype=tf.float32)  # (batch, seq)
        return window[:, :-1], window[:, 1:], weights

    return fn


def tf_batches(ids: np.ndarray, seq_length: int, batch_size: int, seed: int,
               first_epoch: int, end_epoch: int, skip: int = 0):
    """Training batches for epochs [first_epoch, end_epoch), all inside tf.data.

    Python runs once per epoch (to draw the shuffled plan); gathering, casting and
    masking run in TensorFlow's threads. A Python generator per batch cost ~40%
    of the step time on 2 cores through GIL contention with the train step.
    """
    import tensorflow as tf

    ids_t = tf.constant(ids)
    total = windows_per_epoch(len(ids), seq_length)

    def plan(epoch):
        return epoch_plan(len(ids), seq_length, epoch_rng(seed, int(epoch)))

    def epoch_ds(epoch):
        starts, lengths = tf.numpy_function(plan, [epoch], (tf.int64, tf.int64), stateful=False)
        starts.set_shape([total])
        lengths.set_shape([total])
        return tf.data.Dataset.from_tensor_slices((starts, lengths))

    # batch within each epoch, so an epoch's smaller last batch never mixes with the next
    ds = tf.data.Dataset.range(first_epoch, end_epoch).flat_map(
        lambda e: epoch_ds(e).batch(batch_size))
    if skip:
        ds = ds.skip(skip)  # resume mid-epoch: only the first epoch is cut
    ds = ds.map(_tf_gather(tf, ids_t, seq_length), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def tf_eval_batches(ids: np.ndarray, seq_length: int, batch_size: int):
    """Validation batches: the grid from offset 0, in text order, the same every epoch."""
    import tensorflow as tf

    starts, lengths = epoch_plan(len(ids), seq_length, None)
    ds = tf.data.Dataset.from_tensor_slices((starts, lengths)).batch(batch_size)
    ds = ds.map(_tf_gather(tf, tf.constant(ids), seq_length), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.cache().prefetch(tf.data.AUTOTUNE)
