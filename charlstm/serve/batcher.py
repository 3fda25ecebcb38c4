"""Continuous batching: one thread steps every active sequence with one batched network step per character.

A request's rows join at the next step (their prime is fed in those same steps, one
character a step, so a long prime never stalls the others) and leave when they end
or their client goes away. A row is one library `SampleRequest` (`Job.request`: its
options, its prime's ids, its stop strings); its random stream is the library's
(`sampling.Uniforms`, stream (seed, sample_index)) and its stop strings are held by the
library's `sampling.StopHold`, so this module keeps only the batching: joining,
leaving, stacking the state, the products, and handing each step's pieces on.

The products, two ways (`--exact`, `Batcher(exact=...)`):

- Default: the state is plain (rows, units), one matrix-matrix product per layer for the
  whole batch. A row's text is fixed by its seed when the batch is the same, but a
  logit's last bits depend on the batch (its size, the row's place), and now and then
  that tips a sampled character away from what `charlstm generate --seed` prints alone;
  from there on the texts differ (`benchmarks/serve_drift.py` measures how often and where).
  A row alone in the batch is a (1, units) product, `generate`'s own: the same bits.
- exact: the state is stacked (rows, 1, units). numpy hands a (1, units) @ (units, n)
  product to BLAS as a matrix-vector product, and a stack of them as one such product
  per row, so each row's bits are a single sample's whatever shares the batch: the text
  is `generate --seed SEED --sample-index INDEX`'s, byte for byte. The price: at 32 rows
  of 300 units the recurrent product took about twice the time of one matrix-matrix
  product (0.89 vs 0.43 ms, one BLAS thread, loaded machine).

Why no shape of batched product keeps a row's bits: `benchmarks/batch_invariance.py`
(RESULTS.md, run 8) finds, for 16 of 28 shapes (K, N) (the base model's softmax among
them), batch sizes M from 3 to 79 up whose rows differ from the same rows in a 2-row
product, and for every shape rows that differ from the row alone (OpenBLAS 0.3.31, Zen 3:
every one of 200 rows of a batched product differed from the same row alone); which M,
K and N pass changes with the machine's kernels. Exactness needs per-row products here,
or a kernel of our own.

Where a step's time goes (2×300 LSTM, 32 rows, cProfile, shared 2-core Zen 3): the
products are ~85%, everything else in Python ~15% (picking, uniforms, pieces). Tried for
the exact path and not taken: a loop of np.dot per row (the same BLAS calls, slower),
two threads each taking half the stack (slower here: the products are memory-bound),
column chunks of the weights (faster, but equal to the whole product only for chunk
widths that are multiples of 16 and depending on OpenBLAS's thread split: not an
exactness we could promise on other machines); and, with the engine in a process of its
own (serve/engine.py), the stack's halves on two threads (machine D: 32 rows, three
300×1200 products, 2.65 ms on one thread and 1.67 on two when alone, but in the server at
32 streaming clients 5.5-7.4K chars/s against 7.2-8.3K without: the second core is busy
with HTTP).

The Python around the products, per step: rows are picked per group of equal options
(one `pick` for the group), their uniforms one row of a block (`Uniforms.next`), the
state carried in one `Stepper` rebuilt only when rows join or leave, and the rows with
nothing to hold back (no stop string, no logprobs: "plain") hand on their characters side
by side (`Step.text`), not an object each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from charlstm.serve.core import Network, SampleRequest, Stepper, StopHold, Uniforms, join_rows, pick, take_rows

log = logging.getLogger("charlstm.serve")


@dataclass(eq=False)
class Job:
    """One sample to generate, a row of the batch: a library request of one sample, and where it goes."""

    request: SampleRequest  # options.num_samples == 1; its stream is (seed, sample_index)
    logprobs: int | None = None  # alternatives per character to report (0-5), None for none
    channel: object = None  # where the pieces go (the app's; the batcher only hands it back)
    choice: int = 0  # the choice index in the response
    cancelled: bool = False  # the client went away (`Batcher.cancel`): the row leaves at the next step
    key: int | None = None  # the job's name between the server and its engine process (serve/engine.py)


@dataclass
class Piece:
    """What one row produced (text may be '' while held back for a stop string)."""

    text: str
    logprobs: list = field(default_factory=list)  # per emitted char: (char, logprob, {alt: logprob})
    finish_reason: str | None = None  # "stop", "length", or None while running
    generated: int = 0  # characters sampled so far (usage)
    error: str | None = None  # set when stepping failed: the row ends


@dataclass
class Step:
    """What one batched step produced.

    The plain rows that go on (nothing held back, nothing else to say) side by side:
    `jobs[i]` sampled `text[i]`, its `generated[i]`-th character; every other row that has
    something to hand on, as (job, Piece). The engine sends a step as one message.
    """

    jobs: list[Job] = field(default_factory=list)
    text: str = ""  # one character per job of `jobs`
    generated: list[int] = field(default_factory=list)
    pieces: list[tuple[Job, Piece]] = field(default_factory=list)

    def items(self) -> list[tuple[Job, Piece]]:
        """Every (job, Piece) of the step, the plain rows' made here (tests, an in-process server)."""
        plain = [(j, Piece(c, [], None, n)) for j, c, n in zip(self.jobs, self.text, self.generated)]
        return plain + self.pieces


class _Row:
    def __init__(self, job: Job):
        self.job, self.fed = job, 0  # prime characters fed so far
        self.prime = job.request.prime_ids
        self.plain = not job.request.stops and job.logprobs is None  # its piece is the char: no per-row work
        self.hold = None if self.plain else StopHold(job.request.stops, extras=job.logprobs is not None)
        self.done = False


def _logprob_entry(logits: np.ndarray, chosen: int, k: int, chars: str) -> tuple:
    """(logprob of the chosen char, {char: logprob} of the k likeliest) under the model (temperature 1)."""
    z = logits.astype(np.float64)
    lp = z - z.max()
    lp -= np.log(np.exp(lp).sum())
    top = np.argsort(-lp, kind="stable")[:k]
    return float(lp[chosen]), {chars[i]: float(lp[i]) for i in top}


class Batcher:
    """The stepping loop. `publish(step)` receives each `Step` from the stepping thread."""

    def __init__(
        self,
        net: Network,
        chars: str,
        max_batch: int,
        max_queue: int,
        publish: Callable[[Step], None],
        exact: bool = False,
    ):
        self.net, self.chars, self.publish = net, chars, publish
        self.max_batch, self.max_queue = max_batch, max_queue
        # False: (rows, units), one matrix-matrix product for the batch; True: state (rows, 1, units),
        # one matrix-vector product per row (`generate`'s bits) (see the module's note)
        self.stacked = exact
        self.rows: list[_Row] = []
        self.pending: list[Job] = []
        self.stepper = Stepper(net, self._zero(0))  # carries the rows' state, (rows, 1, units) or (rows, units)
        self.ids = np.zeros(0, np.intp)  # (rows,) each row's next input: a prime char or its last pick
        self.generated = np.zeros(0, np.intp)  # (rows,) characters generated
        self.lengths = np.zeros(0, np.intp)  # (rows,) characters asked for
        self.draws = Uniforms()  # each row's stream (seed, sample_index), started when its prime is fed
        self.feeding: list[int] = []  # positions of the rows still feeding their prime
        self.groups: list | None = None  # the rows sampling, grouped (`_sampling_groups`); None: stale
        self.left = False  # a row ended or was cancelled since the last regroup
        self.cond = threading.Condition()
        self.closing = False  # no new jobs; the thread ends when the rows have
        self.cut_at: float | None = None  # monotonic time after which running rows are ended
        self.steps = 0  # batched steps taken (tests and /health)
        self.thread = threading.Thread(target=self._run, name="charlstm-batcher", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def submit(self, jobs: list[Job]) -> bool:
        """Queue the jobs together, or refuse them all (False) when the batch and the queue are full."""
        with self.cond:
            if self.closing or len(self.rows) + len(self.pending) + len(jobs) > self.max_batch + self.max_queue:
                return False
            self.pending.extend(jobs)
            self.cond.notify()
        return True

    def cancel(self, jobs: list[Job]) -> None:
        """The client went away: these jobs leave at the next step (from any thread)."""
        for job in jobs:
            job.cancelled = True
        self.left = True

    def counts(self) -> tuple[int, int]:
        """(rows stepping, jobs waiting)."""
        with self.cond:
            return len(self.rows), len(self.pending)

    def close(self, grace: float | None = None) -> None:
        """Take no new jobs; end the running ones after `grace` seconds (None: let them finish)."""
        with self.cond:
            self.closing = True
            if grace is not None:
                self.cut_at = time.monotonic() + grace
            self.cond.notify()

    def join(self, timeout: float | None = None) -> None:
        self.thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.rows and not self.pending and not self.closing:
                    self.cond.wait()
                self._regroup()
                if not self.rows:
                    if self.closing and not self.pending:
                        return
                    continue
            try:
                self.publish(self._step())
            except Exception as e:  # a bug must not leave clients hanging: end every row with the error
                log.exception("stepping failed")
                self.publish(Step(pieces=[(r.job, Piece("", error=f"generation failed: {e}")) for r in self.rows]))
                for r in self.rows:
                    r.done = True
                self.left = True

    @property
    def state(self):
        """A copy of the rows' state, per layer arrays (rows, units), or (rows, 1, units) when exact."""
        return self.stepper.state()

    def _regroup(self) -> None:
        """Drop ended and cancelled rows, then admit waiting jobs up to max_batch (under the lock)."""
        if self.pending and any(j.cancelled for j in self.pending):
            self.pending = [j for j in self.pending if not j.cancelled]
        if not self.pending and not self.left:
            return  # the common step: nothing joins or leaves (no scan of the rows)
        self.left = False
        keep = [k for k, r in enumerate(self.rows) if not r.done and not r.job.cancelled]
        room = self.max_batch - len(keep)
        new, self.pending = (self.pending[:room], self.pending[room:]) if room > 0 else ([], self.pending)
        if len(keep) == len(self.rows) and not new:
            return
        state = take_rows(self.stepper.state(), keep)
        self.rows = [self.rows[k] for k in keep] + [_Row(j) for j in new]
        self.stepper = Stepper(self.net, join_rows([state, self._zero(len(new))]))
        self.ids = np.concatenate([self.ids[keep], [int(j.request.prime_ids[0]) for j in new]]).astype(np.intp)
        self.generated = np.concatenate([self.generated[keep], np.zeros(len(new), np.intp)])
        lengths = [j.request.options.length for j in new]
        self.lengths = np.concatenate([self.lengths[keep], lengths]).astype(np.intp)
        self.draws.keep(keep)
        self.draws.add([(j.request.options.seed, j.request.options.sample_index) for j in new])
        self.feeding = [k for k, r in enumerate(self.rows) if r.fed < len(r.prime)]
        self.groups = None

    def _zero(self, rows: int):
        """The zero state of `rows` rows: stacked (rows, 1, units) when exact (see the module's note)."""
        zero = self.net.zero_state(rows)  # (rows, units) per array
        return [tuple(a[:, None, :] for a in s) for s in zero] if self.stacked else zero

    def _feed(self) -> None:
        """The rows feeding their prime move one char on; those done with it start sampling."""
        still, started = [], []
        for k in self.feeding:
            r = self.rows[k]
            r.fed += 1
            if r.fed < len(r.prime):
                self.ids[k] = r.prime[r.fed]
                still.append(k)
            else:
                started.append(k)
        if started:
            self.draws.start(started)
            self.groups = None
        self.feeding = still

    def _sampling_groups(self) -> list:
        """The rows past their prime, grouped by pick options and plainness (one `pick` call per group):
        [(options, plain, positions array or None when every row in order (no gather), positions, jobs)]."""
        if self.groups is None:
            feeding, found = set(self.feeding), {}
            for k, r in enumerate(self.rows):
                if k not in feeding and not r.done:
                    o = r.job.request.options
                    found.setdefault((o.temperature, o.top_k, o.top_p, r.plain), []).append(k)
            whole = list(range(len(self.rows)))
            self.groups = [
                (key[:3], key[3], None if ks == whole else np.array(ks, np.intp), ks, [self.rows[k].job for k in ks])
                for key, ks in found.items()
            ]
        return self.groups

    def _step(self) -> Step:
        """One batched network step for every row; returns what the rows produced."""
        if self.stacked:
            logits = self.stepper.step(self.ids[:, None])[:, 0]  # (rows, vocab), a buffer the next step overwrites
        else:
            logits = self.stepper.step(self.ids)  # (rows, vocab), likewise
        self.steps += 1
        if self.feeding:
            self._feed()
        out = Step()
        cut = self.cut_at is not None and time.monotonic() >= self.cut_at
        groups = self._sampling_groups()
        u = self.draws.next() if groups else None  # (rows,) every sampling row's next uniform
        for options, plain, ks, positions, group_jobs in groups:
            if ks is None:  # every row: no gathers
                picked = pick(logits, u, *options)
                self.ids[:] = picked
                self.generated += 1
                counts = self.generated
                lengths = self.lengths
            else:
                picked = pick(logits[ks], u[ks], *options)
                self.ids[ks] = picked
                self.generated[ks] += 1
                counts, lengths = self.generated[ks], self.lengths[ks]
            if plain and not cut:  # the common case: the char is the piece
                self._plain(out, positions, picked, counts, lengths, group_jobs)
            else:
                for k, c, n in zip(positions, picked.tolist(), counts.tolist()):
                    self._advance(out, self.rows[k], c, n, logits[k], cut)
        if cut:  # rows still feeding their prime end too
            out.pieces += [
                (r.job, self._finish(r, "length", n)) for r, n in zip(self.rows, self.generated.tolist()) if not r.done
            ]
        return out

    def _plain(self, out: Step, positions: list[int], picked, counts, lengths, jobs: list[Job]) -> None:
        """Plain rows hand on their characters side by side; those that reached their length end."""
        rows, chars = self.rows, self.chars
        text = [chars[c] for c in picked.tolist()]
        ends = counts >= lengths
        if not ends.any():
            if out.jobs:
                out.jobs = out.jobs + jobs  # never += : out.jobs may be another group's own list
            else:
                out.jobs = jobs  # the group's own list: read-only from here on (a new one at each regroup)
            out.text += "".join(text)
            out.generated += counts.tolist()
            return
        out.jobs = list(out.jobs)  # a copy: appended to below
        for k, c, n, end in zip(positions, text, counts.tolist(), ends.tolist()):
            r = rows[k]
            if end:
                r.done, self.groups, self.left = True, None, True
                out.pieces.append((r.job, Piece(c, [], "length", n)))
            else:
                out.jobs.append(r.job)
                out.text += c
                out.generated.append(n)

    def _advance(self, out: Step, r: _Row, c: int, count: int, logits: np.ndarray, cut: bool) -> None:
        j = r.job
        if r.hold is None:  # a plain row, cut: its char and the end
            text, extras, hit = self.chars[c], None, False
        else:
            extra = [_logprob_entry(logits, c, j.logprobs, self.chars)] if j.logprobs is not None else None
            text, extras, hit = r.hold.add(self.chars[c], extra)
        piece = Piece(text, [(ch, *e) for ch, e in zip(text, extras)] if extras is not None else [])
        if hit:
            r.done, piece.finish_reason, self.groups, self.left = True, "stop", None, True
        elif count >= j.request.options.length or cut:
            rest = self._finish(r, "length", count)
            piece.text += rest.text
            piece.logprobs += rest.logprobs
            piece.finish_reason = "length"
        piece.generated = count
        if piece.text or piece.finish_reason or piece.logprobs:
            out.pieces.append((j, piece))

    def _finish(self, r: _Row, reason: str, count: int) -> Piece:
        text, extras = r.hold.take() if r.hold is not None else ("", None)
        r.done, self.groups, self.left = True, None, True
        lps = [(ch, *e) for ch, e in zip(text, extras)] if extras is not None else []
        return Piece(text, lps, reason, count)
