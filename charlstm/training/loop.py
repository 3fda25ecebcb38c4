"""The training loop, top to bottom.

A run is three steps, each in its own module:

    plan = plan_run(...)                # plan.py, or new_run / resumed_run: decided before TensorFlow
    run = TrainingRun(plan, options)    # loop.py
    run.run()                           # TrainingSetup(plan, options) (setup.py), then the loop:

    for each epoch:                       # the data order is a function of (seed, epoch)
        state = zeros                     # carried state resets at every epoch start
        for each global batch:
            lr = schedule.get_lr(...)     # a pure function of step and elapsed time
            loss, state = engine.train_step(batch, state)
            stop between steps at the deadline or on SIGINT/SIGTERM (all workers together)
        validate (on a fixed head of the held-out tail); record history;
        an epoch without improvement: back to the best weights so far, the rate decayed
        checkpoint (`last`, and `best` when it improved); sample; early stop on patience
    the best weights scored on the whole held-out tail (`final`, in both checkpoints)

What the run leaves: `best.keras` is the final model (the best validation so far, what
generate and the result name); `last.keras` is where the run is (weights, Adam's slots,
the run state: what --resume continues, bit for bit). A longer budget never ends worse
than a shorter one on the same text and seed for two reasons: the final model is the best
checkpoint, and whatever decays the rate (a non-improving epoch's --lr-decay, the patience
anneal) restarts from the best weights rather than from weights already past their best.

One loop for every tf.distribute strategy (step.py). Only the chief writes
checkpoints and speaks; other workers compute their share and write nothing.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from charlstm import checkpoint as ckpt_io
from charlstm.errors import DeviceError, TrainingError
from charlstm.training import schedule
from charlstm.training.monitor import LN2
from charlstm.training.plan import RunPlan
from charlstm.training.setup import RunOptions, TrainingSetup

__all__ = ["RunOptions", "TrainResult", "TrainingRun"]


@dataclass
class TrainResult:
    epochs: float  # epochs completed (a partial last epoch counts as its fraction)
    val_bits_per_char: float | None  # the best weights on the whole held-out tail (`final`), else the best seen
    train_chars_per_s: float  # target chars per second of training-step time
    checkpoint: Path  # the best checkpoint
    stopped: str  # why training ended: epochs, patience, max-time, interrupted
    history: list = field(default_factory=list)
    signal: int | None = None  # the signal that interrupted training, if any
    val_chars: int | None = None  # held-out chars behind val_bits_per_char

    def summary(self) -> dict:
        """What `charlstm train --json` prints."""
        keys = ("epochs", "val_bits_per_char", "val_chars", "train_chars_per_s", "stopped")
        return {**{k: getattr(self, k) for k in keys}, "checkpoint": str(self.checkpoint)}


class _Stop:
    """Why the loop should stop between steps (deadline or a caught signal)."""

    def __init__(self):
        self.reason, self.signal = None, None

    def handle(self, signum, frame):
        if self.reason == "interrupted":  # a second Ctrl-C: the user means it
            raise KeyboardInterrupt
        self.reason, self.signal = "interrupted", signum


class TrainingRun:
    """The loop over a plan (plan.py) and the set-up built from it when `run()` starts (setup.py)."""

    def __init__(self, plan: RunPlan, options: RunOptions | None = None):
        self.plan, self.options = plan, options or RunOptions()
        self.config, self.state = plan.config, plan.state  # the two records the loop reads and updates
        self.carried_state = plan.carried_state  # a mid-epoch resume's state, used by its first epoch
        self.stop = _Stop()
        self.setup: TrainingSetup | None = None  # built when `run()` starts: devices, batches, model, engine, monitor
        # The best epoch's weights by name, on every worker (the others write no best.keras);
        # None: not seen by this process (a resumed run reads its best.keras when it needs them).
        self.best_weights: dict | None = None
        self.final: dict | None = None  # the end-of-run score of the best weights (`_final_score`)
        self.at_best = False  # the model holds the best weights (the last epoch improved, or was restored)

    # --- the loop -----------------------------------------------------------------------------

    def run(self) -> TrainResult:
        try:
            return self._run()
        finally:
            self.plan.release_lock()  # the next run into this directory may start (plan.plan_run)

    def _run(self) -> TrainResult:
        self.setup = TrainingSetup(self.plan, self.options)  # TensorFlow from here on
        old_handlers = {s: signal.signal(s, self.stop.handle) for s in (signal.SIGINT, signal.SIGTERM)}
        self.t_start, self.elapsed_before = time.monotonic(), self.state.elapsed
        try:
            while self.state.epoch < self.config.epochs and self.stop.reason is None:
                self._epoch()
            if self.stop.signal is None and not self.setup.multi_worker and self.state.best is not None:
                self._final_score()
        except ValueError as e:
            if "use_cudnn=True" not in str(e):
                raise
            raise DeviceError(
                f"--device gpu: cuDNN cannot run this model's recurrent layers ({e}); "
                f"use --device auto to allow the slower generic kernel"
            ) from None
        except self.setup.tf.errors.OpError as e:
            # One line, not a stack of C++: a lost worker (resume) or a failed step (a bug).
            from charlstm.training.step import step_failure

            raise step_failure(e, multi_worker=self.setup.multi_worker, run_dir=self.plan.run_dir) from e
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)
            self.setup.monitor.close()
        return self._result()

    def _epoch(self) -> None:
        s, cfg = self.state, self.config
        epoch, first = s.epoch, s.step
        carried = self._initial_state(first)
        self.setup.monitor.epoch_begin(epoch, first)
        t0, done = time.monotonic(), first
        loss_total, targets_total = 0.0, 0.0  # mean training loss over the steps run here (from a resume, mid-epoch)
        for batch in self.setup.batches.epoch(epoch, skip=first):
            self.setup.model.optimizer.learning_rate.assign(self._lr())
            carry = cfg.carry_state
            if len(batch) == 4:  # --items: (inputs, targets, weights, whether the window continues an item)
                # a resume inside a long item's group has no state to continue it with (rows may differ)
                batch, carry = batch[:3], batch[3] and carried.rows == len(batch[0])
            initial = carried if carry else self.setup.engine.zero_state(len(batch[0]))
            result, carried = self.setup.engine.train_step(batch, initial, step=s.global_step, stop=self._local_stop())
            done, s.step, s.global_step = done + 1, done + 1, s.global_step + 1
            s.elapsed = self.elapsed_before + time.monotonic() - self.t_start
            targets = float(batch[2].sum())
            loss_total, targets_total = loss_total + result.loss_sum, targets_total + targets
            self.setup.monitor.step_end(result.loss_sum / max(targets, 1.0), time.monotonic() - t0)
            if result.stop:
                self.stop.reason = self.stop.reason or "another-worker"  # a peer hit its deadline or a signal
                break
            if self.plan.corpus.release is not None and done % 256 == 0:
                # A memmapped corpus: every page an epoch reads would otherwise count in RSS.
                self.plan.corpus.release()
            if cfg.save_every and (done - first) % cfg.save_every == 0 and done < self.setup.batches.steps:
                self._save(improved=False, carried_state=carried)
        nats = loss_total / targets_total if targets_total else None  # a step's own loss swings ~0.1 nats
        self._end_epoch(epoch, first, done, time.monotonic() - t0, nats, carried)

    def _initial_state(self, first: int):
        """Zeros at an epoch start; the saved carried state when resuming mid-epoch."""
        if first and self.config.carry_state and self.carried_state is not None:
            state, self.carried_state = self.setup.engine.distribute_state(self.carried_state), None
            return state
        if first and self.config.carry_state:
            raise TrainingError(
                f"{self.plan.resume_from}: a mid-epoch checkpoint without its carried state; "
                f"resume from an epoch-end checkpoint or start over"
            )
        self.carried_state = None
        return self.setup.engine.zero_state(self.setup.batches.rows)

    def _lr(self) -> float:
        s, cfg = self.state, self.config
        where = schedule.progress(
            s.global_step, s.elapsed, total_steps=cfg.epochs * self.setup.batches.steps, budget_seconds=s.budget
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

    def _end_epoch(self, epoch: int, first: int, done: int, seconds: float, nats, carried_state) -> None:
        s, cfg = self.state, self.config
        complete = done >= self.setup.batches.steps
        val = self.setup.engine.evaluate(self.setup.val_batches, carry_state=cfg.carry_state) / LN2
        chars = self.setup.batches.targets(epoch, first, done)
        record = {
            "epoch": epoch + 1,
            "train_bits_per_char": nats / LN2 if nats is not None else None,  # mean over the epoch's steps
            "val_bits_per_char": val,  # state carried across the held-out text when carry_state
            # each window from zeros: a carried-state run no longer scores them (issue 44: a second pass)
            "val_window_bits_per_char": None if cfg.carry_state else val,
            "val_chars": self.setup.val_chars,  # the held-out tail's head scored during the run
            "carry_state": cfg.carry_state,
            "learning_rate": float(self.setup.model.optimizer.learning_rate.numpy()),
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
            self.best_weights = self._weights()
        if verdict.decay:
            s.plateau_scale *= cfg.lr_decay
            self._restore_best()  # decay from the best weights, not from ones already past them
        self.at_best = verdict.improved or verdict.decay
        s.epoch, s.step = (epoch + 1, 0) if complete else (epoch, done)
        annealing = verdict.stop and self._anneal(seconds)
        self._save(verdict.improved, carried_state=None if complete else carried_state)
        self.setup.monitor.epoch_end(record, verdict.improved)
        if complete and cfg.sample_every and (epoch + 1) % cfg.sample_every == 0 and self.setup.chief:
            self.setup.monitor.log(self._sample(epoch))
        if annealing:
            self.setup.monitor.log(
                f"validation loss has not improved for {cfg.patience} epochs: the learning rate "
                f"now decays to zero over the next 2 epochs"
            )
        elif self.stop.reason is None and verdict.stop:
            self.stop.reason = "patience"
            self.setup.monitor.log(f"stopping: validation loss has not improved for {cfg.patience} epochs")

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

    def _weights(self) -> dict:
        from charlstm.training import model as model_lib

        return model_lib.named_weights(self.setup.model)

    def _restore_best(self) -> None:
        """Back to the best epoch's weights (Adam's slots and the run's position stay). Saved in
        `last` right after, so a resumed run continues from them too; a run resumed before its
        first restore reads them from its best.keras, which its `best` describes."""
        from charlstm.training import model as model_lib

        if self.best_weights is None:
            self.best_weights = ckpt_io.load_weights(self.plan.run_dir / ckpt_io.BEST)
        model_lib.assign_weights(self.setup.model, self.best_weights)

    def _final_score(self) -> None:
        """The final model (the best weights) scored on the whole held-out tail, once: during the
        run only its head was (setup.py). Recorded as `final` in both checkpoints; `last` keeps its
        own weights (the model here is left at the best ones, which nothing after this trains)."""
        s, cfg, engine = self.state, self.config, self.setup.engine
        if not self.at_best:
            self._restore_best()
        if self.setup.val_subset:
            whole = engine.evaluate(self.setup.whole_val_batches(cfg.carry_state), carry_state=cfg.carry_state) / LN2
            chars = len(self.plan.val_ids)
        else:
            whole, chars = s.best, self.setup.val_chars  # the same weights on the same text: nothing to score again
        best_epoch = min(self.state.history, key=lambda h: h["val_bits_per_char"])["epoch"]
        # State carried across the tail when the run carries it. No fresh-window figure for such a
        # run: a second pass over tinyshakespeare's 111K-char tail would cost ~2-5 s more.
        self.final = {
            "val_bits_per_char": whole,
            "carry_state": cfg.carry_state,
            "val_chars": chars,
            "epoch": best_epoch,  # the history record of the weights scored
        }
        if self.setup.chief:
            for name in (ckpt_io.BEST, ckpt_io.LAST):
                ckpt_io.update_extra(self.plan.run_dir / name, final=self.final)
        self.setup.monitor.log(
            f"final: the best weights (epoch {best_epoch}) score {whole:.4f} bits/char on the whole "
            f"held-out tail ({chars:,} chars)"
        )

    # --- output -------------------------------------------------------------------------------

    def _save(self, improved: bool, carried_state) -> None:
        """Write `last` (and `best` when improved); `carried_state`: the live state mid-epoch."""
        from charlstm.training import model as model_lib

        gathered = (
            self.setup.engine.gather_state(carried_state)  # a collective: every worker takes part
            if carried_state is not None and self.config.carry_state and self.state.step
            else None
        )
        if not self.setup.chief:
            return
        plan, path = self.plan, self.plan.run_dir / ckpt_io.LAST
        meta = ckpt_io.CheckpointMeta(
            path=path,
            vocabulary=plan.corpus.vocab.chars,
            model=plan.model_config,
            training=self.config,
            epoch=self.state.epoch,
            history=self.state.history,
            prime_excerpt=plan.corpus.excerpt,
            extra={"resume": self.state.to_dict(), "corpus": plan.corpus.info()}
            | ({"init_from": plan.start_info} if plan.start_info else {})
            | ({"items": plan.item_record} if plan.item_record is not None else {})
            | ({"sizing": plan.sizing} if plan.sizing else {}),
        )
        ckpt_io.save(self.setup.model, meta, path, model_lib.named_weights(self.setup.model), carried_state=gathered)
        if improved:
            ckpt_io.copy(path, self.plan.run_dir / ckpt_io.BEST)

    def _sample(self, epoch: int) -> str:
        from charlstm.options import SampleOptions
        from charlstm.sampler.network import Network
        from charlstm.sampler.sampling import SampleRequest, sample_steps
        from charlstm.training import model as model_lib

        net = Network(model_lib.named_weights(self.setup.model), self.plan.model_config)
        opts = SampleOptions(length=200, temperature=0.8, seed=self.config.seed + epoch)
        vocab, excerpt = self.plan.corpus.vocab, self.plan.corpus.excerpt
        if self.plan.items is not None:  # an item model: whole items, each from the start state
            from charlstm.sampler.items import sample_items

            drawn = sample_items(net, vocab.chars, vocab.encode("\n"), 8, seed=opts.seed, temperature=0.8)
            return "--- sample ---\n" + " ".join(i.text for i in drawn.items) + "\n--------------"
        request = SampleRequest(opts, vocab.encode(excerpt), excerpt)
        body = "".join(step[0] for step in sample_steps(net, request, vocab.chars))
        return f"--- sample ---\n{excerpt}{body}\n--------------"

    def _result(self) -> TrainResult:
        s = self.state
        best = self.plan.run_dir / ckpt_io.BEST
        final = self.final or {}
        return TrainResult(
            epochs=s.epoch + (s.step / self.setup.batches.steps if s.step else 0),
            val_bits_per_char=final.get("val_bits_per_char", s.best),
            val_chars=final.get("val_chars", self.setup.val_chars if s.best is not None else None),
            train_chars_per_s=s.chars_trained / max(s.seconds_trained, 1e-9),
            checkpoint=best if best.exists() else self.plan.run_dir / ckpt_io.LAST,
            stopped=self.stop.reason or "epochs",
            history=s.history,
            signal=self.stop.signal,
        )
