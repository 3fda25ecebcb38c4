"""Continuous batching: one thread steps every active sequence with one batched network step per character.

A request's rows join at the next step (their prime is fed in those same steps, one
character a step, so a long prime never stalls the others) and leave when they end
or their client goes away. Each row keeps its own random stream (seed, index), its
own options and its own stop strings, so its text is the text `charlstm generate
--seed SEED --sample-index INDEX` prints, whatever else shares the batch.

Why the state is stacked as (rows, 1, units): numpy hands a (1, units) @ (units, n)
product to BLAS as a matrix-vector product, and a stack of them as one such product
per row, while a (rows, units) @ (units, n) product is a matrix-matrix product whose
last bits depend on the row count and the row's position (OpenBLAS 0.3.31, Zen 3:
every one of 200 rows of a batched product differed from the same row alone, and
rows of a 64-row product differed from the same rows in a 200-row one). `generate`
steps a single sample as (1, units), so per-row products give the same bits whatever
the batch. The price: at 32 rows of 300 units the recurrent product took about twice
the time of one matrix-matrix product (0.89 vs 0.43 ms, one BLAS thread, loaded machine).

Where a step's time goes (2×300 LSTM, 32 rows, cProfile, shared 2-core Zen 3): the
three stacked (rows, 1, 300) @ (300, 1200) products are ~85%, everything else in
Python ~15% (picking, uniforms, pieces). Tried and not taken: a loop of np.dot per row
(the same BLAS calls, slower), two threads each taking half the stack (slower here:
the products are memory-bound), and column chunks of the weights (faster, but equal
to the whole product only for chunk widths that are multiples of 16 and depending on
OpenBLAS's thread split: not an exactness we could promise on other machines); and,
with the engine in a process of its own (serve/engine.py), the stack's halves on two
threads (machine D: 32 rows, three 300×1200 products, 2.65 ms on one thread and 1.67 on
two when alone, but in the server at 32 streaming clients 5.5-7.4K chars/s against
7.2-8.3K without: the second core is busy with HTTP). So
the stepping keeps the per-row products and removes the per-row Python: rows are
picked per group of equal options, their uniforms gathered from per-row blocks
(`_Draws`), the state carried in one `Stepper` rebuilt only when rows join or leave.

Why not one batched product for everyone, with `generate` multiplying its one sample the
same way? Because no shape of OpenBLAS's product keeps a row's bits across batch sizes:
`benchmarks/batch_invariance.py` (RESULTS.md, run 8) finds, for 16 of 28 shapes (K, N)
(the base model's softmax among them), batch sizes M from 3 to 79 up whose rows differ
from the same rows in a 2-row product, and for every shape rows that differ from the
row alone; which M, K and N pass changes with the
machine's kernels. Exactness needs per-row products here, or a kernel of our own.

`serve --no-exact` (exact=False) trades that exactness for speed: the state is plain
(rows, units), one matrix-matrix product per layer for the whole batch (about 2× faster
at 32 rows, see above). Everything else is the same (streams, picking, stops), so a
row's text is still fixed by its seed when the batch is, but a logit's last bits depend
on the batch, and now and then that tips a sampled character away from the CLI's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from charlstm.serve.core import Network, Stepper, join_rows, partial_suffix, pick, sample_stream, take_rows

log = logging.getLogger("charlstm.serve")


@dataclass
class Job:
    """One sample to generate: a row of the batch."""

    prime_ids: np.ndarray  # (prime_len,) the prime's character ids, at least one
    length: int  # characters to generate
    temperature: float  # 0 = greedy
    top_k: int | None  # sample among the k likeliest characters
    top_p: float | None  # nucleus mass
    seed: int  # with `index`, fixes every draw: stream (seed, index)
    index: int  # the sample index (`generate --sample-index`)
    stops: tuple[str, ...] = ()  # end where any of these appears (not emitted)
    logprobs: int | None = None  # alternatives per character to report (0-5), None for none
    channel: object = None  # where the pieces go (the app's; the batcher only hands it back)
    choice: int = 0  # the choice index in the response
    cancelled: bool = False  # set by the app when the client went away: the row leaves at the next step
    key: int | None = None  # the job's name between the server and its engine process (serve/engine.py)


@dataclass
class Piece:
    """What one row produced in one step (text may be '' while held back for a stop string)."""

    text: str
    logprobs: list = field(default_factory=list)  # per emitted char: (char, logprob, {alt: logprob})
    finish_reason: str | None = None  # "stop", "length", or None while running
    generated: int = 0  # characters sampled so far (usage)
    error: str | None = None  # set when stepping failed: the row ends


class StopHold:
    """Generated text held back while it could still be the start of a stop string (as `generate --stop`)."""

    def __init__(self, stops: tuple[str, ...]):
        self.stops, self.text, self.extra = stops, "", []

    def add(self, ch: str, extra) -> tuple[str, list, bool]:
        """The text now safe to emit, its extras, and whether a stop string appeared."""
        self.text += ch
        self.extra.append(extra)
        if not self.stops:
            return (*self.take(len(self.text)), False)
        hits = [k for k in (self.text.find(s) for s in self.stops) if k >= 0]
        if hits:
            return (*self.take(min(hits)), True)
        keep = max(partial_suffix(self.text, s) for s in self.stops)
        return (*self.take(len(self.text) - keep), False)

    def take(self, k: int) -> tuple[str, list]:
        out, ext = self.text[:k], self.extra[:k]
        self.text, self.extra = self.text[k:], self.extra[k:]
        return out, ext


class _Row:
    def __init__(self, job: Job):
        self.job, self.fed = job, 0  # prime characters fed so far
        self.hold = StopHold(job.stops)
        self.plain = not job.stops and job.logprobs is None  # its piece is the char: no per-row work
        self.done = False


class _Draws:
    """Each row's uniforms, drawn from its own stream (seed, index) in blocks and gathered per step.

    The numbers `charlstm generate --seed` draws for that sample, in the same order (a
    stream's `.random()` draws do not depend on the block size), with one fancy-index
    gather a step instead of a Python call per row.
    """

    def __init__(self, block: int = 512):
        self.block = block
        self.rngs: list = []
        self.buf = np.empty((0, block))  # (rows, block) each row's next draws
        self.pos = np.empty(0, np.intp)  # (rows,) where each row is in its block

    def keep(self, rows: list[int]) -> None:
        self.rngs = [self.rngs[k] for k in rows]
        self.buf, self.pos = self.buf[rows], self.pos[rows]

    def add(self, jobs: list[Job]) -> None:
        rngs = [sample_stream(j.seed, j.index) for j in jobs]
        self.rngs += rngs
        self.buf = np.concatenate([self.buf, np.array([r.random(self.block) for r in rngs]).reshape(-1, self.block)])
        self.pos = np.concatenate([self.pos, np.zeros(len(jobs), np.intp)])

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The next uniform of each of `rows` (positions), (len(rows),)."""
        pos = self.pos[rows]
        u = self.buf[rows, pos]
        pos += 1
        self.pos[rows] = pos
        for k in rows[pos == self.block]:  # a block used up: the next one from the same stream
            self.buf[k], self.pos[k] = self.rngs[k].random(self.block), 0
        return u


def _logprob_entry(logits: np.ndarray, chosen: int, k: int, chars: str) -> tuple:
    """(logprob of the chosen char, {char: logprob} of the k likeliest) under the model (temperature 1)."""
    z = logits.astype(np.float64)
    lp = z - z.max()
    lp -= np.log(np.exp(lp).sum())
    top = np.argsort(-lp, kind="stable")[:k]
    return float(lp[chosen]), {chars[i]: float(lp[i]) for i in top}


class Batcher:
    """The stepping loop. `publish(items)` receives each step's [(job, Piece)] from the stepping thread."""

    def __init__(
        self,
        net: Network,
        chars: str,
        max_batch: int,
        max_queue: int,
        publish: Callable[[list], None],
        exact: bool = True,
    ):
        self.net, self.chars, self.publish = net, chars, publish
        self.max_batch, self.max_queue = max_batch, max_queue
        # True: state (rows, 1, units), one matrix-vector product per row (`generate`'s bits);
        # False: (rows, units), one matrix-matrix product for the batch (see the module's note)
        self.stacked = exact
        self.rows: list[_Row] = []
        self.pending: list[Job] = []
        self.stepper = Stepper(net, self._zero(0))  # carries the rows' state, (rows, 1, units) or (rows, units)
        self.ids = np.zeros(0, np.intp)  # (rows,) each row's next input: a prime char or its last pick
        self.generated = np.zeros(0, np.intp)  # (rows,) characters generated
        self.lengths = np.zeros(0, np.intp)  # (rows,) characters asked for
        self.draws = _Draws()
        self.feeding: list[int] = []  # positions of the rows still feeding their prime
        self.groups: list | None = None  # [(pick options, plain, positions, rows)] of the rows sampling; None: stale
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
                self.publish([(r.job, Piece("", error=f"generation failed: {e}")) for r in self.rows])
                for r in self.rows:
                    r.done = True

    @property
    def state(self):
        """A copy of the rows' state, per layer arrays (rows, 1, units), or (rows, units) when not stacked."""
        return self.stepper.state()

    def _regroup(self) -> None:
        """Drop ended and cancelled rows, then admit waiting jobs up to max_batch (under the lock)."""
        keep = [k for k, r in enumerate(self.rows) if not r.done and not r.job.cancelled]
        self.pending = [j for j in self.pending if not j.cancelled]
        room = self.max_batch - len(keep)
        new, self.pending = (self.pending[:room], self.pending[room:]) if room > 0 else ([], self.pending)
        if len(keep) == len(self.rows) and not new:
            return
        state = take_rows(self.stepper.state(), keep)
        self.rows = [self.rows[k] for k in keep] + [_Row(j) for j in new]
        self.stepper = Stepper(self.net, join_rows([state, self._zero(len(new))]))
        self.ids = np.concatenate([self.ids[keep], [int(j.prime_ids[0]) for j in new]]).astype(np.intp)
        self.generated = np.concatenate([self.generated[keep], np.zeros(len(new), np.intp)])
        self.lengths = np.concatenate([self.lengths[keep], [j.length for j in new]]).astype(np.intp)
        self.draws.keep(keep)
        self.draws.add(new)
        self.feeding = [k for k, r in enumerate(self.rows) if r.fed < len(r.job.prime_ids)]
        self.groups = None

    def _zero(self, rows: int):
        """The zero state of `rows` rows: stacked (rows, 1, units) for one-row products (see the module's note)."""
        zero = self.net.zero_state(rows)  # (rows, units) per array
        return [tuple(a[:, None, :] for a in s) for s in zero] if self.stacked else zero

    def _feed(self) -> None:
        """The rows feeding their prime move one char on; those done with it start sampling."""
        still = []
        for k in self.feeding:
            r = self.rows[k]
            r.fed += 1
            if r.fed < len(r.job.prime_ids):
                self.ids[k] = r.job.prime_ids[r.fed]
                still.append(k)
            else:
                self.groups = None
        self.feeding = still

    def _sampling_groups(self) -> list:
        """The rows past their prime, grouped by pick options and plainness (one `pick` call per group)."""
        if self.groups is None:
            feeding, found = set(self.feeding), {}
            for k, r in enumerate(self.rows):
                if k not in feeding and not r.done:
                    j = r.job
                    found.setdefault((j.temperature, j.top_k, j.top_p, r.plain), []).append(k)
            self.groups = [
                (key[:3], key[3], np.array(ks, np.intp), [self.rows[k] for k in ks]) for key, ks in found.items()
            ]
        return self.groups

    def _step(self) -> list:
        """One batched network step for every row; returns what each row produced."""
        if self.stacked:
            logits = self.stepper.step(self.ids[:, None])[:, 0]  # (rows, vocab), a buffer the next step overwrites
        else:
            logits = self.stepper.step(self.ids)  # (rows, vocab), likewise
        self.steps += 1
        self._feed()
        out = []
        cut = self.cut_at is not None and time.monotonic() >= self.cut_at
        for options, plain, ks, rows in self._sampling_groups():
            picked = pick(logits[ks], self.draws.take(ks), *options)
            self.ids[ks] = picked
            self.generated[ks] += 1
            if plain and not cut:  # the common case: the char is the piece
                out += self._plain_pieces(rows, picked, self.generated[ks], self.lengths[ks])
            else:
                out += [
                    self._advance(r, int(c), int(n), logits[k], cut)
                    for r, c, n, k in zip(rows, picked, self.generated[ks], ks)
                ]
        if cut:  # rows still feeding their prime end too
            out += [(r.job, self._finish(r, "length", int(n))) for r, n in zip(self.rows, self.generated) if not r.done]
        return [o for o in out if o[1].text or o[1].finish_reason or o[1].logprobs]

    def _plain_pieces(self, rows: list[_Row], picked: np.ndarray, counts: np.ndarray, lengths: np.ndarray) -> list:
        chars, out = self.chars, []
        for r, c, n, end in zip(rows, picked.tolist(), counts.tolist(), (counts >= lengths).tolist()):
            if end:
                r.done, self.groups = True, None
            out.append((r.job, Piece(chars[c], [], "length" if end else None, n)))
        return out

    def _advance(self, r: _Row, c: int, count: int, logits: np.ndarray, cut: bool) -> tuple:
        j = r.job
        extra = _logprob_entry(logits, c, j.logprobs, self.chars) if j.logprobs is not None else None
        text, extras, hit = r.hold.add(self.chars[c], extra)
        piece = Piece(text, [(ch, *e) for ch, e in zip(text, extras)] if j.logprobs is not None else [])
        if hit:
            r.done, piece.finish_reason, self.groups = True, "stop", None
        elif count >= j.length or cut:
            rest = self._finish(r, "length", count)
            piece.text += rest.text
            piece.logprobs += rest.logprobs
            piece.finish_reason = "length"
        piece.generated = count
        return j, piece

    def _finish(self, r: _Row, reason: str, count: int) -> Piece:
        text, extras = r.hold.take(len(r.hold.text))
        r.done, self.groups = True, None
        lps = [(ch, *e) for ch, e in zip(text, extras)] if r.job.logprobs is not None else []
        return Piece(text, lps, reason, count)
