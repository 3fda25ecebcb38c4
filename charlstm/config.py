"""Hyper-parameters as dataclasses: the CLI fills them, checkpoints store them.

Stored as plain JSON inside every checkpoint, so a checkpoint alone is enough to
rebuild, sample from or resume a model (torch-rnn's rule).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from charlstm.errors import UsageError

CELLS = ("lstm", "gru", "peephole", "cifg", "rnn")


@dataclass
class ModelConfig:
    vocab_size: int  # distinct characters: the softmax width and embedding rows
    cell: str = "lstm"  # recurrent cell: lstm | gru | peephole | cifg | rnn
    layers: int = 2  # stacked recurrent layers
    units: int = 300  # hidden units per recurrent layer
    embedding_dim: int = 64  # learned vector per char (the tutorial fed one scaled integer)
    dropout: float = 0.2  # after each recurrent layer during training; off when sampling

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise UsageError(f"unknown cell {self.cell!r}: choose one of {', '.join(CELLS)}")
        if self.vocab_size < 2:
            raise UsageError("the vocabulary needs at least 2 distinct characters")
        for name in ("layers", "units", "embedding_dim"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
        if not 0.0 <= self.dropout < 1.0:
            raise UsageError("--dropout must be in [0, 1)")


@dataclass
class TrainConfig:
    seq_length: int = 50  # chars per training window; every position is a target
    batch_size: int = 64  # windows per step: small batches learn most per second (shrunk for tiny corpora)
    epochs: int = 50  # upper bound; --max-time and --patience usually stop first
    learning_rate: float = 5e-3  # Adam's step size at the start, tuned with batch 64 on tinyshakespeare
    lr_decay: float = 0.5  # factor applied when validation loss stops improving
    clip_norm: float = 5.0  # global gradient-norm clip; LSTMs occasionally explode
    val_fraction: float = 0.1  # last fraction of the text, contiguous, held out
    val_max_chars: int = 1_000_000  # validate on at most this much of the tail (big corpora)
    patience: int = 3  # epochs without validation improvement before stopping (0 = never)
    warmup_steps: int = 200  # no LR decay or early stop before this many steps: early epochs are noisy
    max_time: float | None = None  # wall-clock budget in seconds for the whole run
    seed: int = 0  # initialisation, shuffling and dropout; recorded for resume
    lowercase: bool = False  # fold case before building the vocabulary
    sample_every: int = 1  # print a sample to stderr every N epochs (0 = never)
    save_every: int = 0  # also write `last` every N steps within an epoch (0 = epoch ends only)
    jit_compile: bool = False  # XLA for the train step: slower for LSTMs on CPU (22K vs 27K chars/s)

    def validate(self) -> None:
        if self.seq_length < 1:
            raise UsageError("--seq-length must be at least 1")
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        if self.epochs < 1:
            raise UsageError("--epochs must be at least 1")
        if not self.learning_rate > 0:
            raise UsageError("--learning-rate must be positive")
        if not 0 < self.lr_decay <= 1:
            raise UsageError("--lr-decay must be in (0, 1]")
        if not self.clip_norm > 0:
            raise UsageError("--clip-norm must be positive")
        if not 0 < self.val_fraction < 1:
            raise UsageError("--val-fraction must be between 0 and 1 (exclusive)")
        if self.max_time is not None and not self.max_time > 0:
            raise UsageError("--max-time must be positive")


def from_dict(cls, data: dict):
    """Build a config from stored JSON, ignoring keys a newer version may add."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
