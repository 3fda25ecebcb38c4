"""Choosing characters: the sampler that drives the NumPy network (`charlstm.network`).

The prime is fed once; afterwards each new character costs one step of each layer
with the carried state (the tutorial re-ran a whole 50-char window per character).
`sample_steps` runs a `SampleRequest` (the options, the prime's ids: one value, made by
`generation.Sampler.request`) on the network's buffered `Stepper` and picks each next
character from its logits (`pick`, or `_PickOne` for one plain stream), with one random
stream per sample (`Uniforms`) so a sample is the same alone or in a batch, and stop
strings held back by `StopHold` until they cannot be one. `charlstm serve`'s batcher
uses the same three: its rows are requests, its draws `Uniforms`, its stops `StopHold`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from charlstm.options import SampleOptions, options_of
from charlstm.sampler.network import Network, Stepper


@dataclass(frozen=True, eq=False)
class SampleRequest:
    """One sampling request, whole: what `sample_steps` runs and what the server's engine steps.

    Made by `generation.Sampler.request` (the one place a prime text becomes ids); a
    request of no prime is refused here, with the words of `--prime ""`.
    """

    options: SampleOptions  # the seed drawn (`resolved()`)
    prime_ids: np.ndarray  # (prime_len,) the prime's character ids, at least one
    prime_text: str = ""  # what the ids read as: echoed before the text, counted as the prompt
    stops: tuple[str, ...] | None = None  # end where any appears (the server takes several); None: options.stop

    def __post_init__(self):
        if len(self.prime_ids) == 0:
            prime = options_of(SampleOptions)["prime"]
            raise prime.error(prime.empty)
        if self.stops is None:
            object.__setattr__(self, "stops", (self.options.stop,) if self.options.stop else ())

    def sample(self, k: int) -> SampleRequest:
        """Sample k of this request alone: `generate --sample-index (sample_index + k) --num-samples 1`."""
        one = dataclasses.replace(self.options, sample_index=self.options.sample_index + k, num_samples=1)
        return dataclasses.replace(self, options=one)


def pick(
    logits: np.ndarray, u: np.ndarray, temperature: float, top_k: int | None = None, top_p: float | None = None
) -> np.ndarray:
    """Next ids (batch,) from logits (batch, vocab) and uniforms u (batch,) in [0, 1)."""
    if temperature == 0:
        return logits.argmax(axis=-1)
    z = logits.astype(np.float64)
    if temperature != 1.0:  # x / 1.0 == x: skip the pass
        z /= temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.partition(z, -top_k, axis=-1)[:, -top_k, None]
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-p, axis=-1, kind="stable")
        sorted_p = np.take_along_axis(p, order, axis=-1)
        cum = np.cumsum(sorted_p, axis=-1)
        # keep the smallest prefix whose mass reaches top_p (always at least one char)
        drop_sorted = (cum - sorted_p) >= top_p * cum[:, -1:]
        drop = np.zeros_like(drop_sorted)
        np.put_along_axis(drop, order, drop_sorted, axis=-1)
        p = np.where(drop, 0.0, p)
    cdf = np.cumsum(p, axis=-1)
    # inverse CDF: the first id whose cumulative mass exceeds u (zero-mass ids never win)
    # np.minimum, not .clip: the same ints, without clip's ~20 µs of Python-level checks a call
    return np.minimum((cdf <= u[:, None] * cdf[:, -1:]).sum(axis=-1), p.shape[-1] - 1)


class _PickOne:
    """`pick` for one stream with plain temperature sampling, on two preallocated float64 rows.

    The same float64 operations in the same order as `pick`, so the same id for the same
    logits and u; the count of cdf entries <= u·total becomes a binary search (cdf never
    decreases: it sums non-negative terms). Top-k / top-p / greedy go through `pick`.
    """

    def __init__(self, vocab: int, temperature: float):
        self.z, self.cdf = np.empty(vocab, np.float64), np.empty(vocab, np.float64)
        self.temperature, self.last = temperature, vocab - 1

    def __call__(self, logits: np.ndarray, u: float) -> int:
        z, cdf = self.z, self.cdf
        np.copyto(z, logits)  # float32 -> float64, exact
        if self.temperature != 1.0:  # x / 1.0 == x: skip the call
            z /= self.temperature
        z -= z.max()
        np.exp(z, out=z)
        np.cumsum(z, out=cdf)
        return min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), self.last)


def sample_stream(seed: int, index: int) -> np.random.Generator:
    """Sample `index`'s random stream: its uniforms are `.random()` draws, in order (any block size)."""
    return np.random.default_rng([seed, index])


class Uniforms:
    """Each row's uniforms from its own stream (`sample_stream(seed, index)`), drawn in blocks.

    A row gets the numbers its stream gives, in order, whatever else draws beside it
    (a stream's `.random()` draws do not depend on the block size). Every row that has
    started draws one number a step, so the rows' next draws sit side by side at one
    cursor: `next()` hands out that row of the block, (rows,), a view with no gather.
    `generate`'s rows start together; the server's rows join (`add`), start when their
    prime has been fed (`start`: their column filled from the cursor on) and leave (`keep`).
    """

    def __init__(self, streams: Sequence[tuple[int, int]] = (), block: int = 512):
        self.block = block
        self.rngs: list[np.random.Generator] = []
        self.started = np.zeros(0, bool)  # (rows,) the rows that draw at each `next()`
        self.buf = np.zeros((block, 0))  # (block, rows): down its column, each started row's next draws
        self.at = 0  # the cursor: the block row `next()` hands out
        self.add(streams)
        self.start(np.arange(len(streams)))

    def add(self, streams: Sequence[tuple[int, int]]) -> None:
        """Rows join, not drawing yet, each with its stream (seed, index)."""
        self.rngs += [sample_stream(seed, index) for seed, index in streams]
        self.started = np.concatenate([self.started, np.zeros(len(streams), bool)])
        self.buf = np.concatenate([self.buf, np.zeros((self.block, len(streams)))], axis=1)

    def start(self, rows: Sequence[int]) -> None:
        """These rows draw from the next `next()` on: their first numbers go from the cursor down."""
        for k in rows:
            self.buf[self.at :, k] = self.rngs[k].random(self.block - self.at)
            self.started[k] = True

    def keep(self, rows: list[int]) -> None:
        """Only these rows stay, in this order."""
        self.rngs = [self.rngs[k] for k in rows]
        self.buf, self.started = self.buf[:, rows], self.started[rows]

    def next(self) -> np.ndarray:
        """Every row's next uniform, (rows,) (a started row's own; others' mean nothing): a view, overwritten later."""
        if self.at == self.block:  # the block used up: each started row's next one from its stream
            for k in np.flatnonzero(self.started).tolist():
                self.buf[:, k] = self.rngs[k].random(self.block)
            self.at = 0
        self.at += 1
        return self.buf[self.at - 1]


class StopHold:
    """Generated text held back while it could still be the start of a stop string.

    `add` takes the next characters (and, when `extras`, one object per character that
    travels with it: the server's log-probabilities) and hands back what is now safe to
    emit; a stop string is never emitted, nor anything after it.
    """

    def __init__(self, stops: Sequence[str], extras: bool = False):
        self.stops = tuple(s for s in stops if s)
        self.text = ""
        self.extras: list | None = [] if extras else None

    def add(self, chars: str, extras: list | None = None) -> tuple[str, list | None, bool]:
        """(text now safe to emit, its extras, whether a stop string appeared: then the text ends before it)."""
        self.text += chars
        if self.extras is not None:
            self.extras += extras
        hits = [k for k in (self.text.find(s) for s in self.stops) if k >= 0]
        if hits:
            return (*self.take(min(hits)), True)
        keep = max((partial_suffix(self.text, s) for s in self.stops), default=0)
        return (*self.take(len(self.text) - keep), False)

    def take(self, k: int | None = None) -> tuple[str, list | None]:
        """The first k characters held (None: all) and their extras, out of the hold."""
        k = len(self.text) if k is None else k
        out, self.text = self.text[:k], self.text[k:]
        if self.extras is None:
            return out, None
        ext, self.extras = self.extras[:k], self.extras[k:]
        return out, ext


def partial_suffix(text: str, stop: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `stop`."""
    for k in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:k]):
            return k
    return 0


def sample_steps(net: Network, request: SampleRequest, chars: str) -> Iterator[list[str]]:
    """Yield, per step, the new text of each of the request's samples ('' once one has stopped).

    A sample stops at `length` chars or when a stop string appears; text that could still
    turn out to be the start of one is held back until it cannot (`StopHold`).
    """
    opts = request.options
    n = opts.num_samples
    prime = Stepper(net, net.zero_state(1))
    for i in request.prime_ids:
        logits = prime.step(np.array([i]))
    state = [tuple(np.repeat(a, n, axis=0) for a in s) for s in prime.state()]
    logits = np.repeat(logits, n, axis=0)  # (n, vocab)
    streams = [(opts.seed, opts.sample_index + k) for k in range(n)]
    stepper, uniforms = Stepper(net, state), Uniforms(streams, block=4096)
    plain = (
        (opts.top_k is None or opts.top_k >= net.vocab_size)
        and (opts.top_p is None or opts.top_p >= 1.0)
        and opts.temperature > 0
    )
    if n == 1 and not request.stops and plain:
        yield from _one_stream(stepper, logits, uniforms, opts, chars)
    else:
        yield from _batch(stepper, logits, uniforms, request, chars)


def _one_stream(
    stepper: Stepper, logits: np.ndarray, uniforms: Uniforms, opts: SampleOptions, chars: str
) -> Iterator[list[str]]:
    """The common case (one sample, temperature only, no stop string) with nothing else per step."""
    pick_one, ids = _PickOne(logits.shape[1], opts.temperature), np.zeros(1, np.intp)
    for _ in range(opts.length):
        ids[0] = k = pick_one(logits[0], uniforms.next()[0])
        yield [chars[k]]
        logits = stepper.step(ids)


def _batch(
    stepper: Stepper, logits: np.ndarray, uniforms: Uniforms, request: SampleRequest, chars: str
) -> Iterator[list[str]]:
    opts = request.options
    n = opts.num_samples
    holds = [StopHold(request.stops) for _ in range(n)] if request.stops else None
    done = np.zeros(n, bool)
    for _ in range(opts.length):
        ids = pick(logits, uniforms.next(), opts.temperature, opts.top_k, opts.top_p)
        if holds is None:
            yield [chars[i] for i in ids.tolist()]
        else:
            out = [""] * n
            for i, c in enumerate(ids.tolist()):
                if not done[i]:
                    out[i], _, done[i] = holds[i].add(chars[c])
            yield out
            if done.all():
                return
        logits = stepper.step(ids)
    if holds is not None:
        rest = ["" if d else h.take()[0] for h, d in zip(holds, done)]
        if any(rest):
            yield rest
