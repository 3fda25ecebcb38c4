"""The network a time budget buys: `--max-time` alone chooses the layers, units and dropout.

    speed = probe_chars_per_s()                                   # the card model's chars/s here, ~0.3 s
    size = choose_size(budget_s, train_chars, speed)              # pure: the table below
    size.layers, size.units, size.dropout, size.reason

A bigger network learns more per character but trains fewer characters per second and
overfits a small text sooner. What decides is how many passes over the training text the
card's 2×300 could make in the budget (`card_epochs`: budget × its chars/s ÷ training
chars): a few, and it is still improving at the deadline, so a bigger one would only see
less text; dozens, and it overfits long before the deadline, so a bigger, more regularised
one uses the time. The rule applies only when the user gives `--max-time` and none of
`--units`, `--layers`, `--dropout`, `--init-from` (plan.py), and never on a multi-worker
run (each worker would probe its own speed). The choice is printed, stored in every
checkpoint of the run (`extra["sizing"]`) and shown by `charlstm info`; a resumed run keeps it.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Size:
    layers: int
    units: int
    dropout: float
    weight_decay: float = 0.0  # AdamW's (TrainConfig.weight_decay): the long item row's

    def __str__(self) -> str:
        extra = f", weight decay {self.weight_decay:g}" if self.weight_decay else ""
        return f"{self.layers}×{self.units}, dropout {self.dropout:g}{extra}"


CARD = Size(2, 300, 0.2)  # ModelConfig's defaults: what a run without --max-time trains

# The table: (least training chars, least card epochs in the budget, size), the first row
# whose two minimums the run meets wins; rows run from the largest model down, so a longer
# budget on the same text never gets a smaller model. Figures: held-out nats/char, state
# carried, tinyshakespeare with nanoGPT's split (1.0M training chars), machine C (2-vCPU
# Zen 5, the card at ~32K chars/s, 2×512 at ~10K), benchmarks/RESULTS.md runs 4-5:
# - MEASURED, the 2×512 row: at 30 min (57 card epochs) 2×512 with dropout 0.35 1.437
#   (patience at 26 min) and with 0.5 1.438 (to the deadline), against the card's 1.456
#   (it overfits after ~12 min and patience ends it).
# - MEASURED, the card row: at 3 min (6 card epochs) the card 1.444; the 2×512 needed 10 min
#   to reach 1.50. Lowercased Macbeth (93K training chars, ~100 card epochs in 5 min): the
#   card overfits it within a minute, more dropout (0.35, 0.5) did not help; nothing bigger.
# - INTERPOLATED: the 2×512 row's thresholds. 36 card epochs is 20 min on machine C, where
#   RESULTS.md (run 5) places the crossover between the 3- and 30-minute measurements; 500K
#   training chars is CARRY_MIN_CHARS's crossover (carried state wins from there), and no
#   model above the card was measured on a text between 93K and 1.0M chars. No row yet for
#   ~5M-char texts or 2×400: benchmarks/budget_sizes.py sweeps budgets 1-30 min × texts of
#   ~100K, ~1M, ~5M chars × sizes and dropouts, and its winners replace these rows.
# - MEASURED, the row below the card (RESULTS run 21, machine G: a 2-vCPU Intel Xeon, the card at
#   ~14K chars/s): at 3 min on tinyshakespeare (budget_sizes.py's 90/10 split, 2.5 card epochs)
#   the 2×300 without dropout 1.499, 2×200 with dropout 0.2 1.531 (4.6 of its own epochs at 25.9K
#   chars/s), the card 1.576: with a few passes the network is still learning at the deadline,
#   and dropout only slows it. INTERPOLATED: SMALL_CARD_EPOCHS, between that 2.5 and machine C's
#   5.7 at 3 min, where the card was measured (1.444) and dropout 0 was not.
SMALL_CARD_EPOCHS = 4.0
SIZES: tuple[tuple[int, float, Size], ...] = (
    (500_000, 36.0, Size(2, 512, 0.35)),
    (0, SMALL_CARD_EPOCHS, CARD),
    (0, 0.0, Size(2, 300, 0.0)),
)

# --items (a list, one item a line: names, words, titles): the same rule, its own rows. An item
# is short and learnt from the start state, so a small network learns a list's few patterns
# and trains several times the characters per second (names: 2×128 at 21.5K chars/s against the
# card's 4.3K, one core, where padding to each batch's longest item also costs the card more).
# Figures: makemore's names.txt (31,033 training names, 1,000 random ones held out, 220K training
# chars), held-out nats/char from the start state with the end symbol (makemore's measure), one
# core (`taskset -c 0`) of machine G of RESULTS run 19, seed 1:
# - MEASURED at 60 s (2.2 card epochs by the one-core probe, 8.0K chars/s): 2×128 dropout 0
#   1.935, 2×128 dropout 0.2 1.954, 1×384 1.957, 2×200 1.959, the card (2×300, dropout 0.2) 2.054.
# - MEASURED at 300 s (10.9 card epochs): the card 1.914 (still improving at the deadline),
#   2×128 dropout 0 1.943 (it overfits: patience ended it at 14 of its epochs), 2×128 dropout
#   0.2 1.939 (on a core shared with another process, so fewer epochs than it would have had).
# - MEASURED at 300 s on both cores, alone (RESULTS run 20, makemore's own 1,000 test names): a
#   2×300 with a list's regularisation. With Adam and dropout after each layer only, the 2×300
#   overfits the names by its 7th epoch (held-out flat while the training loss falls): dropout
#   0.2 1.894 (run 19), 0.35 1.8917, 0.5 1.906; a longer epoch budget did not help (batches of
#   one length 1.8994 at 1.23× the chars/s, batch 128 1.8969). Dropout 0.35 on the embeddings too
#   1.8856; AdamW's decoupled weight decay instead, 0.03 1.8820 and 0.1 **1.8717**; both, 0.35 on
#   the embeddings with weight decay 0.03 1.8766, with 0.1 1.8767 (the embeddings' dropout adds
#   nothing to weight decay 0.1, so the row leaves it at 0).
# - INTERPOLATED: ITEM_CARD_EPOCHS, between the two: the 2×128 is near its best after ~8 of
#   its own epochs, a quarter of that for the card (its chars/s on items is a quarter of
#   the 2×128's), which reached 1.914 only after 7.8 of its own.
ITEM_CARD_EPOCHS = 8.0
ITEM_LONG = Size(2, 300, 0.35, weight_decay=0.1)  # a list given >= 8 card epochs
ITEM_SIZES: tuple[tuple[int, float, Size], ...] = (
    (0, ITEM_CARD_EPOCHS, ITEM_LONG),
    (0, 0.0, Size(2, 128, 0.0)),
)

EMBEDDING_DIM = 64  # ModelConfig's default: the first layer's input width in the FLOP count below
VOCAB = 65  # a typical English text's distinct characters (tinyshakespeare's): the softmax's width


def card_epochs(budget_s: float, train_chars: int, chars_per_s: float) -> float:
    """Passes over the training text the card model could make in the budget."""
    return budget_s * chars_per_s / max(train_chars, 1)


@dataclass(frozen=True)
class Sizing:
    """The rule's choice and why: what the run logs, stores and `charlstm info` shows."""

    layers: int
    units: int
    dropout: float
    budget_s: float
    train_chars: int
    chars_per_s: float  # the card model's estimated chars/s on this machine (the probe)
    card_epochs: float
    weight_decay: float = 0.0

    @property
    def size(self) -> Size:
        return Size(self.layers, self.units, self.dropout, self.weight_decay)

    @property
    def reason(self) -> str:
        return (
            f"{self.size}: chosen for {_duration(self.budget_s)} on {_chars(self.train_chars)} training chars "
            f"at ~{_chars(self.chars_per_s)} chars/s (a 2×300's, probed); "
            f"pass --units/--layers/--dropout to choose yourself"
        )

    def record(self) -> dict:
        """What checkpoints store under `sizing`."""
        rounded = {"chars_per_s": round(self.chars_per_s), "card_epochs": round(self.card_epochs, 2)}
        return asdict(self) | rounded | {"reason": self.reason}


def choose_size(budget_s: float, train_chars: int, chars_per_s: float, items: bool = False) -> Sizing:
    """The network for a `budget_s`-second run on `train_chars` training characters on a machine
    where the card model trains `chars_per_s` (pure: the SIZES table, ITEM_SIZES for --items)."""
    epochs = card_epochs(budget_s, train_chars, chars_per_s)
    table = ITEM_SIZES if items else SIZES
    size = next(s for least_chars, least_epochs, s in table if train_chars >= least_chars and epochs >= least_epochs)
    return Sizing(
        size.layers, size.units, size.dropout, float(budget_s), int(train_chars), float(chars_per_s), epochs,
        size.weight_decay,
    )  # fmt: skip


# --- the probe -------------------------------------------------------------------------------

# The card's training step is a chain of small matmuls, (64 rows × (inputs + units)) times
# ((inputs + units) × 4·units) per layer and character, forward and twice that backward, on
# every core. The probe times one core's matmul rate in NumPy and converts it to the card's
# chars/s: × the cores, ÷ card_flops_per_char(), × PROBE_EFFICIENCY. One core, because a
# 2-thread BLAS on 2 cores that another process also uses collapses: (64×600)·(600×1200) ran
# at 2 GFLOP/s in three trials of four and 93 in the fourth, while a matmul below OpenBLAS's
# threading threshold (m·n·k < 262,144) ran at 82-88 in all four (2026-12-07, the 2-vCPU
# Intel Xeon with AVX512_BF16 of run 17, shared with three other sessions). The fastest of
# 5 ms trials: a moment of another process's load must not shrink a whole run's network.
# A factor of 1.5 either way moves the 2×512 row's threshold from 20 min to 13 or 30 on
# machine C: the rule needs no better.
PROBE_SHAPE = (16, 128, 120)  # (m, k, n): m·n·k = 245,760, one thread in OpenBLAS
PROBE_SECONDS = 0.5  # the probe's whole cost: 0.25 s read 60-88 GFLOP/s under load, 0.5 s 89-90 (4 tries each)

# The card's measured training chars/s over the probe's FLOP-rate estimate (the tape, the
# gates' elementwise work, dropout and Adam are what a matmul leaves out): 15.8K chars/s
# at 600 s on the 2-core Intel machine of issue 44's side-by-side (2026-12-07), against
# the probe's ~89 GFLOP/s a core there (×2 cores ÷ 7.06M FLOP/char = 25K chars/s).
# Calibrated on that one machine type; benchmarks/train_overhead.py prints the ratio.
PROBE_EFFICIENCY = 0.63


def card_flops_per_char() -> float:
    """FLOP of one training step per target character of the card model (forward + 2× backward)."""
    forward, width = 0.0, EMBEDDING_DIM
    for _ in range(CARD.layers):
        forward += 2 * (width + CARD.units) * 4 * CARD.units
        width = CARD.units
    forward += 2 * CARD.units * VOCAB
    return 3 * forward


def cores() -> int:
    """The cores this process may run on (TensorFlow's intra-op threads)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def core_flops(seconds: float = PROBE_SECONDS, trial_seconds: float = 0.005) -> float:
    """One core's float32 matmul FLOP/s: the fastest of many short trials of PROBE_SHAPE."""
    m, k, n = PROBE_SHAPE
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    w = rng.standard_normal((k, n), dtype=np.float32)
    a @ w
    best, t_end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < t_end or best == 0.0:
        done, t0 = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - t0) < trial_seconds:
            a @ w
            done += 1
        best = max(best, done / elapsed)  # matmuls per second
    return best * 2 * m * k * n


def probe_chars_per_s(seconds: float = PROBE_SECONDS) -> float:
    """The card model's training chars/s on this machine, estimated (~`seconds` of NumPy)."""
    return PROBE_EFFICIENCY * cores() * core_flops(seconds) / card_flops_per_char()


def _duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:.3g} s"


def _chars(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2g}M"
    if n >= 1e3:
        return f"{n / 1e3:.3g}K"
    return f"{n:.0f}"
