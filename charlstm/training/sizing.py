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

import time
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Size:
    layers: int
    units: int
    dropout: float

    def __str__(self) -> str:
        return f"{self.layers}×{self.units}, dropout {self.dropout:g}"


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
SIZES: tuple[tuple[int, float, Size], ...] = (
    (500_000, 36.0, Size(2, 512, 0.35)),
    (0, 0.0, CARD),
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

    @property
    def size(self) -> Size:
        return Size(self.layers, self.units, self.dropout)

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


def choose_size(budget_s: float, train_chars: int, chars_per_s: float) -> Sizing:
    """The network for a `budget_s`-second run on `train_chars` training characters on a machine
    where the card model trains `chars_per_s` (pure: the SIZES table)."""
    epochs = card_epochs(budget_s, train_chars, chars_per_s)
    size = next(s for least_chars, least_epochs, s in SIZES if train_chars >= least_chars and epochs >= least_epochs)
    return Sizing(size.layers, size.units, size.dropout, float(budget_s), int(train_chars), float(chars_per_s), epochs)


# --- the probe -------------------------------------------------------------------------------

# The card's training step is a chain of small matmuls, (64 rows × (inputs + units)) times
# ((inputs + units) × 4·units) per layer and character, forward and twice that backward.
# The probe times that matmul in NumPy and converts its FLOP rate to the card's chars/s with
# PROBE_EFFICIENCY: the ratio of Keras's real training speed to the probe's estimate, measured
# on this project's machines (see PROBE_EFFICIENCY's comment). A factor of 1.5 either way
# moves the 2×512 row's threshold from 20 min to 13 or 30: the rule needs no better.
PROBE_ROWS = 64  # TrainConfig's default batch size
PROBE_SECONDS = 0.25  # how long the probe times matmuls (its whole cost is about this)


def card_flops_per_char() -> float:
    """FLOP of one training step per target character of the card model (forward + 2× backward)."""
    forward, width = 0.0, EMBEDDING_DIM
    for _ in range(CARD.layers):
        forward += 2 * (width + CARD.units) * 4 * CARD.units
        width = CARD.units
    forward += 2 * CARD.units * VOCAB
    return 3 * forward


# Keras's training chars/s over the probe's FLOP-rate estimate (dropout, the tape, the
# elementwise gates and the optimizer are what the matmul alone leaves out). Measured on
# this machine type (2-vCPU Zen 5) on 2026-12-07: see benchmarks/RESULTS.md, run 17.
PROBE_EFFICIENCY = 0.55


def probe_chars_per_s(seconds: float = PROBE_SECONDS) -> float:
    """The card model's training chars/s on this machine, estimated from NumPy matmuls."""
    rng = np.random.default_rng(0)
    width = CARD.units + CARD.units  # the second layer's (inputs + units)
    a = rng.standard_normal((PROBE_ROWS, width), dtype=np.float32)  # (rows, inputs + units)
    w = rng.standard_normal((width, 4 * CARD.units), dtype=np.float32)  # (inputs + units, 4·units)
    a @ w  # warm the BLAS threads
    done, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        for _ in range(16):
            a @ w
        done += 16
    flops_per_s = done * 2 * PROBE_ROWS * width * 4 * CARD.units / elapsed
    return PROBE_EFFICIENCY * flops_per_s / card_flops_per_char()


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
