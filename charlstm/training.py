"""The training run, top to bottom.

`TrainingRun.start` (a new run) or `TrainingRun.resume` (from a run directory's
`last` checkpoint) sets up the run; `run()` is the loop:

    for each epoch:                       # the data order is a function of (seed, epoch)
        state = zeros                     # carried state resets at every epoch start
        for each global batch:
            lr = schedule.get_lr(...)     # a pure function of step and elapsed time
            loss, state = engine.train_step(batch, state)
            stop between steps at the deadline or on SIGINT/SIGTERM (all workers together)
        validate; record history; checkpoint (`last`, and `best` when it improved)
        sample; early stop on patience

One loop for every tf.distribute strategy (engine.py). Only the chief writes
checkpoints and speaks; other workers compute their share and write nothing.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm import config as config_lib
from charlstm import dataset, resume, schedule
from charlstm.config import ModelConfig, TrainConfig
from charlstm.corpus import Vocabulary, describe_chars, prime_excerpt
from charlstm.errors import CorpusError, DeviceError, TrainingError, UsageError
from charlstm.monitor import LN2, Monitor
from charlstm.runstate import RunState


@dataclass
class TrainResult:
    epochs: float  # epochs completed (a partial last epoch counts as its fraction)
    val_bits_per_char: float | None  # best validation loss seen, bits per char
    train_chars_per_s: float  # target chars per second of training-step time
    checkpoint: Path  # the best checkpoint
    stopped: str  # why training ended: epochs, patience, max-time, interrupted
    history: list = field(default_factory=list)
    signal: int | None = None  # the signal that interrupted training, if any


@dataclass
class Corpus:
    """The training text as the run holds it: ids, not the string.

    The caller drops the text once this exists, so a 100 MB corpus costs 100 MB of
    1-byte ids during training rather than the string, its code points and the ids.
    """

    ids: np.ndarray  # (chars,) the text as vocabulary ids, uint8 for most corpora (may be a memmap)
    vocab: Vocabulary  # sorted distinct characters; an id indexes into it
    excerpt: str  # a line start of the text: the default prime stored in checkpoints
    release: Callable[[], None] | None = None  # drop a memmap's pages from RSS (they stay in the page cache)


def prepare(text: str, seed: int, vocabulary: str | None = None) -> Corpus:
    """Encode `text` (already read and case-folded) for training.

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


@dataclass
class RunOptions:
    """How to run, as opposed to what to learn: nothing here is stored in checkpoints."""

    device: str = "auto"  # auto | cpu | gpu (gpu: cuDNN required, an error otherwise)
    strategy: str = "auto"  # auto | one | mirrored | multi-worker
    log: Callable[[str], None] = print  # one line at a time, to stderr in the CLI
    progress: bool = True  # tqdm bar on stderr
    tensorboard: Path | None = None  # write per-epoch scalars here with Keras's TensorBoard callback
    corpus_info: dict | None = None  # names and size of the corpus, stored in checkpoints
    collective_timeout: float = 300.0  # multi-worker: seconds before a missing worker is an error


class _Stop:
    """Why the loop should stop between steps (deadline or a caught signal)."""

    def __init__(self):
        self.reason, self.signal = None, None

    def handle(self, signum, frame):
        if self.reason == "interrupted":  # a second Ctrl-C: the user means it
            raise KeyboardInterrupt
        self.reason, self.signal = "interrupted", signum


class TrainingRun:
    def __init__(
        self,
        corpus: Corpus,
        model_config: ModelConfig,
        config: TrainConfig,
        run_dir: Path,
        state: RunState,
        excerpt: str,
        options: RunOptions,
        resume_from: Path | None = None,
    ):
        self.corpus, self.model_config, self.config = corpus, model_config, config
        self.run_dir, self.state, self.excerpt = Path(run_dir), state, excerpt
        self.options, self.resume_from = options, resume_from
        self.stop = _Stop()

    @classmethod
    def start(
        cls,
        corpus: Corpus,
        model_config: ModelConfig,
        config: TrainConfig,
        run_dir: Path,
        options: RunOptions | None = None,
    ) -> TrainingRun:
        """A new run in `run_dir` (the caller has checked it may be written)."""
        model_config.vocab_size = len(corpus.vocab)
        state = RunState(budget=config.max_time)
        return cls(corpus, model_config, config, run_dir, state, corpus.excerpt, options or RunOptions())

    @classmethod
    def resume(
        cls, run_dir: Path, corpus: Corpus, options_given: dict | None = None, options: RunOptions | None = None
    ) -> TrainingRun:
        """Continue the run in `run_dir` from its `last` checkpoint; `options_given` are
        the user's explicit options, checked by the rules in `charlstm.resume`."""
        stored = resume.stored_run(run_dir)
        if stored.vocabulary != corpus.vocab.chars:
            raise UsageError(
                "--resume: the corpus was not encoded with the checkpoint's vocabulary; "
                "prepare it with prepare(text, seed, vocabulary=...)"
            )
        config = resume.resumed_config(stored, options_given or {})
        state = resume.resumed_state(stored, config)
        return cls(
            corpus,
            stored.model,
            config,
            run_dir,
            state,
            stored.prime_excerpt,
            options or RunOptions(),
            resume_from=stored.path,
        )

    # --- set-up -------------------------------------------------------------------------------

    def _setup(self) -> None:
        from charlstm import model as model_lib
        from charlstm import tf_runtime
        from charlstm.engine import Engine

        cfg, opts = self.config, self.options
        cfg.validate()
        train_ids, val_ids = dataset.split(self.corpus.ids, cfg.val_fraction, cfg.seq_length)
        auto_carry = cfg.carry_state is None
        if auto_carry:  # a new run; a stored config always holds the choice made at its start
            cfg.carry_state = config_lib.auto_carry_state(len(train_ids))
        if len(self.corpus.vocab) < 2:
            raise CorpusError(
                f"the text uses only one distinct character ({self.corpus.vocab.chars!r}); there is nothing to predict"
            )
        self.model_config.validate()
        val_ids = val_ids[: cfg.val_max_chars]  # a 10 MB tail would cost minutes per epoch
        keras = tf_runtime.keras(opts.device)
        self.strategy = tf_runtime.strategy(opts.strategy, opts.device, opts.collective_timeout)
        self.tf = tf_runtime.tensorflow(opts.device)
        self.multi_worker = isinstance(self.strategy, self.tf.distribute.MultiWorkerMirroredStrategy)
        self.chief = tf_runtime.is_chief(self.strategy)
        if self.chief:
            ckpt_io.check_writable(self.run_dir)
            ckpt_io.remove_stale_temps(self.run_dir)  # temporaries a killed run left (a run owns its directory)
        # Any batch size on any replica count: the engine pads a batch to a multiple of the replicas.
        self.batches = dataset.Batches(train_ids, cfg.seq_length, self._rows(len(train_ids)), cfg.seed, cfg.carry_state)
        self.val_batches = dataset.validation_batches(val_ids, cfg.seq_length, cfg.batch_size, cfg.carry_state)
        self.val_window_batches = (
            dataset.validation_batches(val_ids, cfg.seq_length, cfg.batch_size, False) if cfg.carry_state else None
        )
        policy = tf_runtime.set_precision(cfg.mixed_precision, opts.device)
        with self.strategy.scope():
            self.model = self._load_or_build(keras, model_lib, policy)
        if opts.device == "gpu":
            model_lib.require_cudnn(self.model, self.model_config.cell)
        self.engine = Engine(
            self.model,
            self.strategy,
            dropout=self.model_config.dropout,
            seed=cfg.seed,
            clip_norm=cfg.clip_norm,
            loss_scale=policy == "mixed_float16",
        )
        self.monitor = Monitor(
            log=opts.log,
            progress=opts.progress,
            enabled=self.chief,
            epochs=cfg.epochs,
            steps=self.batches.steps,
            chars_per_step=self.batches.rows * cfg.seq_length,
            tensorboard=opts.tensorboard,
            model=self.model,
        )
        if self.resume_from is None:
            m = self.model_config
            self.monitor.log(
                f"model: {m.layers}×{m.units} {m.cell}, {model_lib.count_params(self.model):,} "
                f"parameters, vocabulary {len(self.corpus.vocab)}; {len(train_ids):,} training / "
                f"{len(val_ids):,} validation chars"
            )
            layout = "state carried across windows" if cfg.carry_state else "shuffled windows from a zero state"
            if auto_carry:
                layout += (
                    f" (the default for a text {'≥' if cfg.carry_state else '<'} {config_lib.CARRY_MIN_CHARS:,} chars)"
                )
            self.monitor.log(f"training on {layout}")

    def _rows(self, n_train: int) -> int:
        """Global rows per step: the batch size, or fewer when the text is too short (the same
        for every replica count, so a run's batches and checkpoints do not depend on it)."""
        cfg = self.config
        if cfg.carry_state:
            rows = dataset.stream_rows(n_train, cfg.seq_length, cfg.batch_size)
            what = f"{rows} streams of at least one window"
        else:
            n_windows = math.ceil((n_train - 1) / cfg.seq_length)
            rows = min(cfg.batch_size, n_windows)
            what = f"{n_windows} training windows"
        if rows < cfg.batch_size:
            self.options.log(f"note: only {what}; batch size shrunk from {cfg.batch_size} to {rows}")
        return rows

    def _load_or_build(self, keras, model_lib, policy: str):
        cfg = self.config
        if self.resume_from is not None:
            # A compiled load restores the optimizer's slots and step count.
            model = ckpt_io.load_keras_model(self.resume_from, compile=True)
            self.carry = ckpt_io.load_resume_arrays(self.resume_from)
            return model
        self.carry = None
        model = model_lib.build(self.model_config, cfg.seed)
        optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate)
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer)  # saved with the model, so resume restores Adam's moments
        optimizer.build(model.trainable_variables)
        return model

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> TrainResult:
        self._setup()
        old_handlers = {s: signal.signal(s, self.stop.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        self.t_start, self.elapsed_before = time.monotonic(), self.state.elapsed
        try:
            while self.state.epoch < self.config.epochs and self.stop.reason is None:
                self._epoch()
        except ValueError as e:
            if "use_cudnn=True" not in str(e):
                raise
            raise DeviceError(
                f"--device gpu: cuDNN cannot run this model's recurrent layers ({e}); "
                f"use --device auto to allow the slower generic kernel"
            ) from None
        except self.tf.errors.OpError as e:
            # One line, not a stack of C++: a lost worker (resume) or a failed step (a bug).
            from charlstm.engine import step_failure

            raise step_failure(e, multi_worker=self.multi_worker, run_dir=self.run_dir) from e
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)
            self.monitor.close()
        return self._result()

    def _epoch(self) -> None:
        s, cfg = self.state, self.config
        epoch, first = s.epoch, s.step
        carried = self._initial_state(first)
        self.monitor.epoch_begin(epoch, first)
        t0, nats, done = time.monotonic(), None, first
        for batch in self.batches.epoch(epoch, skip=first):
            self.model.optimizer.learning_rate.assign(self._lr())
            initial = carried if cfg.carry_state else self.engine.zero_state(len(batch[0]))
            result, carried = self.engine.train_step(batch, initial, step=s.global_step, stop=self._local_stop())
            done, s.step, s.global_step = done + 1, done + 1, s.global_step + 1
            s.elapsed = self.elapsed_before + time.monotonic() - self.t_start
            nats = result.loss_sum / max(float(batch[2].sum()), 1.0)
            self.monitor.step_end(nats, time.monotonic() - t0)
            if result.stop:
                self.stop.reason = self.stop.reason or "another-worker"  # a peer hit its deadline or a signal
                break
            if self.corpus.release is not None and done % 256 == 0:
                # A memmapped corpus: every page an epoch reads would otherwise count in RSS.
                self.corpus.release()
            if cfg.save_every and (done - first) % cfg.save_every == 0 and done < self.batches.steps:
                self._save(improved=False, carried=carried)
        self._end_epoch(epoch, first, done, time.monotonic() - t0, nats, carried)

    def _initial_state(self, first: int):
        """Zeros at an epoch start; the saved carried state when resuming mid-epoch."""
        if first and self.config.carry_state and self.carry is not None:
            state, self.carry = self.engine.distribute_state(self.carry), None
            return state
        if first and self.config.carry_state:
            raise TrainingError(
                f"{self.resume_from}: a mid-epoch checkpoint without its carried state; "
                f"resume from an epoch-end checkpoint or start over"
            )
        self.carry = None
        return self.engine.zero_state(self.batches.rows)

    def _lr(self) -> float:
        s, cfg = self.state, self.config
        where = schedule.progress(
            s.global_step, s.elapsed, total_steps=cfg.epochs * self.batches.steps, budget_seconds=s.budget
        )
        return schedule.get_lr(
            s.global_step,
            where,
            peak=cfg.learning_rate,
            schedule=cfg.schedule,
            warmup_steps=cfg.warmup_steps,
            plateau_scale=s.plateau_scale,
        )

    def _local_stop(self) -> bool:
        """This worker's wish to stop after the coming step (the engine agrees it with the others)."""
        s = self.state
        if self.stop.reason is None and s.budget is not None:
            if self.elapsed_before + time.monotonic() - self.t_start >= s.budget:
                self.stop.reason = "patience" if s.annealed else "max-time"  # annealed: a budget patience set
        return self.stop.reason is not None

    def _end_epoch(self, epoch: int, first: int, done: int, seconds: float, nats, carried) -> None:
        s, cfg = self.state, self.config
        complete = done >= self.batches.steps
        val = self.engine.evaluate(self.val_batches, carry=cfg.carry_state) / LN2
        windows = (
            self.engine.evaluate(self.val_window_batches, carry=False) / LN2
            if self.val_window_batches is not None
            else None
        )
        chars = self.batches.targets(epoch, first, done)
        record = {
            "epoch": epoch + 1,
            "train_bits_per_char": nats / LN2 if nats is not None else None,
            "val_bits_per_char": val,  # state carried across the held-out text when carry_state
            "val_window_bits_per_char": windows if windows is not None else val,  # each window from zeros
            "carry_state": cfg.carry_state,
            "learning_rate": float(self.model.optimizer.learning_rate.numpy()),
            "seconds": seconds,  # training steps only, not validation
            "chars": chars,  # real targets, padding excluded
            "chars_per_s": chars / max(seconds, 1e-9),
            "steps": done,
            "complete": complete,
        }
        verdict = schedule.judge_epoch(
            val,
            s.best,
            s.since_best,
            complete=complete,
            past_warmup=s.global_step >= cfg.warmup_steps,
            patience=cfg.patience,
        )
        s.history.append(record)
        s.since_best = verdict.since_best
        if verdict.improved:
            s.best = val
        if verdict.decay:
            s.plateau_scale *= cfg.lr_decay
        s.epoch, s.step = (epoch + 1, 0) if complete else (epoch, done)
        annealing = verdict.stop and self._anneal(seconds)
        self._save(verdict.improved, carried=None if complete else carried)
        self.monitor.epoch_end(record, verdict.improved)
        if complete and cfg.sample_every and (epoch + 1) % cfg.sample_every == 0 and self.chief:
            self.monitor.log(self._sample(epoch))
        if annealing:
            self.monitor.log(
                f"validation loss has not improved for {cfg.patience} epochs: the learning rate "
                f"now decays to zero over the next 2 epochs"
            )
        elif self.stop.reason is None and verdict.stop:
            self.stop.reason = "patience"
            self.monitor.log(f"stopping: validation loss has not improved for {cfg.patience} epochs")

    def _anneal(self, epoch_seconds: float) -> bool:
        """Patience ran out under linear/cosine: compress the decay instead of stopping (once)."""
        s = self.state
        if self.config.schedule == "plateau" or s.annealed:
            return False
        budget = schedule.anneal_budget(s.elapsed, s.budget, epoch_seconds)
        if budget is None:
            return False
        s.budget, s.since_best, s.annealed = budget, 0, True
        return True

    # --- output -------------------------------------------------------------------------------

    def _save(self, improved: bool, carried) -> None:
        from charlstm import model as model_lib

        carry = (
            self.engine.gather_state(carried)  # a collective: every worker takes part
            if carried is not None and self.config.carry_state and self.state.step
            else None
        )
        if not self.chief:
            return
        path = self.run_dir / ckpt_io.LAST
        meta = ckpt_io.Checkpoint(
            path=path,
            vocabulary=self.corpus.vocab.chars,
            model=self.model_config,
            training=self.config,
            epoch=self.state.epoch,
            history=self.state.history,
            prime_excerpt=self.excerpt,
            extra={"resume": self.state.to_dict(), "corpus": self.options.corpus_info or {}},
        )
        ckpt_io.save(self.model, meta, path, model_lib.named_weights(self.model), carry=carry)
        if improved:
            ckpt_io.copy(path, self.run_dir / ckpt_io.BEST)

    def _sample(self, epoch: int) -> str:
        from charlstm import model as model_lib
        from charlstm.sampling import Network, SampleOptions, sample_steps

        net = Network(model_lib.named_weights(self.model), self.model_config)
        opts = SampleOptions(length=200, temperature=0.8, seed=self.config.seed + epoch)
        vocab = self.corpus.vocab
        body = "".join(step[0] for step in sample_steps(net, vocab.encode(self.excerpt), opts, vocab.chars))
        return f"--- sample ---\n{self.excerpt}{body}\n--------------"

    def _result(self) -> TrainResult:
        s = self.state
        best = self.run_dir / ckpt_io.BEST
        return TrainResult(
            epochs=s.epoch + (s.step / self.batches.steps if s.step else 0),
            val_bits_per_char=s.best,
            train_chars_per_s=s.chars_trained / max(s.seconds_trained, 1e-9),
            checkpoint=best if best.exists() else self.run_dir / ckpt_io.LAST,
            stopped=self.stop.reason or "epochs",
            history=s.history,
            signal=self.stop.signal,
        )


def train(
    corpus: Corpus,
    model_config: ModelConfig | None,
    config: TrainConfig,
    checkpoint_dir: Path,
    *,
    resume: bool = False,
    options: RunOptions | None = None,
    options_given: dict | None = None,
    **option_fields,
) -> TrainResult:
    """Start or resume a run and train it: `TrainingRun.start(...).run()` or `.resume(...)`.

    Keyword arguments named like RunOptions fields (log=, progress=, device=, ...) build
    the options when `options` is not given.
    """
    options = options or RunOptions(**option_fields)
    if resume:
        return TrainingRun.resume(checkpoint_dir, corpus, options_given, options).run()
    return TrainingRun.start(corpus, model_config, config, checkpoint_dir, options).run()
