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
from charlstm.options import FLAG, SEED, SWITCH, check_fields, choice, floats, ints, option

CELLS = ("lstm", "gru", "peephole", "cifg", "rnn")
SCHEDULES = ("linear", "cosine", "plateau")
DEVICES = ("auto", "cpu", "gpu")
STRATEGIES = ("auto", "one", "mirrored", "multi-worker")


# Carried state wins on big texts and loses on small ones (benchmarks/RESULTS.md, runs 4-5),
# held-out nats/char carried vs shuffled windows: tinyshakespeare (1.0M training chars),
# 180 s: 1.488 vs 1.508; its first 300K chars (270K training), 180 s: 1.394 vs 1.382;
# lowercased Macbeth (93K), 300 s: 1.548 ± 0.007 vs 1.521 ± 0.007 (3 seeds). A 2×300
# LSTM fed the long context of a small text memorises it; fresh windows regularise.
# The crossover lies between 270K and 1M; 500K is in between, not measured exactly.
CARRY_MIN_CHARS = 500_000


# Fine-tuning's learning rate (`--init-from` without --learning-rate) follows how far the text
# is from what the start knows: the start's nats/char on the text's first FINETUNE_PROBE_CHARS
# (finetune.text_loss; a character new to it costs ~6.9), log-linear from the first pair's
# rate at its loss or less to the second's at its loss or more (finetune.learning_rate).
# Measured with the bundled base, 30K chars, 60 s, held-out nats/char, its own dropout 0
# (benchmarks/RESULTS.md, run 13): unseen plays (the base scores them 1.47) 1e-4 1.462,
# 3e-4 1.476, 1e-3 1.496; Python source (3.22) 1e-2 1.835, 3e-3 1.879, 1e-3 2.037; Russian
# (6.93: its letters are new) 1e-2 1.766, 3e-3 1.963, 1e-3 2.315. No one rate serves all
# three. Dropout is the start's (finetune.inherited_model); warm-up stays 50 steps (not swept).
FINETUNE_PROBE_CHARS = 10_000  # the text's first characters the start scores, state carried
FINETUNE_RATES = ((1.5, 3e-4), (3.0, 1e-2))  # (the start's nats/char, the rate) at the near and far ends


# Validation during a run, on a fixed head of the held-out tail (TrainConfig.val_run_chars):
# the whole tail of tinyshakespeare (111K chars) scored twice per epoch (state carried, then
# fresh windows) cost 8.7 s of a 60 s run with both cores shared (benchmarks/train_overhead.py,
# RESULTS.md run 17), ~41 s of a 600 s budget alone (issue 44). 30K chars scored once per epoch
# is 7× less; a text with a tail that short (lowercased Macbeth's is 9.3K) is scored whole.
VAL_RUN_CHARS = 30_000


def auto_carry_state(train_chars: int) -> bool:
    """`carry_state=None`'s choice for a training text of `train_chars` characters."""
    return train_chars >= CARRY_MIN_CHARS


_BY_BUDGET = "or the budget's choice with --max-time alone"


def run_control(field_default, help: str, kind, /, **details):
    """A TrainConfig option that a resumed run may change (`--epochs`, `--max-time`, ...)."""
    f = option(field_default, help, kind, **details)
    return field(default=field_default, metadata={**f.metadata, "run_control": True})


@dataclass
class ModelConfig:
    vocab_size: int  # distinct characters: the softmax width and embedding rows
    cell: str = option("lstm", "Recurrent cell.", choice(CELLS))
    # --max-time with none of --layers/--units/--dropout/--init-from: the budget chooses these
    # three (training/sizing.py), so their defaults below are the card's, for a run without it
    layers: int = option(2, "Stacked recurrent layers.", ints(1, 16), show_default=f"2, {_BY_BUDGET}")
    units: int = option(300, "Units per layer.", ints(1, 8192), show_default=f"300, {_BY_BUDGET}")
    # learned vector per char (the tutorial fed one scaled integer)
    embedding_dim: int = option(64, "Character embedding size.", ints(1, 4096))
    # after each recurrent layer during training; off when sampling
    dropout: float = option(
        0.2, "Dropout after each recurrent layer.", floats(0, 1, high_open=True), show_default=f"0.2, {_BY_BUDGET}"
    )
    # on the character embeddings (the first layer's input) during training: a list of short items
    # overfits through its first layer too (issue 43: makemore's names, 300 s, 2×300 with dropout
    # 0.35 scored 1.8917 nats/char without it, 1.8856 with 0.35 here; beside --weight-decay 0.1 it
    # added nothing, 1.8767 against 1.8717: benchmarks/RESULTS.md run 20)
    input_dropout: float = option(
        0.0,
        "Dropout on the character embeddings, the first layer's input, during training.",
        floats(0, 1, high_open=True),
        show_default=f"0, {_BY_BUDGET}",
    )

    def validate(self) -> None:
        check_fields(self)
        if self.vocab_size < 2:
            raise UsageError("the vocabulary needs at least 2 distinct characters")


@dataclass
class TrainConfig:
    # chars per training window (truncated-BPTT length); every position is a target
    seq_length: int = option(50, "Characters per training window (backpropagation length).", ints(1, 100_000))
    # global rows per step (split across workers): small batches learn most per second
    batch_size: int = option(
        64, "Windows per step, all workers together (the learning rate is not scaled with it).", ints(1, 65_536)
    )
    # Rows are contiguous streams and a window starts from the previous one's final state
    # (True), or shuffled windows each start from zeros (False); None: decided by the
    # training text's size (`auto_carry_state`).
    carry_state: bool | None = option(
        None,
        "Rows are contiguous streams and each window starts from the previous one's final state "
        "(char-rnn's truncated BPTT); off: shuffled windows from a zero state.",
        SWITCH,
        show_default=f"on for a training text of at least {CARRY_MIN_CHARS:,} chars",
    )
    # With carried state a row meets the zero state (where `generate` and `eval` start) once an
    # epoch, so a young model can fall from it into a state it never leaves: issue 42's 2×300
    # after 600 s of the 38M-char corpus scored 9.4 nats/char on a sentence opened by "94" from
    # zeros (every later character too: a panel text so opened scored 9.9 over 15K chars, 1.71
    # after 300 chars of warm-up), and 2.97 bits/char on the corpus's tail. Each step zeroing
    # this fraction of the rows' carried state (a mask keyed by seed and step: no RNG state,
    # the same for any replica count), the same run scored 1.55 and 2.24 (RESULTS run 21).
    state_reset: float = option(
        0.01,
        "With carried state, the fraction of rows whose state each step starts from zeros instead "
        "(so the model learns to start from the zero state, as generation does).",
        floats(0, 1),
    )
    # an upper bound; --max-time and --patience usually stop first
    epochs: int = run_control(50, "Maximum epochs.", ints(1, 1_000_000))
    # Adam's peak step size, reached at the end of warm-up. 1e-2 beat 5e-3 by 0.04 nats/char
    # after 180 s on tinyshakespeare (benchmarks/RESULTS.md, run 5); clipping keeps it stable.
    learning_rate: float = option(1e-2, "Adam's peak learning rate.", floats(0, 10, low_open=True))
    # lr after warm-up: linear or cosine to ~0 at the budget's end, or plateau halving
    schedule: str = option(
        "linear",
        "After warm-up: linear or cosine decay to zero at the end of --max-time (else of --epochs), "
        "or plateau halving.",
        choice(SCHEDULES),
    )
    # lr ramps up linearly over these steps; no plateau decay or early stop before
    warmup_steps: int = option(
        50, "Linear learning-rate warm-up; no decay or early stopping before it ends.", ints(0, 10**9)
    )
    lr_decay: float = option(
        0.5,
        "Learning-rate factor after an epoch without validation improvement (every schedule).",
        floats(0, 1, low_open=True),
    )
    # after the cross-replica sum; LSTMs occasionally explode
    clip_norm: float = option(5.0, "Global gradient-norm clip.", floats(0, 1e6, low_open=True))
    # decoupled weight decay (Keras's AdamW; 0: Adam, as every run before it): each step shrinks
    # every weight by learning rate × this, so it follows the schedule to zero. A list of short
    # items overfits (issue 43: makemore's names, 300 s, 2×300 with dropout 0.35 scored 1.8917
    # nats/char with Adam, 1.8820 with 0.03 here, 1.8717 with 0.1; benchmarks/RESULTS.md run 20)
    weight_decay: float = option(
        0.0,
        "Decoupled weight decay (AdamW): each step shrinks every weight by the learning rate "
        "times this; 0 is plain Adam.",
        floats(0, 10),
        show_default=f"0, {_BY_BUDGET}",
    )
    # last fraction of the text, contiguous, held out (--items: a seeded random fraction of the items)
    val_fraction: float = option(
        0.1,
        "Fraction held out: the text's end (with --items, a seeded random part of the items).",
        floats(0, 1, low_open=True, high_open=True),
    )
    val_max_chars: int = 1_000_000  # validate on at most this much of the tail (big corpora); no CLI option
    # During the run, validate on the tail's first VAL_RUN_CHARS chars (the best checkpoint is
    # chosen on them); the best weights are scored on the whole tail once, at the end. None:
    # the whole tail every epoch (runs from before issue 44, and multi-worker runs). No CLI option.
    val_run_chars: int | None = VAL_RUN_CHARS
    # epochs without validation improvement before stopping (0 = never)
    patience: int = run_control(3, "Stop after this many epochs without improvement (0 = never).", ints(0, 1_000_000))
    # wall-clock budget in seconds for the whole run
    max_time: float | None = run_control(
        None,
        "Wall-clock budget: the schedule decays to zero at it, then training stops cleanly; without "
        "--layers, --units, --dropout or --init-from it also chooses those three for the budget and the text.",
        floats(0, None, low_open=True),
        metavar="SECONDS",
    )
    # initialisation, data order and dropout masks; recorded for resume. The user's
    # default is a random seed, drawn by charlstm.train; 0 is for configs built directly.
    seed: int = option(0, "Seed for initialisation, data order and dropout.", SEED, default=None, show_default="random")
    lowercase: bool = option(False, "Fold the text to lower case first.", FLAG)  # before building the vocabulary
    # One line, one thing (text/items.py, training/itembatches.py): each non-blank line is an item,
    # trained from the start state with the newline as its start and end symbol; no window spans
    # two items; the checkpoint records the items for `generate --items N --novel`.
    items: bool = option(
        False,
        "Each line is one item (a name, a word, a title): every item is learned from the start "
        "state to its end, and generate --items N makes new ones.",
        FLAG,
    )
    # Fine-tuning: the start's weights instead of a fresh model (charlstm/training/finetune.py); the
    # architecture is the start's, the vocabulary grows by the text's new characters. Kept on
    # resume (a resumed run continues its own weights: the start is read once, at the start).
    init_from: str | None = option(
        None,
        "Start from these weights: base (the bundled model), a checkpoint file or a run directory; "
        "the architecture is the start's and the vocabulary grows by the text's new characters; "
        "--dropout defaults to the start's, --learning-rate to one chosen by how well the start "
        "already predicts the text (3e-4 for text like its own, higher for text further from it).",
        empty="--init-from is empty: give base, a checkpoint file or a run directory",
        metavar="CHECKPOINT",
        show_default="a fresh model",
    )
    sample_every: int = run_control(1, "Print a sample to stderr every N epochs (0 = never).", ints(0, 1_000_000))
    # also write `last` every N steps within an epoch (0 = epoch ends only)
    save_every: int = run_control(
        0, "Also checkpoint every N steps within an epoch (0 = at epoch ends only).", ints(0, 10**9)
    )
    # XLA for the train step: slower for LSTMs on CPU (22K vs 27K chars/s)
    jit_compile: bool = option(False, "XLA-compile the training step (slower for LSTMs on CPU).", SWITCH, flag="--jit")
    # float16 on GPU, bfloat16 on CPUs that have it; softmax and loss in float32. A run control:
    # the weights and Adam's slots stay float32 either way, so a run resumed on a machine
    # without bfloat16 continues in float32 (--no-mixed-precision), and one resumed on a
    # machine with it may switch it on (issue 29: bfloat16 trained 15% more chars/s at
    # equal loss on a Zen 4 with AVX512_BF16, benchmarks/RESULTS.md run 10).
    mixed_precision: bool = run_control(
        False,
        "float16 on a GPU, bfloat16 on a CPU that has it (an error otherwise); softmax, loss "
        "and the weights stay float32, so a resumed run may switch it.",
        SWITCH,
    )

    def validate(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class DeviceConfig:
    """Where a run trains: chosen per invocation, never stored in a checkpoint."""

    device: str = option(
        "auto", "gpu: require cuDNN for every recurrent layer (an error, not a silent slow path).", choice(DEVICES)
    )
    strategy: str = option(
        "auto",
        "tf.distribute: auto is multi-worker when TF_CONFIG is set, mirrored with several GPUs, else one device.",
        choice(STRATEGIES),
    )
    # seconds before a missing worker is an error
    collective_timeout: float = option(
        300.0,
        "Multi-worker: give up when a worker is missing this long.",
        floats(0, None, low_open=True),
        metavar="SECONDS",
    )


def field_names(cls) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


MODEL_OPTIONS = tuple(n for n in field_names(ModelConfig) if n != "vocab_size")  # fixed for a run's life
RUN_CONTROLS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("run_control"))
HYPER = tuple(n for n in field_names(TrainConfig) if n not in RUN_CONTROLS)  # kept on resume


def from_dict(cls, data: dict):
    """Build a config from stored JSON, ignoring keys a newer version may add.

    Keys an older checkpoint lacks take the value that older charlstm used, not
    today's default: checkpoints written before `carry_state` and `schedule`
    existed trained on shuffled windows with plateau halving, those written before
    `val_run_chars` validated on the whole held-out tail every epoch, and those written
    before `state_reset` never reset a row's carried state.
    """
    names = set(field_names(cls))
    values = {k: v for k, v in data.items() if k in names}
    if cls is TrainConfig:
        values.setdefault("carry_state", False)
        values.setdefault("schedule", "plateau")
        values.setdefault("val_run_chars", None)  # validated on the whole tail every epoch
        values.setdefault("state_reset", 0.0)  # carried every row's state through the epoch
    return cls(**values)
