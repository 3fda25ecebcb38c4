"""Cut an id array into training batches, many-to-many, without materialising them.

Two layouts, both a pure function of (seed, epoch), so a resumed or multi-worker
run sees exactly the batches of one uninterrupted process:

- streams (`carry_state`; char-rnn's truncated BPTT): the text is cut into `rows`
  contiguous streams and step k feeds window k of every stream, so the final state
  of one window is the right initial state of the next;
- windows: shuffled independent windows, each from a zero state (below).

Which one a run uses is `TrainConfig.carry_state`: chosen from the training text's
size when not given (`config.auto_carry_state`: streams for big texts).

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
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from charlstm.errors import CorpusError


def split(ids: np.ndarray, val_fraction: float, seq_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Train on the head, validate on the contiguous tail (as char-rnn and nanoGPT do)."""
    n_val = int(round(len(ids) * val_fraction))
    train, val = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
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
    """Batches per epoch, the same for every offset, so every epoch has as many steps
    (the schedule plans its decay over epochs × steps)."""
    return math.ceil(windows_per_epoch(n, seq_length) / batch_size)


def epoch_plan(n: int, seq_length: int, rng=None):
    """An epoch's windows, padded with at most one empty (weight-0) window to a fixed
    count. The last batch is the remainder: smaller, never padded with dead rows
    (on Macbeth at batch 256 that padding would have been 9% of the compute)."""
    starts, lengths = epoch_windows(n, seq_length, rng)
    pad = windows_per_epoch(n, seq_length) - len(starts)
    return (np.concatenate([starts, np.zeros(pad, np.int64)]), np.concatenate([lengths, np.zeros(pad, np.int64)]))


def batches(ids: np.ndarray, seq_length: int, batch_size: int, rng=None, skip: int = 0) -> Iterator[tuple]:
    """One epoch's shuffled-window batches, (batch_size, seq_length) but the last.
    `skip` drops the first batches (resuming mid-epoch)."""
    starts, lengths = epoch_plan(len(ids), seq_length, rng)
    for lo in range(skip * batch_size, len(starts), batch_size):
        yield gather(ids, starts[lo : lo + batch_size], lengths[lo : lo + batch_size], seq_length)


def targets_in(n: int, seq_length: int, batch_size: int, rng, first: int, end: int) -> int:
    """Real targets (weight 1) in batches [first, end) of an epoch: the honest chars count."""
    _, lengths = epoch_plan(n, seq_length, rng)
    return int(lengths[first * batch_size : end * batch_size].sum())


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """Shuffling for epoch `epoch` depends only on (seed, epoch): resume sees the same data."""
    return np.random.default_rng([seed, epoch])


# --- streams: contiguous rows for carried state -------------------------------------------


def stream_row_length(n: int, seq_length: int, rows: int) -> int:
    """Targets per stream, the same for every epoch offset (offset < seq_length)."""
    return (n - seq_length) // rows


def stream_rows(n: int, seq_length: int, batch_size: int) -> int:
    """Rows to use: the batch size, unless the text is too short for every row to
    hold at least one full window (then fewer; any count, the engine pads for replicas)."""
    rows = batch_size
    while rows > 1 and stream_row_length(n, seq_length, rows) < seq_length:
        rows -= 1
    return rows


def stream_steps(n: int, seq_length: int, rows: int) -> int:
    return math.ceil(stream_row_length(n, seq_length, rows) / seq_length)


def stream_starts(n: int, seq_length: int, rows: int, rng: np.random.Generator | None) -> np.ndarray:
    """First input position of each row; the random offset moves the window grid each epoch."""
    offset = int(rng.integers(0, seq_length)) if rng is not None else 0
    return offset + np.arange(rows, dtype=np.int64) * stream_row_length(n, seq_length, rows)


def stream_batch(ids: np.ndarray, starts: np.ndarray, row_length: int, k: int, seq_length: int):
    """Window k of every row: inputs (rows, seq), targets (rows, seq), weights (rows, seq).

    Positions past a row's end (only in the last window) get weight 0 and read
    the next row's text, which the weight hides.
    """
    lo = k * seq_length
    pos = starts[:, None] + lo + np.arange(seq_length + 1)  # (rows, seq+1)
    np.minimum(pos, len(ids) - 1, out=pos)
    window = ids[pos].astype(np.int32)
    weights = np.broadcast_to(((lo + np.arange(seq_length)) < row_length).astype(np.float32), (len(starts), seq_length))
    return window[:, :-1], window[:, 1:], np.ascontiguousarray(weights)


@dataclass(frozen=True)
class Batches:
    """An epoch's batches in either layout: what the training loop iterates.

    `rows` is the global batch (all replicas together); each replica takes its
    contiguous block of rows, so a 2-worker run computes the 1-worker batches.
    """

    ids: np.ndarray  # (chars,) the training ids (an array or a read-only memmap)
    seq_length: int
    rows: int  # global rows per step
    seed: int
    carry_state: bool  # streams (state carried between steps) or shuffled windows

    @property
    def steps(self) -> int:
        if self.carry_state:
            return stream_steps(len(self.ids), self.seq_length, self.rows)
        return steps_per_epoch(len(self.ids), self.seq_length, self.rows)

    def epoch(self, epoch: int, skip: int = 0) -> Iterator[tuple]:
        """Batches [skip, steps) of `epoch`: (inputs, targets, weights), (rows, seq) each
        (windows: the last batch may have fewer rows)."""
        rng = epoch_rng(self.seed, epoch)
        if not self.carry_state:
            yield from batches(self.ids, self.seq_length, self.rows, rng, skip)
            return
        n, L = len(self.ids), self.seq_length
        starts = stream_starts(n, L, self.rows, rng)
        row_length = stream_row_length(n, L, self.rows)
        for k in range(skip, self.steps):
            yield stream_batch(self.ids, starts, row_length, k, L)

    def targets(self, epoch: int, first: int, end: int) -> int:
        """Real targets (weight 1) in batches [first, end) of `epoch`: the honest chars count."""
        if not self.carry_state:
            return targets_in(len(self.ids), self.seq_length, self.rows, epoch_rng(self.seed, epoch), first, end)
        row_length = stream_row_length(len(self.ids), self.seq_length, self.rows)
        done = min(end * self.seq_length, row_length) - min(first * self.seq_length, row_length)
        return max(done, 0) * self.rows


def validation_batches(ids: np.ndarray, seq_length: int, rows: int, carry_state: bool) -> list[tuple]:
    """The held-out batches, the same every epoch: streams from offset 0 (state carried,
    so the figure is close to `charlstm eval`'s) or windows in text order."""
    if carry_state:
        rows = stream_rows(len(ids), seq_length, rows)
        starts = stream_starts(len(ids), seq_length, rows, None)
        row_length = stream_row_length(len(ids), seq_length, rows)
        return [
            stream_batch(ids, starts, row_length, k, seq_length)
            for k in range(stream_steps(len(ids), seq_length, rows))
        ]
    return list(batches(ids, seq_length, rows))
