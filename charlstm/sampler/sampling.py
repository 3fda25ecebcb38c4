"""Choosing characters: the sampler that drives the NumPy network (`charlstm.sampler.network`).

The prime is fed once; afterwards each new character costs one step of each layer
with the carried state (the tutorial re-ran a whole 50-char window per character).
`sample_steps` runs the network's buffered `Stepper` and picks each next character
from its logits (`pick`, or `_PickOne` for one plain stream), with one random stream
per sample (`_Uniforms`) so a sample is the same alone or in a batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from charlstm.errors import UsageError
from charlstm.options import SampleOptions
from charlstm.sampler.network import Network, Stepper


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


class _Uniforms:
    """Per-sample random streams: sample i draws the same numbers alone or in a batch."""

    def __init__(self, seed: int, n: int, first: int = 0, block: int = 4096):
        self.rngs = [sample_stream(seed, i) for i in range(first, first + n)]
        self.block, self.pos, self.buf = block, block, None

    def next(self) -> np.ndarray:
        if self.pos == self.block:
            self.buf = np.stack([r.random(self.block) for r in self.rngs], axis=1)
            self.pos = 0
        self.pos += 1
        return self.buf[self.pos - 1]


def sample_steps(net: Network, prime_ids: np.ndarray, opts: SampleOptions, chars: str) -> Iterator[list[str]]:
    """Yield, per step, the new text of each of the samples ('' once one has stopped).

    A sample stops at `length` chars or when `stop` appears; text that could still
    turn out to be the start of `stop` is held back until it cannot.
    """
    if len(prime_ids) == 0:
        raise UsageError("the prime is empty: sampling starts from at least one character")
    n = opts.num_samples
    prime = Stepper(net, net.zero_state(1))
    for i in prime_ids:
        logits = prime.step(np.array([i]))
    state = [tuple(np.repeat(a, n, axis=0) for a in s) for s in prime.state()]
    logits = np.repeat(logits, n, axis=0)  # (n, vocab)
    stepper, uniforms = Stepper(net, state), _Uniforms(opts.seed, n, opts.sample_index)
    plain = (
        (opts.top_k is None or opts.top_k >= net.vocab_size)
        and (opts.top_p is None or opts.top_p >= 1.0)
        and opts.temperature > 0
    )
    if n == 1 and not opts.stop and plain:
        yield from _one_stream(stepper, logits, uniforms, opts, chars)
    else:
        yield from _batch(stepper, logits, uniforms, opts, chars)


def _one_stream(
    stepper: Stepper, logits: np.ndarray, uniforms: _Uniforms, opts: SampleOptions, chars: str
) -> Iterator[list[str]]:
    """The common case (one sample, temperature only, no stop string) with nothing else per step."""
    pick_one, ids = _PickOne(logits.shape[1], opts.temperature), np.zeros(1, np.intp)
    for _ in range(opts.length):
        ids[0] = k = pick_one(logits[0], uniforms.next()[0])
        yield [chars[k]]
        logits = stepper.step(ids)


def _batch(
    stepper: Stepper, logits: np.ndarray, uniforms: _Uniforms, opts: SampleOptions, chars: str
) -> Iterator[list[str]]:
    n, stop = opts.num_samples, opts.stop or ""
    done = np.zeros(n, bool)
    tails = [""] * n  # generated text not yet emitted (could be the start of `stop`)
    for _ in range(opts.length):
        ids = pick(logits, uniforms.next(), opts.temperature, opts.top_k, opts.top_p)
        out = [""] * n
        for i in range(n):
            if done[i]:
                continue
            tail = tails[i] + chars[ids[i]]
            if stop:
                hit = tail.find(stop)
                if hit >= 0:
                    out[i], tails[i], done[i] = tail[:hit], "", True
                    continue
                keep = _partial_suffix(tail, stop)
                out[i], tails[i] = tail[: len(tail) - keep], tail[len(tail) - keep :]
            else:
                out[i] = tail
        yield out
        if done.all():
            return
        logits = stepper.step(ids)
    if any(tails):
        yield tails


def _partial_suffix(text: str, stop: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `stop`."""
    for k in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:k]):
            return k
    return 0
