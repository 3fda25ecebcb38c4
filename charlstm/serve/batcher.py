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
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from charlstm.serve.core import Network, join_rows, partial_suffix, pick, take_rows, uniforms

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
        self.job, self.fed, self.count, self.last = job, 0, 0, 0
        self.rng = uniforms(job.seed, job.index)
        self.hold = StopHold(job.stops)
        self.done = False

    def next_id(self) -> int:
        return int(self.job.prime_ids[self.fed]) if self.fed < len(self.job.prime_ids) else self.last


def _logprob_entry(logits: np.ndarray, chosen: int, k: int, chars: str) -> tuple:
    """(logprob of the chosen char, {char: logprob} of the k likeliest) under the model (temperature 1)."""
    z = logits.astype(np.float64)
    lp = z - z.max()
    lp -= np.log(np.exp(lp).sum())
    top = np.argsort(-lp, kind="stable")[:k]
    return float(lp[chosen]), {chars[i]: float(lp[i]) for i in top}


class Batcher:
    """The stepping loop. `publish(items)` receives each step's [(job, Piece)] from the stepping thread."""

    def __init__(self, net: Network, chars: str, max_batch: int, max_queue: int, publish: Callable[[list], None]):
        self.net, self.chars, self.publish = net, chars, publish
        self.max_batch, self.max_queue = max_batch, max_queue
        self.rows: list[_Row] = []
        self.pending: list[Job] = []
        self.state = self._zero(0)  # per layer, arrays (rows, 1, units)
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

    def _regroup(self) -> None:
        """Drop ended and cancelled rows, then admit waiting jobs up to max_batch (under the lock)."""
        keep = [k for k, r in enumerate(self.rows) if not r.done and not r.job.cancelled]
        if len(keep) != len(self.rows):
            self.rows = [self.rows[k] for k in keep]
            self.state = take_rows(self.state, keep)
        self.pending = [j for j in self.pending if not j.cancelled]
        room = self.max_batch - len(self.rows)
        if room > 0 and self.pending:
            new, self.pending = self.pending[:room], self.pending[room:]
            self.rows += [_Row(j) for j in new]
            self.state = join_rows([self.state, self._zero(len(new))])

    def _zero(self, rows: int):
        """The zero state of `rows` rows, stacked (rows, 1, units): one-row products (see the module's note)."""
        return [tuple(a[:, None, :] for a in s) for s in self.net.zero_state(rows)]

    def _step(self) -> list:
        """One batched network step for every row; returns what each row produced."""
        ids = np.array([r.next_id() for r in self.rows], np.intp)[:, None]  # (rows, 1)
        logits, self.state = self.net.step(ids, self.state)  # (rows, 1, vocab)
        logits = logits[:, 0]
        self.steps += 1
        ready: dict[tuple, list[int]] = {}
        for k, r in enumerate(self.rows):
            if r.fed < len(r.job.prime_ids):
                r.fed += 1
            if r.fed == len(r.job.prime_ids):
                j = r.job
                ready.setdefault((j.temperature, j.top_k, j.top_p), []).append(k)
        out = []
        cut = self.cut_at is not None and time.monotonic() >= self.cut_at
        for (temperature, top_k, top_p), rows in ready.items():
            u = np.array([self.rows[k].rng.next()[0] for k in rows])
            picked = pick(logits[rows], u, temperature, top_k, top_p)
            for k, c in zip(rows, picked):
                out.append(self._advance(self.rows[k], int(c), logits[k], cut))
        if cut:  # rows still feeding their prime end too
            out += [(r.job, self._finish(r, "length")) for r in self.rows if not r.done]
        return [o for o in out if o[1].text or o[1].finish_reason or o[1].logprobs]

    def _advance(self, r: _Row, c: int, logits: np.ndarray, cut: bool) -> tuple:
        r.last, r.count = c, r.count + 1
        j = r.job
        if not j.stops and j.logprobs is None and not cut:  # the common case: the char is the piece
            end = r.count >= j.length
            r.done = end
            return j, Piece(self.chars[c], [], "length" if end else None, r.count)
        extra = _logprob_entry(logits, c, j.logprobs, self.chars) if j.logprobs is not None else None
        text, extras, hit = r.hold.add(self.chars[c], extra)
        piece = Piece(text, [(ch, *e) for ch, e in zip(text, extras)] if j.logprobs is not None else [])
        if hit:
            r.done, piece.finish_reason = True, "stop"
        elif r.count >= j.length or cut:
            rest = self._finish(r, "length")
            piece.text += rest.text
            piece.logprobs += rest.logprobs
            piece.finish_reason = "length"
        piece.generated = r.count
        return j, piece

    def _finish(self, r: _Row, reason: str) -> Piece:
        text, extras = r.hold.take(len(r.hold.text))
        r.done = True
        lps = [(ch, *e) for ch, e in zip(text, extras)] if r.job.logprobs is not None else []
        return Piece(text, lps, reason, r.count)
