"""The learning rate as a pure function of where the run is (nanoGPT's `get_lr(it)`).

A run with a budget (`--max-time`, or else the planned `--epochs`) knows how far
along it is: `progress` goes from 0 at the start to 1 at the deadline. The rate
warms up linearly over the first steps (Adam's early second-moment estimates are
noisy), then decays with progress:

- `linear`: to zero exactly at the deadline. Li, Yumer & Ramanan 2020 ("Budgeted
  Training") found linear-to-zero the best schedule under a fixed budget.
- `cosine`: half a cosine to zero (nanoGPT, SGDR).
- `plateau`: constant (the schedule charlstm had before budgets).

Under every schedule, an epoch without improvement multiplies `plateau_scale` by
--lr-decay: the budget decays the rate on time, overfitting decays it sooner. On
lowercased Macbeth (93K chars, which a 2×300 LSTM overfits within a minute, so the
run ends by patience long before a 300 s decay has done its work), held-out nats/char
over 3 seeds: linear decay alone 1.521 ± 0.007, plateau halving alone 1.503 ± 0.012,
both 1.512 ± 0.012 (benchmarks/RESULTS.md, run 5).

Nothing here reads a clock or a model: resume passes back the stored step and
elapsed time and gets the same rate the uninterrupted run would have used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def warmup_factor(step: int, warmup_steps: int) -> float:
    """1/w, 2/w, ..., 1 over the first `warmup_steps` steps (step counts from 0)."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, (step + 1) / warmup_steps)


def decay_factor(schedule: str, progress: float) -> float:
    """The fraction of the peak rate left at `progress` (0..1) of the budget."""
    p = min(max(progress, 0.0), 1.0)
    if schedule == "linear":
        return 1.0 - p
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * p))
    if schedule == "plateau":
        return 1.0
    raise ValueError(f"unknown schedule {schedule!r}")


def get_lr(
    step: int, progress: float, *, peak: float, schedule: str, warmup_steps: int, plateau_scale: float = 1.0
) -> float:
    """The learning rate for optimizer step `step` taken at `progress` of the budget."""
    return peak * warmup_factor(step, warmup_steps) * decay_factor(schedule, progress) * plateau_scale


def progress(step: int, elapsed: float, *, total_steps: int, budget_seconds: float | None) -> float:
    """How far through its budget the run is: the planned epochs' steps, or the
    wall-clock budget, whichever runs out first (so with `--max-time` the rate
    reaches zero at the deadline whatever the machine's speed)."""
    by_steps = step / max(total_steps, 1)
    by_time = elapsed / budget_seconds if budget_seconds else 0.0
    return min(1.0, max(by_steps, by_time))


@dataclass(frozen=True)
class Verdict:
    """What an epoch's validation loss means for the run."""

    improved: bool  # a new best: checkpoint it as `best`
    since_best: int  # complete epochs without improvement, after this one
    decay: bool  # multiply the rate by --lr-decay now
    stop: bool  # patience ran out


def judge_epoch(
    val: float, best: float | None, since_best: int, *, complete: bool, past_warmup: bool, patience: int
) -> Verdict:
    """The patience and plateau-decay decision after an epoch, as a pure function.

    Only a complete epoch after warm-up counts against the run: early epochs are
    noisy (Macbeth's are 29 steps at batch 64), and one bad one must not decay the
    rate or count towards stopping; a partial epoch (interrupted) never does.
    """
    if best is None or val < best:
        return Verdict(True, 0, False, False)
    if not (complete and past_warmup):
        return Verdict(False, since_best, False, False)
    since_best += 1
    return Verdict(False, since_best, True, bool(patience) and since_best >= patience)


def anneal_budget(elapsed: float, budget: float | None, epoch_seconds: float, epochs: float = 2.0) -> float | None:
    """The budget after patience runs out under a decaying schedule: the decay is
    compressed into the next `epochs` epochs' time, instead of stopping while the rate
    is still near its peak (seen on Macbeth: a 93K-char corpus overfits within a
    minute, long before a 300 s linear decay has done its work). None when less
    than that remains anyway."""
    target = elapsed + epochs * epoch_seconds
    if budget is not None and budget <= target:
        return None
    return target
