"""Fast stateful generation in NumPy: one network step per character, no TensorFlow.

The prime is fed once; afterwards each new character costs one step of each layer
with the carried state (the tutorial re-ran a whole 50-char window per character).
The first layer's input projection is folded into the embedding table, so that
layer's step is a table lookup plus the recurrent matmul.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from charlstm.config import ModelConfig
from charlstm.equations import CELL_CLASSES, CELL_WEIGHTS, softmax


class Network:
    """The trained model's forward pass as NumPy step functions (dropout off)."""

    def __init__(self, weights: dict[str, np.ndarray], config: ModelConfig):
        self.config = config
        cls, names = CELL_CLASSES[config.cell], CELL_WEIGHTS[config.cell]
        self.layers = [
            cls(*(np.asarray(weights[f"rnn_{i}/{n}"], np.float32) for n in names))
            for i in range(1, config.layers + 1)
        ]
        emb = np.asarray(weights["embedding/embeddings"], np.float32)  # (vocab, emb)
        self.table = self.layers[0].project(emb).astype(np.float32)  # (vocab, G*units)
        self.W_out = np.asarray(weights["softmax/kernel"], np.float32)  # (units, vocab)
        self.b_out = np.asarray(weights["softmax/bias"], np.float32)  # (vocab,)

    def zero_state(self, batch: int) -> list[tuple]:
        return [tuple(np.zeros((batch, l.units), np.float32) for _ in l.state_names)
                for l in self.layers]

    def step(self, ids: np.ndarray, state: list[tuple]):
        """ids (batch,) -> logits (batch, vocab) for the next char, and the new state."""
        h, s = self.layers[0].step(self.table[ids], state[0])  # table: (vocab, G*units)
        new_state = [s]
        for layer, s in zip(self.layers[1:], state[1:]):
            h, s = layer.step(layer.project(h), s)
            new_state.append(s)
        return h @ self.W_out + self.b_out, new_state

    def feed(self, ids: np.ndarray, state: list[tuple]):
        """ids (batch, time) -> logits after the last char, and the state after it."""
        logits = None
        for t in range(ids.shape[1]):
            logits, state = self.step(ids[:, t], state)
        return logits, state

    def sequence_probs(self, ids: np.ndarray) -> np.ndarray:
        """ids (batch, time) -> next-char probabilities (batch, time, vocab) from zero state."""
        state, out = self.zero_state(ids.shape[0]), []
        for t in range(ids.shape[1]):
            logits, state = self.step(ids[:, t], state)
            out.append(softmax(logits))
        return np.stack(out, axis=1)


def pick(logits: np.ndarray, u: np.ndarray, temperature: float,
         top_k: int | None = None, top_p: float | None = None) -> np.ndarray:
    """Next ids (batch,) from logits (batch, vocab) and uniforms u (batch,) in [0, 1)."""
    if temperature == 0:
        return logits.argmax(axis=-1)
    z = logits.astype(np.float64) / temperature
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
    return (cdf <= u[:, None] * cdf[:, -1:]).sum(axis=-1).clip(max=p.shape[-1] - 1)


@dataclass
class SampleOptions:
    length: int = 500  # chars to generate after the prime
    temperature: float = 1.0  # 0 = greedy argmax; <1 sharper, >1 flatter
    top_k: int | None = None  # sample only among the k likeliest chars
    top_p: float | None = None  # nucleus: the likeliest chars holding this mass
    seed: int = 0  # with the sample index, fixes every draw
    num_samples: int = 1  # samples generated together as one batch
    first_index: int = 0  # index of the first sample: sample i always draws from stream (seed, i)
    stop: str | None = None  # end a sample when this string appears (not emitted)


class _Uniforms:
    """Per-sample random streams: sample i draws the same numbers alone or in a batch."""

    def __init__(self, seed: int, n: int, first: int = 0, block: int = 4096):
        self.rngs = [np.random.default_rng([seed, i]) for i in range(first, first + n)]
        self.block, self.pos, self.buf = block, block, None

    def next(self) -> np.ndarray:
        if self.pos == self.block:
            self.buf = np.stack([r.random(self.block) for r in self.rngs], axis=1)
            self.pos = 0
        self.pos += 1
        return self.buf[self.pos - 1]


def generate(net: Network, prime_ids: np.ndarray, opts: SampleOptions,
             chars: str) -> Iterator[list[str]]:
    """Yield, per step, the new text of each of the samples ('' once one has stopped).

    A sample stops at `length` chars or when `stop` appears; text that could still
    turn out to be the start of `stop` is held back until it cannot.
    """
    n = opts.num_samples
    logits, state = net.feed(prime_ids[None, :], net.zero_state(1))
    state = [tuple(np.repeat(a, n, axis=0) for a in s) for s in state]
    logits = np.repeat(logits, n, axis=0)
    uniforms = _Uniforms(opts.seed, n, opts.first_index)
    stop = opts.stop or ""
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
                out[i], tails[i] = tail[: len(tail) - keep], tail[len(tail) - keep:]
            else:
                out[i] = tail
        yield out
        if done.all():
            return
        logits, state = net.step(ids, state)
    if any(tails):
        yield tails


def _partial_suffix(text: str, stop: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `stop`."""
    for k in range(min(len(stop) - 1, len(text)), 0, -1):
        if text.endswith(stop[:k]):
            return k
    return 0
