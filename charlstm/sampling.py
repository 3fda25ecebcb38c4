"""Fast stateful generation in NumPy: one network step per character, no TensorFlow.

The prime is fed once; afterwards each new character costs one step of each layer
with the carried state (the tutorial re-ran a whole 50-char window per character).
The first layer's input projection is folded into the embedding table, so that
layer's step is a table lookup plus the recurrent matmul.

`Network.step` is the plain, allocating step (the reference); `Stepper` is the
same arithmetic on preallocated buffers, the hot loop of `sample_steps` and of
`evaluation.nll_per_char`. Tests check the two give bit-identical logits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm.config import ModelConfig
from charlstm.equations import CELL_CLASSES, CELL_WEIGHTS, FusedLSTM, softmax
from charlstm.errors import CheckpointError, UsageError
from charlstm.options import SampleOptions


class Network:
    """The trained model's forward pass as NumPy step functions (dropout off)."""

    def __init__(self, weights: dict[str, np.ndarray], config: ModelConfig):
        self.config = config
        cls, names = CELL_CLASSES[config.cell], CELL_WEIGHTS[config.cell]
        self.layers = [
            cls(*(np.asarray(weights[f"rnn_{i}/{n}"], np.float32) for n in names)) for i in range(1, config.layers + 1)
        ]
        emb = np.asarray(weights["embedding/embeddings"], np.float32)  # (vocab, emb)
        self.table = self.layers[0].project(emb).astype(np.float32)  # (vocab, G*units)
        self.W_out = np.asarray(weights["softmax/kernel"], np.float32)  # (units, vocab)
        self.b_out = np.asarray(weights["softmax/bias"], np.float32)  # (vocab,)

    @property
    def vocab_size(self) -> int:
        """Width of the softmax: the number of distinct characters."""
        return self.W_out.shape[1]

    def zero_state(self, batch: int) -> list[tuple]:
        return [tuple(np.zeros((batch, l.units), np.float32) for _ in l.state_names) for l in self.layers]

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


def load_network(path: str | os.PathLike) -> tuple[ckpt_io.Checkpoint, Network]:
    """(Checkpoint, Network) from a checkpoint file, without TensorFlow."""
    ckpt = ckpt_io.load(path)
    weights = ckpt_io.load_weights(ckpt.path)
    try:
        net = Network(weights, ckpt.model)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: weights do not match the stored model config ({e})") from None
    if net.vocab_size != len(ckpt.vocabulary):
        raise CheckpointError(f"{ckpt.path}: output width does not match the stored vocabulary")
    return ckpt, net


class _LSTMBuffers:
    """One FusedLSTM layer's carried state and scratch arrays for a fixed batch."""

    def __init__(self, layer: FusedLSTM, state: tuple, first: bool):
        b, u = state[0].shape
        self.layer = layer
        self.h, self.c = state[0].copy(), state[1].copy()  # (batch, units): updated in place
        self.z = np.empty((b, 4 * u), np.float32)  # gate pre-activations, then their tanh
        self.zx = None if first else np.empty((b, 4 * u), np.float32)  # input projection
        self.ig = np.empty((b, u), np.float32)  # i ⊙ g
        # tanh -> gates: σ(x) = tanh(x/2)/2 + 1/2 on the i, f, o blocks (their columns are
        # pre-halved in FusedLSTM), the candidate g stays tanh. Halving is exact in binary
        # floating point, so i, f, o here are FusedLSTM's 2i, 2f, 2o halved bit for bit and
        # its two final `*= 0.5` fold away: one call fewer per layer, the same c and h.
        self.scale = np.where(layer.half == 0.5, 0.5, 1.0).astype(np.float32)  # (4*units,)
        self.offset = np.where(layer.half == 0.5, 0.5, 0.0).astype(np.float32)
        self.gates = [self.z[:, k * u : (k + 1) * u] for k in range(4)]  # views: i, f, g, o

    def step(self, zx: np.ndarray) -> np.ndarray:
        """FusedLSTM.step in place: the same c and h, bit for bit (tests check)."""
        z, h, c, ig = self.z, self.h, self.c, self.ig
        i, f, g, o = self.gates
        np.matmul(h, self.layer.U_h, out=z)  # h_{t-1} U
        z += zx  # + x W + b (commutative: same bits as zx + h U)
        np.tanh(z, out=z)
        z *= self.scale
        z += self.offset  # i, f, g, o
        c *= f
        np.multiply(i, g, out=ig)
        c += ig  # c = f ⊙ c_{t-1} + i ⊙ g
        np.tanh(c, out=h)
        h *= o  # h = o ⊙ tanh(c)
        return h

    def project(self, x: np.ndarray) -> np.ndarray:
        np.matmul(x, self.layer.W_h, out=self.zx)
        self.zx += self.layer.b_h
        return self.zx


class Stepper:
    """`Network.step` for a fixed batch with the state kept inside and no per-step allocation.

    For LSTM layers (the default) every array is preallocated and written with `out=`,
    and two of each layer's calls fold away. With `_PickOne` this took one 2×300 stream
    from 78-83 µs to 68-71 µs a step (1.12-1.18×), 61-67% -> 72-74% of the matvec-only
    ceiling (interleaved runs on a shared 2-core Zen 3; benchmarks/generate_speed.py).
    Other cells step through `Network.step`. The logits returned are a buffer the next
    call overwrites.
    """

    def __init__(self, net: Network, state: list[tuple]):
        self.net = net
        self.fast = net.config.cell == "lstm"
        if self.fast:
            self.buffers = [_LSTMBuffers(l, s, k == 0) for k, (l, s) in enumerate(zip(net.layers, state))]
            self.logits = np.empty((state[0][0].shape[0], net.vocab_size), np.float32)
        else:
            self._state = state

    def state(self) -> list[tuple]:
        """A copy of the carried state, in `Network.step`'s form."""
        if self.fast:
            return [(b.h.copy(), b.c.copy()) for b in self.buffers]
        return list(self._state)

    def step(self, ids: np.ndarray) -> np.ndarray:
        """ids (batch,) -> logits (batch, vocab) for the next char; the state moves on."""
        if not self.fast:
            logits, self._state = self.net.step(ids, self._state)
            return logits
        first, *rest = self.buffers
        # one stream: the table row as a view (broadcast over the batch of 1), no gather copy
        h = first.step(self.net.table[ids[0]] if len(ids) == 1 else self.net.table[ids])
        for buf in rest:
            h = buf.step(buf.project(h))
        np.matmul(h, self.net.W_out, out=self.logits)
        self.logits += self.net.b_out
        return self.logits


def pick(
    logits: np.ndarray, u: np.ndarray, temperature: float, top_k: int | None = None, top_p: float | None = None
) -> np.ndarray:
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
