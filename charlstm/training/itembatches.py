"""Training batches of items (`--items`): each item from the start state, no window across two.

A row holds one item: inputs "\n" + item, targets item + "\n", from a zero state,
right-padded with weight 0 (padding after the last real position leaves it untouched in
a forward RNN, and counts neither in the loss nor in chars/s). A batch is as wide as its
longest item, not --seq-length (names: ~13 wide, not 50).

An item longer than one window (len + 1 > seq_length) is cut into windows with the state
carried within the item: long items go in groups of `rows`, sorted by their window count,
and a group runs its K windows as K consecutive steps whose state carries over (the batch's
fourth element, `carry`, is True after a group's first step); rows whose item has ended
ride along with weight 0.

Why padded rows rather than several items packed in a row with the state reset at each
newline: a reset inside a sequence needs a per-timestep reset input in the recurrent layer,
which Keras's fused LSTM/GRU layers (and cuDNN) do not have; a custom cell would put every
item run on the generic while-loop kernel.

Bucketing by length (sorting runs of BUCKET batches' items by length, the batches' order
then shuffled) cuts the padding on makemore's 32,033 names (mean 6.1 chars, longest 15) at
64 rows from 36% to 7.5% (BUCKET=16; 55% at a fixed width of 16, 86% at --seq-length 50),
but it loses: trained 60 s with --items at the defaults and scored on 1,000 random held-out
names (nats/char, a shared 2-core machine under a load of 5-6), BUCKET=1 scored 2.023 and
2.054 (5,448 and 4,769 chars/s), BUCKET=16 2.075 and 2.104 (5,773 and 4,884 chars/s),
BUCKET=4 2.165 (3,500 chars/s, a busier minute). Batches of one length learn less per
character, and the padding saved did not show as chars/s. Measured again alone on the 2 cores
(machine G of benchmarks/RESULTS.md run 20, 2×300 with dropout 0.35, 300 s, makemore's 1,000
test names): BUCKET=16 trained 8,624 chars/s against 7,030 (1.23×, 12.5 epochs against 10.3)
and still scored worse, 1.8994 nats/char against 1.8917. So BUCKET=1: each batch a random
draw of items. Validation sorts its items by length (its loss does not depend on the order).

Like `dataset.Batches`, an epoch is a pure function of (seed, epoch) and has the same
number of steps every epoch (the schedule plans its decay over epochs × steps).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from charlstm.text.items import ItemList
from charlstm.training.dataset import epoch_rng

BUCKET = 1  # batches of short items sorted by length together: 1 = none (the figures above)


@dataclass(frozen=True)
class ItemBatches:
    """An epoch's item batches: (inputs, targets, weights, carry), (rows, width) each but carry."""

    items: ItemList
    seq_length: int
    rows: int  # global rows per step (a batch of the last items may have fewer)
    seed: int
    carry_state: bool = False  # the state never crosses two items (`carry` says when it continues one)

    @cached_property
    def spans(self) -> np.ndarray:
        return self.items.lengths + 1  # (items,) inputs (= targets) of each item

    @cached_property
    def steps(self) -> int:
        windows = np.ceil(self.spans / self.seq_length).astype(np.int64)
        short = int((windows == 1).sum())
        long_k = np.sort(windows[windows > 1])
        groups = long_k[self.rows - 1 :: self.rows].tolist() + ([int(long_k[-1])] if len(long_k) % self.rows else [])
        return math.ceil(short / self.rows) + int(sum(groups))

    @property
    def chars_per_step(self) -> float:
        """Real targets per step on average (the progress bar's chars/s; padding is not a char)."""
        return self.items.targets / max(self.steps, 1)

    def units(self, rng: np.random.Generator | None) -> list[tuple[np.ndarray, int]]:
        """The epoch's groups of items as (item indices, windows): a batch of short items runs one
        step, a group of long ones K. With `rng` None (validation): sorted by length, in order."""
        spans, L, rows = self.spans, self.seq_length, self.rows
        windows = np.ceil(spans / L).astype(np.int64)
        short, long_ = np.flatnonzero(windows == 1), np.flatnonzero(windows > 1)
        if rng is not None:
            short = rng.permutation(short)
            long_ = long_[rng.permutation(len(long_))]
        chunk = BUCKET * rows if rng is not None else max(len(short), 1)
        bucketed = np.concatenate(
            [c[np.argsort(spans[c], kind="stable")] for c in np.array_split(short, max(1, -(-len(short) // chunk)))]
        )
        units = [(bucketed[lo : lo + rows], 1) for lo in range(0, len(bucketed), rows)]
        long_ = long_[np.argsort(windows[long_], kind="stable")]  # the same group sizes every epoch
        units += [
            (long_[lo : lo + rows], int(windows[long_[lo : lo + rows]].max())) for lo in range(0, len(long_), rows)
        ]
        if rng is not None:
            units = [units[k] for k in rng.permutation(len(units))]
        return units

    def batch(self, which: np.ndarray, j: int) -> tuple:
        """Window j of items `which`: (inputs, targets, weights, carry), width = the longest real part."""
        ids, L = self.items.ids, self.seq_length
        real = np.clip(self.spans[which] - j * L, 0, L)  # (rows,) real positions in this window
        width = max(int(real.max()), 1)
        pos = self.items.starts[which, None] + j * L + np.arange(width + 1)  # (rows, width+1)
        np.minimum(pos, len(ids) - 1, out=pos)  # padded positions read any valid id (weight 0)
        window = ids[pos].astype(np.int32)
        weights = (np.arange(width)[None, :] < real[:, None]).astype(np.float32)
        return window[:, :-1], window[:, 1:], weights, j > 0

    def _steps(self, rng) -> Iterator[tuple[np.ndarray, int]]:
        for which, k in self.units(rng):
            for j in range(k):
                yield which, j

    def epoch(self, epoch: int, skip: int = 0) -> Iterator[tuple]:
        """Batches [skip, steps) of `epoch`. A resume inside a long item's group starts that
        window from zeros (the carried state of a mid-epoch checkpoint is the streams' only)."""
        for k, (which, j) in enumerate(self._steps(epoch_rng(self.seed, epoch))):
            if k >= skip:
                yield self.batch(which, j)

    def targets(self, epoch: int, first: int, end: int) -> int:
        """Real targets (weight 1) in batches [first, end) of `epoch`: the honest chars count."""
        total = 0
        for k, (which, j) in enumerate(self._steps(epoch_rng(self.seed, epoch))):
            if first <= k < end:
                total += int(np.clip(self.spans[which] - j * self.seq_length, 0, self.seq_length).sum())
        return total

    def validation(self) -> list[tuple]:
        """Every item once, sorted by length (little padding), the same every epoch."""
        return [self.batch(which, j) for which, j in self._steps(None)]
