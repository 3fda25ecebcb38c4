"""Hyper-parameters as dataclasses: the CLI fills them, checkpoints store them.

Stored as plain JSON inside every checkpoint, so a checkpoint alone is enough to
rebuild, sample from or resume a model (torch-rnn's rule). A `TrainConfig` field
marked `run_control` may change when a run is resumed (how long to go on, how
often to report); every other field is a hyper-parameter the resumed run keeps.
The resume rules read these markers, so a new option is never silently dropped.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from charlstm.errors import UsageError

CELLS = ("lstm", "gru", "peephole", "cifg", "rnn")
SCHEDULES = ("linear", "cosine", "plateau")
STRATEGIES = ("auto", "one", "mirrored", "multi-worker")


def run_control(default):
    """A TrainConfig field that a resumed run may change (`--epochs`, `--max-time`, ...)."""
    return field(default=default, metadata={"run_control": True})


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
    seq_length: int = 50  # chars per training window (truncated-BPTT length); every position is a target
    batch_size: int = 64  # global rows per step (split across workers): small batches learn most per second
    # Adam's peak step size, reached at the end of warm-up. 1e-2 beat 5e-3 by 0.04 nats/char
    # after 180 s on tinyshakespeare (benchmarks/RESULTS.md, run 5); clipping keeps it stable.
    learning_rate: float = 1e-2
    schedule: str = "linear"  # lr after warm-up: linear or cosine to ~0 at the budget's end, or plateau halving
    warmup_steps: int = 50  # lr ramps up linearly over these steps; no plateau decay or early stop before
    lr_decay: float = 0.5  # lr factor after an epoch without validation improvement (every schedule)
    clip_norm: float = 5.0  # global gradient-norm clip (after the cross-replica sum); LSTMs occasionally explode
    # Rows are contiguous streams and a window starts from the previous one's final state
    # (True), or shuffled windows each start from zeros (False); None: decided by the
    # training text's size (`auto_carry_state`).
    carry_state: bool | None = None
    val_fraction: float = 0.1  # last fraction of the text, contiguous, held out
    val_max_chars: int = 1_000_000  # validate on at most this much of the tail (big corpora)
    seed: int = 0  # initialisation, data order and dropout masks; recorded for resume
    lowercase: bool = False  # fold case before building the vocabulary
    mixed_precision: bool = False  # float16 on GPU, bfloat16 on CPUs that have it; softmax and loss in float32
    jit_compile: bool = False  # XLA for the train step: slower for LSTMs on CPU (22K vs 27K chars/s)
    epochs: int = run_control(50)  # upper bound; --max-time and --patience usually stop first
    max_time: float | None = run_control(None)  # wall-clock budget in seconds for the whole run
    patience: int = run_control(3)  # epochs without validation improvement before stopping (0 = never)
    sample_every: int = run_control(1)  # print a sample to stderr every N epochs (0 = never)
    save_every: int = run_control(0)  # also write `last` every N steps within an epoch (0 = epoch ends only)

    def validate(self) -> None:
        if self.seq_length < 1:
            raise UsageError("--seq-length must be at least 1")
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        if self.epochs < 1:
            raise UsageError("--epochs must be at least 1")
        if not self.learning_rate > 0:
            raise UsageError("--learning-rate must be positive")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule {self.schedule!r}: choose one of {', '.join(SCHEDULES)}")
        if not 0 < self.lr_decay <= 1:
            raise UsageError("--lr-decay must be in (0, 1]")
        if not self.clip_norm > 0:
            raise UsageError("--clip-norm must be positive")
        if not 0 < self.val_fraction < 1:
            raise UsageError("--val-fraction must be between 0 and 1 (exclusive)")
        if self.max_time is not None and not self.max_time > 0:
            raise UsageError("--max-time must be positive")


# Carried state wins on big texts and loses on small ones (benchmarks/RESULTS.md, runs 4-5),
# held-out nats/char carried vs shuffled windows: tinyshakespeare (1.0M training chars),
# 180 s: 1.488 vs 1.508; its first 300K chars (270K training), 180 s: 1.394 vs 1.382;
# lowercased Macbeth (93K), 300 s: 1.548 ± 0.007 vs 1.521 ± 0.007 (3 seeds). A 2×300
# LSTM fed the long context of a small text memorises it; fresh windows regularise.
# The crossover lies between 270K and 1M; 500K is in between, not measured exactly.
CARRY_MIN_CHARS = 500_000


def auto_carry_state(train_chars: int) -> bool:
    """`carry_state=None`'s choice for a training text of `train_chars` characters."""
    return train_chars >= CARRY_MIN_CHARS


def field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


MODEL_OPTIONS = tuple(n for n in field_names(ModelConfig) if n != "vocab_size")  # fixed for a run's life
RUN_CONTROLS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("run_control"))
HYPER = tuple(n for n in field_names(TrainConfig) if n not in RUN_CONTROLS)  # kept on resume


def from_dict(cls, data: dict):
    """Build a config from stored JSON, ignoring keys a newer version may add.

    Keys an older checkpoint lacks take the value that older charlstm used, not
    today's default: checkpoints written before `carry_state` and `schedule`
    existed trained on shuffled windows with plateau halving.
    """
    names = set(field_names(cls))
    values = {k: v for k, v in data.items() if k in names}
    if cls is TrainConfig:
        values.setdefault("carry_state", False)
        values.setdefault("schedule", "plateau")
    return cls(**values)
