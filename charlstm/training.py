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
from charlstm.errors import CorpusError, TrainingError, UsageError

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


def train(text: str, model_config: ModelConfig | None, config: TrainConfig, checkpoint_dir: Path, *,
          resume: bool = False, device: str = "auto", log: Callable[[str], None] = print,
          progress: bool = True, corpus: dict | None = None) -> TrainResult:
    """Train on `text` (already read and case-folded) and write checkpoints.

    With `resume`, the model config, vocabulary, weights, optimizer, schedule,
    counters and RNG state come from `checkpoint_dir/last.keras`; `model_config` is
    ignored and `config` should be the stored one (run controls such as --epochs
    and --max-time may differ).
    """
    state: dict = {"step": 0, "best": None, "since_best": 0, "history": [], "epoch": 0}
    last_path, best_path = checkpoint_dir / ckpt_io.LAST, checkpoint_dir / ckpt_io.BEST
    if resume:
        if not last_path.is_file():
            raise UsageError(f"--resume: {last_path} does not exist; train without --resume first")
        meta = ckpt_io.load(last_path)
        vocab, model_config = Vocabulary(meta.vocabulary), meta.model
        missing = vocab.unknown(text)
        if missing:
            raise CorpusError(
                f"the corpus has {len(missing)} character(s) the checkpoint's vocabulary lacks: "
                f"{describe_chars(missing)}; resume only on text made of the same characters"
            )
        state.update(meta.extra.get("resume", {}))
        state["history"], state["epoch"] = meta.history, meta.epoch
        excerpt = meta.prime_excerpt
    else:
        vocab = Vocabulary.from_text(text)
        model_config.vocab_size = len(vocab)
        model_config.validate()
        excerpt = prime_excerpt(text, config.seed)
    config.validate()

    ids = vocab.encode(text)  # (chars,) uint8 for most corpora
    train_ids, val_ids = dataset.split(ids, config.val_fraction, config.seq_length)
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

    stop = _Stop(time.monotonic() + config.max_time if config.max_time else None)
    Progress = _progress_callback(keras)
    val_steps = dataset.num_batches(len(dataset.epoch_windows(len(val_ids), config.seq_length, None)[0]), batch_size)
    val_ds = dataset.tf_dataset(lambda: dataset.batches(val_ids, config.seq_length, batch_size),
                                config.seq_length, val_steps)
    train_seconds = sum(h.get("seconds", 0.0) for h in state["history"])
    train_chars = sum(h.get("chars", 0) for h in state["history"])
    reason = "epochs"
    old_handlers = {s: signal.signal(s, stop.handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for epoch in range(state["epoch"], config.epochs):
            starts, _ = dataset.epoch_windows(len(train_ids), config.seq_length,
                                              dataset.epoch_rng(config.seed, epoch))
            steps = dataset.num_batches(len(starts), batch_size)
            rng = dataset.epoch_rng(config.seed, epoch)
            skip = state["step"]
            train_ds = dataset.tf_dataset(
                lambda rng=rng, skip=skip: dataset.batches(train_ids, config.seq_length, batch_size, rng, skip),
                config.seq_length, steps - skip)
            bar = _bar(epoch, config.epochs, steps, skip, progress)

            def save_mid_epoch(done, epoch=epoch):
                state["epoch"], state["step"] = epoch, done
                _save(model, model_lib, vocab, model_config, config, state, excerpt, corpus,
                      last_path, best_path, improved=False)

            cb = Progress(bar, stop, batch_size * config.seq_length, skip,
                          config.save_every, save_mid_epoch)
            t0 = time.monotonic()
            if skip < steps:  # a crash right after the last step's save leaves nothing to fit
                model.fit(train_ds, epochs=1, verbose=0, shuffle=False, callbacks=[cb])
            seconds = time.monotonic() - t0
            bar.close()
            done = skip + cb.steps
            complete = done >= steps
            val_xent = model.evaluate(val_ds, verbose=0, return_dict=True)["xent"]
            record = {
                "epoch": epoch + 1,
                "train_bits_per_char": cb.last_xent / LN2 if cb.last_xent is not None else None,
                "val_bits_per_char": float(val_xent) / LN2,
                "learning_rate": float(model.optimizer.learning_rate.numpy()),
                "seconds": seconds,
                "chars": cb.steps * batch_size * config.seq_length,
                "steps": done,
                "complete": complete,
            }
            train_seconds += seconds
            train_chars += record["chars"]
            improved = state["best"] is None or record["val_bits_per_char"] < state["best"]
            state["history"].append(record)
            if improved:
                state["best"], state["since_best"] = record["val_bits_per_char"], 0
            elif complete:
                state["since_best"] += 1
                model.optimizer.learning_rate.assign(record["learning_rate"] * config.lr_decay)
            state["epoch"], state["step"] = (epoch + 1, 0) if complete else (epoch, done)
            _save(model, model_lib, vocab, model_config, config, state, excerpt, corpus,
                  last_path, best_path, improved)
            log(_epoch_line(record, improved, record["chars"] / max(seconds, 1e-9)))
            if config.sample_every and (epoch + 1) % config.sample_every == 0 and complete:
                log(_sample_text(model, model_lib, model_config, vocab, excerpt, config.seed + epoch))
            if stop.check():
                reason = stop.reason
                break
            if config.patience and state["since_best"] >= config.patience:
                reason = "patience"
                log(f"stopping: validation loss has not improved for {config.patience} epochs")
                break
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
    return TrainResult(
        epochs=state["epoch"] + (state["step"] / steps if state["step"] else 0),
        val_bits_per_char=state["best"],
        train_chars_per_s=train_chars / max(train_seconds, 1e-9),
        checkpoint=best_path if best_path.exists() else last_path,
        stopped=reason,
        history=state["history"],
        signal=stop.signal,
    )


def _bar(epoch: int, epochs: int, steps: int, initial: int, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=steps, initial=initial, desc=f"epoch {epoch + 1}/{epochs}", unit="step",
                file=sys.stderr, disable=not progress, leave=False, dynamic_ncols=True)


def _progress_callback(keras):
    class Progress(keras.callbacks.Callback):
        """Advance the bar, show loss and speed, and stop between steps when asked."""

        def __init__(self, bar, stop: _Stop, chars_per_step: int, skip: int = 0,
                     save_every: int = 0, save=None):
            super().__init__()
            self.bar, self.stop, self.chars_per_step = bar, stop, chars_per_step
            self.skip, self.save_every, self.save = skip, save_every, save
            self.steps, self.last_xent, self.t0 = 0, None, None

        def on_train_begin(self, logs=None):
            self.t0 = time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            self.last_xent = float(logs["xent"]) if logs and "xent" in logs else self.last_xent
            elapsed = time.monotonic() - self.t0
            self.bar.update(1)
            if self.last_xent is not None:
                self.bar.set_postfix_str(
                    f"loss {self.last_xent:.3f}, {self.last_xent / LN2:.3f} bits/char, "
                    f"{self.steps * self.chars_per_step / max(elapsed, 1e-9):,.0f} chars/s",
                    refresh=False)
            if self.stop.check():
                self.model.stop_training = True
            elif self.save_every and self.steps % self.save_every == 0:
                self.save(self.skip + self.steps)  # a crash now loses < save_every steps

    return Progress


def _epoch_line(r: dict, improved: bool, chars_per_s: float) -> str:
    part = "" if r["complete"] else f" (partial: {r['steps']} steps)"
    train = f"train {r['train_bits_per_char']:.3f}" if r["train_bits_per_char"] is not None else "train -"
    return (f"epoch {r['epoch']}{part}: {train} / val {r['val_bits_per_char']:.3f} bits/char, "
            f"{chars_per_s:,.0f} chars/s, lr {r['learning_rate']:.2g}"
            f"{' (best)' if improved else ''}")


def _sample_text(model, model_lib, model_config, vocab, excerpt, seed) -> str:
    from charlstm.sampling import Network, SampleOptions, generate

    net = Network(model_lib.named_weights(model), model_config)
    opts = SampleOptions(length=200, temperature=0.8, seed=seed)
    body = "".join(step[0] for step in generate(net, vocab.encode(excerpt), opts, vocab.chars))
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
    if not last_path.exists():
        raise TrainingError(f"checkpoint {last_path} vanished after writing")
