"""The training run: data, model, fit loop, validation, checkpoints, resume.

One `model.fit` call per epoch over a tf.data pipeline whose batch order is a pure
function of (seed, epoch), so a run resumed from a checkpoint sees exactly the data
it would have seen. A callback drives the tqdm bar and stops cleanly between steps
at the --max-time deadline or on SIGINT/SIGTERM; either way a checkpoint is written.
"""

from __future__ import annotations

import math
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm import dataset
from charlstm.config import ModelConfig, TrainConfig
from charlstm.corpus import Vocabulary, describe_chars
from charlstm.errors import CorpusError, UsageError

LN2 = math.log(2.0)


@dataclass
class TrainResult:
    epochs: int  # epochs completed (a partial last epoch counts as its fraction)
    val_bits_per_char: float | None  # best validation loss seen, bits per char
    train_chars_per_s: float  # target chars per second of training-step time
    checkpoint: Path  # the best checkpoint
    stopped: str  # why training ended: epochs, patience, max-time, interrupted
    history: list = field(default_factory=list)
    signal: int | None = None  # the signal that interrupted training, if any


class _Stop:
    """Why the fit loop should stop between steps (deadline or a caught signal)."""

    def __init__(self, deadline: float | None):
        self.deadline, self.reason, self.signal = deadline, None, None

    def check(self) -> bool:
        if self.reason is None and self.deadline is not None and time.monotonic() >= self.deadline:
            self.reason = "max-time"
        return self.reason is not None

    def handle(self, signum, frame):
        if self.reason == "interrupted":  # a second Ctrl-C: the user means it
            raise KeyboardInterrupt
        self.reason, self.signal = "interrupted", signum


def prime_excerpt(text: str, seed: int, length: int = 40) -> str:
    """A line start of the training text, to prime generation when none is given."""
    rng = np.random.default_rng(seed)
    starts = [i + 1 for i in range(min(len(text), 200_000) - 1) if text[i] == "\n" and text[i + 1] != "\n"]
    start = int(rng.choice(starts)) if starts else 0
    return text[start:start + length]


@dataclass
class Corpus:
    """The training text as the run holds it: ids, not the string.

    The caller drops the text once this exists, so a 100 MB corpus costs 100 MB of
    1-byte ids during training rather than the string, its code points and the ids.
    """

    ids: np.ndarray  # (chars,) the text as vocabulary ids, uint8 for most corpora
    vocab: Vocabulary  # sorted distinct characters; an id indexes into it
    excerpt: str  # a line start of the text: the default prime stored in checkpoints


def prepare(text: str, seed: int, vocabulary: str | None = None) -> Corpus:
    """Encode `text` (already read and case-folded) for `train`.

    `vocabulary` is a resumed checkpoint's: the text must not bring new characters.
    """
    found = Vocabulary.from_text(text)
    if vocabulary is None:
        vocab = found
    else:
        vocab = Vocabulary(vocabulary)
        missing = "".join(sorted(set(found.chars) - set(vocabulary)))
        if missing:
            raise CorpusError(
                f"the corpus has {len(missing)} character(s) the checkpoint's vocabulary lacks: "
                f"{describe_chars(missing)}; resume only on text made of the same characters"
            )
    return Corpus(vocab.encode(text), vocab, prime_excerpt(text, seed))


def train(corpus: Corpus, model_config: ModelConfig | None, config: TrainConfig, checkpoint_dir: Path, *,
          resume: bool = False, device: str = "auto", log: Callable[[str], None] = print,
          progress: bool = True, corpus_info: dict | None = None) -> TrainResult:
    """Train on `corpus` (from `prepare`) and write checkpoints.

    With `resume`, the model config, weights, optimizer, schedule, counters and RNG
    state come from `checkpoint_dir/last.keras`; `model_config` is ignored and
    `config` should be the stored one (run controls such as --epochs and
    --max-time may differ). `corpus_info` (names, chars) is stored in checkpoints.
    """
    state: dict = {"step": 0, "best": None, "since_best": 0, "history": [], "epoch": 0}
    last_path, best_path = checkpoint_dir / ckpt_io.LAST, checkpoint_dir / ckpt_io.BEST
    vocab, excerpt = corpus.vocab, corpus.excerpt
    if resume:
        if not last_path.is_file():
            raise UsageError(f"--resume: {last_path} does not exist; train without --resume first")
        meta = ckpt_io.load(last_path)
        if meta.vocabulary != vocab.chars:
            raise UsageError("--resume: the corpus was not encoded with the checkpoint's vocabulary; "
                             "prepare it with prepare(text, seed, vocabulary=...)")
        model_config = meta.model
        state.update(meta.extra.get("resume", {}))
        state["history"], state["epoch"] = meta.history, meta.epoch
        excerpt = meta.prime_excerpt
    else:
        model_config.vocab_size = len(vocab)
    config.validate()

    train_ids, val_ids = dataset.split(corpus.ids, config.val_fraction, config.seq_length)
    if len(vocab) < 2:
        raise CorpusError(f"the text uses only one distinct character ({vocab.chars!r}); "
                          f"there is nothing to predict")
    model_config.validate()
    val_ids = val_ids[: config.val_max_chars]  # a 10 MB tail would cost minutes per epoch
    n_windows = math.ceil((len(train_ids) - 1) / config.seq_length)
    batch_size = config.batch_size
    if n_windows < batch_size:
        batch_size = max(1, n_windows)
        log(f"note: only {n_windows} training windows; batch size shrunk from "
            f"{config.batch_size} to {batch_size}")
    ckpt_io.check_writable(checkpoint_dir)

    from charlstm import model as model_lib
    from charlstm import tf_runtime

    keras = tf_runtime.keras(device)
    strategy = tf_runtime.strategy(device)
    with strategy.scope():
        if resume:
            # Compiled load restores the optimizer's slots, step count and learning rate.
            model = ckpt_io.load_keras_model(last_path, compile=True)
            _restore_dropout_states(model, state.get("dropout_rng", {}))
        else:
            model = model_lib.build(model_config, config.seed)
            model_lib.compile(model, config.learning_rate, config.clip_norm, config.jit_compile)
    n_params = model_lib.count_params(model)
    if not resume:
        log(f"model: {model_config.layers}×{model_config.units} {model_config.cell}, "
            f"{n_params:,} parameters, vocabulary {len(vocab)}; "
            f"{len(train_ids):,} training / {len(val_ids):,} validation chars")

    L = config.seq_length
    steps = dataset.steps_per_epoch(len(train_ids), L, batch_size)
    val_ds = dataset.tf_eval_batches(val_ids, L, batch_size)
    stop = _Stop(time.monotonic() + config.max_time if config.max_time else None)

    def save(improved: bool) -> None:
        _save(model, model_lib, vocab, model_config, config, state, excerpt, corpus_info,
              last_path, best_path, improved)

    def sample(epoch: int) -> str:
        return _sample_text(model, model_lib, model_config, vocab, excerpt, config.seed + epoch)

    def targets(epoch: int, first: int, end: int) -> int:
        return dataset.targets_in(len(train_ids), L, batch_size, dataset.epoch_rng(config.seed, epoch),
                                  first, end)

    run = _run_callback(keras)(state, config, steps, batch_size, stop, save, sample, targets, log,
                               progress)
    old_handlers = {s: signal.signal(s, stop.handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        first, skip = state["epoch"], state["step"]
        if skip and first < config.epochs:
            # Resuming mid-epoch: finish that epoch alone (its first `skip` steps are done).
            run.skip = skip
            if skip < steps:
                model.fit(dataset.tf_batches(train_ids, L, batch_size, config.seed, first, first + 1, skip),
                          epochs=first + 1, initial_epoch=first, steps_per_epoch=steps - skip,
                          validation_data=val_ds, callbacks=[run], verbose=0, shuffle=False)
            else:  # killed right after the epoch's last step was saved: only its end is missing
                run.set_model(model)
                run.on_epoch_begin(first)
                val = model.evaluate(val_ds, verbose=0, return_dict=True)
                run.on_epoch_end(first, {"val_xent": val["xent"]})
            run.skip = 0
            first += 1
        if run.reason is None and first < config.epochs:
            # One fit call for the whole run: a fit call per epoch cost seconds each here.
            model.fit(dataset.tf_batches(train_ids, L, batch_size, config.seed, first, config.epochs),
                      epochs=config.epochs, initial_epoch=first, steps_per_epoch=steps,
                      validation_data=val_ds, callbacks=[run], verbose=0, shuffle=False)
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
        run.close_bar()
    history = state["history"]
    seconds = sum(h.get("seconds", 0.0) for h in history)
    return TrainResult(
        epochs=state["epoch"] + (state["step"] / steps if state["step"] else 0),
        val_bits_per_char=state["best"],
        train_chars_per_s=sum(h.get("chars", 0) for h in history) / max(seconds, 1e-9),
        checkpoint=best_path if best_path.exists() else last_path,
        stopped=run.reason or "epochs",
        history=history,
        signal=stop.signal,
    )


def _bar(epoch: int, epochs: int, steps: int, initial: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=steps, initial=initial, desc=f"epoch {epoch + 1}/{epochs}", unit="step",
                file=sys.stderr, disable=not progress, leave=False, dynamic_ncols=True)


def _run_callback(keras):
    class Run(keras.callbacks.Callback):
        """Everything around the steps: progress bar, stopping, epoch bookkeeping.

        Stops between steps at the --max-time deadline or on SIGINT/SIGTERM (Keras
        then still validates and ends the epoch, so a checkpoint is written), and at
        an epoch's end when --patience runs out. After a complete epoch without
        improvement the learning rate is multiplied by --lr-decay.
        """

        def __init__(self, state, config, steps, batch_size, stop, save, sample, targets, log,
                     progress):
            super().__init__()
            self.state, self.config, self.steps_per_epoch = state, config, steps
            self.chars_per_step = batch_size * config.seq_length  # for the bar; exact count at the end
            self.stop, self.save, self.sample, self.log = stop, save, sample, log
            self.targets = targets
            self.progress, self.bar, self.reason, self.skip = progress, None, None, 0

        def close_bar(self):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch, self.steps, self.last_xent = epoch, 0, None
            self.t0 = self.t_last = time.monotonic()
            self.bar = _bar(epoch, self.config.epochs, self.steps_per_epoch, self.skip, self.progress)

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            self.t_last = time.monotonic()
            if logs and "xent" in logs:
                self.last_xent = float(logs["xent"])
            self.bar.update(1)
            if self.last_xent is not None:
                rate = self.steps * self.chars_per_step / max(self.t_last - self.t0, 1e-9)
                self.bar.set_postfix_str(f"loss {self.last_xent:.3f}, {self.last_xent / LN2:.3f} "
                                         f"bits/char, {rate:,.0f} chars/s", refresh=False)
            if self.stop.check():
                self.model.stop_training = True
            elif self.config.save_every and self.steps % self.config.save_every == 0:
                # a crash from here on loses fewer than save_every steps
                self.state["epoch"], self.state["step"] = self.epoch, self.skip + self.steps
                self.save(False)

        def on_epoch_end(self, epoch, logs=None):
            self.close_bar()
            state, config = self.state, self.config
            done = self.skip + self.steps
            complete = done >= self.steps_per_epoch
            seconds = self.t_last - self.t0  # training steps only, not validation
            record = {
                "epoch": epoch + 1,
                "train_bits_per_char": self.last_xent / LN2 if self.last_xent is not None else None,
                "val_bits_per_char": float(logs["val_xent"]) / LN2,
                "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
                "seconds": seconds,
                "chars": self.targets(epoch, self.skip, done),  # real targets, padding excluded
                "steps": done,
                "complete": complete,
            }
            improved = state["best"] is None or record["val_bits_per_char"] < state["best"]
            state["history"].append(record)
            if improved:
                state["best"], state["since_best"] = record["val_bits_per_char"], 0
            elif complete and int(self.model.optimizer.iterations.numpy()) >= config.warmup_steps:
                # Short epochs (Macbeth: 8 steps at batch 256, 29 at 64) are noisy early
                # on: one bad epoch must not halve the rate (seen: epoch 2) or count
                # towards stopping.
                state["since_best"] += 1
                self.model.optimizer.learning_rate.assign(record["learning_rate"] * config.lr_decay)
            state["epoch"], state["step"] = (epoch + 1, 0) if complete else (epoch, done)
            self.save(improved)
            self.log(_epoch_line(record, improved, record["chars"] / max(seconds, 1e-9)))
            if complete and config.sample_every and (epoch + 1) % config.sample_every == 0:
                self.log(self.sample(epoch))
            if self.stop.check():
                self.reason = self.stop.reason
            elif config.patience and state["since_best"] >= config.patience:
                self.reason = "patience"
                self.log(f"stopping: validation loss has not improved for {config.patience} epochs")
            if self.reason:
                self.model.stop_training = True

    return Run


def _epoch_line(r: dict, improved: bool, chars_per_s: float) -> str:
    part = "" if r["complete"] else f" (partial: {r['steps']} steps)"
    train = f"train {r['train_bits_per_char']:.3f}" if r["train_bits_per_char"] is not None else "train -"
    return (f"epoch {r['epoch']}{part}: {train} / val {r['val_bits_per_char']:.3f} bits/char, "
            f"{chars_per_s:,.0f} chars/s, lr {r['learning_rate']:.2g}"
            f"{' (best)' if improved else ''}")


def _sample_text(model, model_lib, model_config, vocab, excerpt, seed) -> str:
    from charlstm.sampling import Network, SampleOptions, sample_steps

    net = Network(model_lib.named_weights(model), model_config)
    opts = SampleOptions(length=200, temperature=0.8, seed=seed)
    body = "".join(step[0] for step in sample_steps(net, vocab.encode(excerpt), opts, vocab.chars))
    return f"--- sample ---\n{excerpt}{body}\n--------------"


def _dropout_states(model) -> dict:
    """Dropout RNG states by layer: Keras does not save them, resume needs them."""
    return {l.name: np.asarray(l.seed_generator.state.numpy()).tolist()
            for l in model.layers if hasattr(l, "seed_generator")}


def _restore_dropout_states(model, states: dict) -> None:
    for layer in model.layers:
        if hasattr(layer, "seed_generator") and layer.name in states:
            var = layer.seed_generator.state
            var.assign(np.asarray(states[layer.name], dtype=var.dtype))


def _save(model, model_lib, vocab, model_config, config, state, excerpt, corpus,
          last_path, best_path, improved) -> None:
    resume = {k: state[k] for k in ("step", "best", "since_best")}
    resume["dropout_rng"] = _dropout_states(model)
    meta = ckpt_io.Checkpoint(
        path=last_path, vocabulary=vocab.chars, model=model_config, training=config,
        epoch=state["epoch"], history=state["history"], prime_excerpt=excerpt,
        extra={"resume": resume, "corpus": corpus or {}},
    )
    ckpt_io.save(model, meta, last_path, model_lib.named_weights(model))
    if improved:
        ckpt_io.copy(last_path, best_path)
