"""The trained network in NumPy, owned by this one module (no TensorFlow).

- The weight names, shared with the Keras model (`charlstm.training.model` names its layers with
  them, checkpoints store the arrays under them): `embedding/embeddings`,
  `rnn_{i}/{variable}` for i = 1 … layers (each cell's variables in `CELL_WEIGHTS`),
  `softmax/kernel`, `softmax/bias`.
- `Network`: a checkpoint's arrays (`load_network` reads one) and `Network.step`, the step
  on any batch of rows, allocating fresh arrays.
- `Stepper`: the same step for a fixed batch with the state kept in preallocated buffers,
  the hot loop of `sampling.sample_steps` and `evaluation.nll_per_char`.
- `Network.trace`: every state and gate of every layer at every character, computed with
  the reference equations (`charlstm.sampler.equations`): what `charlstm inspect` records.

Two forms of each cell: the reference equations (readable), and the step the sampler runs.
For the LSTM that step is `_FusedLSTM` below, the same maths rearranged to need half the
NumPy calls; the other cells step their reference equations. Tests check the step against
the trace and Keras for every cell, and `Stepper` against `Network.step` bit for bit (so a
row's logits do not depend on which of the two ran them).

An exporter reads the arrays through `Network.config` (cell, layers, units, ...),
`embedding`, `layers`, `W_out`, `b_out`, or all of them by name (`named_arrays()`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm.config import ModelConfig
from charlstm.errors import CheckpointError
from charlstm.sampler import equations as eq

# --- weight names -------------------------------------------------------------------------------

EMBEDDING = "embedding"  # the Keras layer names; a weight is named "{layer}/{variable}"
SOFTMAX = "softmax"
RNN_PREFIX = "rnn_"  # recurrent layers are rnn_1 … rnn_{layers}, from the input up
# Each cell's variables, in the order Keras creates them and the reference cells take them.
CELL_WEIGHTS = {
    "lstm": ("kernel", "recurrent_kernel", "bias"),
    "peephole": ("kernel", "recurrent_kernel", "bias", "peephole_i", "peephole_f", "peephole_o"),
    "cifg": ("kernel", "recurrent_kernel", "bias"),
    "gru": ("kernel", "recurrent_kernel", "bias"),
    "rnn": ("kernel", "recurrent_kernel", "bias"),
}


def rnn_layer(i: int) -> str:
    """The name of recurrent layer i (1-based)."""
    return f"{RNN_PREFIX}{i}"


def weight_name(layer: str, variable: str) -> str:
    return f"{layer}/{variable}"


EMBEDDINGS = weight_name(EMBEDDING, "embeddings")  # (vocab, emb)
SOFTMAX_KERNEL = weight_name(SOFTMAX, "kernel")  # (units, vocab)
SOFTMAX_BIAS = weight_name(SOFTMAX, "bias")  # (vocab,)
# What `trace` records per cell, in display order; "g" is the candidate (LSTM g, GRU h̃).
RECORDED = {
    "lstm": ("h", "c", "f", "i", "o", "g"),
    "peephole": ("h", "c", "f", "i", "o", "g"),
    "cifg": ("h", "c", "f", "i", "o", "g"),
    "gru": ("h", "z", "r", "g"),
    "rnn": ("h",),
}

State = list[tuple[np.ndarray, ...]]  # per layer: (h, c) or (h,), each (batch, units) float32


@dataclass
class Trace:
    """One text run through one network: per layer, per quantity, (time, units) arrays."""

    ids: np.ndarray  # (time,) the input character ids
    layers: list[dict[str, np.ndarray]] = field(default_factory=list)  # [layer]{name: (time, units)}
    probs: np.ndarray | None = None  # (time, vocab): p(next char | text up to and including t)

    @property
    def surprise_bits(self) -> np.ndarray:
        """-log2 p(actual next char) for t = 0 .. time-2, shape (time-1,)."""
        p = self.probs[np.arange(len(self.ids) - 1), self.ids[1:]]
        return -np.log2(np.maximum(p, 1e-30))


class Network:
    """A trained charlstm network (dropout off): its arrays and its forward step.

    The arrays are float32 in Keras's layouts, a stable interface (an exporter serialises
    them): `embedding` (vocab, emb); `layers[k]`, recurrent layer k+1, a dict of the
    variables CELL_WEIGHTS[config.cell] names, in that order, e.g. for the LSTM kernel
    (in, 4*units), recurrent_kernel (units, 4*units), bias (4*units,) with the gate blocks
    side by side (the orders are in `charlstm.sampler.equations`; the GRU's bias is (2, 3*units):
    input and recurrent rows); `W_out` (units, vocab) and `b_out` (vocab,), the softmax.
    """

    def __init__(self, weights: Mapping[str, np.ndarray], config: ModelConfig):
        self.config = config
        names = CELL_WEIGHTS[config.cell]
        self.layers = [
            {n: np.asarray(weights[weight_name(rnn_layer(i), n)], np.float32) for n in names}
            for i in range(1, config.layers + 1)
        ]
        self.embedding = np.asarray(weights[EMBEDDINGS], np.float32)  # (vocab, emb)
        self.W_out = np.asarray(weights[SOFTMAX_KERNEL], np.float32)  # (units, vocab)
        self.b_out = np.asarray(weights[SOFTMAX_BIAS], np.float32)  # (vocab,)
        fast = _FusedLSTM if config.cell == "lstm" else eq.BY_CELL[config.cell]
        self.cells = [fast(*arrays.values()) for arrays in self.layers]  # what `step` runs, per layer
        # The first layer's input projection folded into the embedding: its step starts with a row lookup.
        self.table = self.cells[0].project(self.embedding).astype(np.float32)  # (vocab, G*units)

    @property
    def vocab_size(self) -> int:
        """Width of the softmax: the number of distinct characters."""
        return self.W_out.shape[1]

    def named_arrays(self) -> dict[str, np.ndarray]:
        """Every array by its checkpoint name (`embedding/embeddings`, `rnn_1/kernel`, …, `softmax/bias`)."""
        out = {EMBEDDINGS: self.embedding}
        for i, arrays in enumerate(self.layers, start=1):
            out.update({weight_name(rnn_layer(i), n): a for n, a in arrays.items()})
        return {**out, SOFTMAX_KERNEL: self.W_out, SOFTMAX_BIAS: self.b_out}

    def zero_state(self, batch: int) -> State:
        return [tuple(np.zeros((batch, c.units), np.float32) for _ in c.state_names) for c in self.cells]

    def step(self, ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """ids (batch,) -> logits (batch, vocab) for the next char, and the new state.

        Any batch of rows (a server steps whichever sequences are running: `take_rows`,
        `join_rows`); fresh arrays, `state` is left as it was. A row's logits can differ
        in the last bits with the batch it is in: OpenBLAS multiplies one row and several
        rows with different kernels (measured here: a (b, 300) @ (300, 1200) float32 row
        differs from the same row alone by up to 3e-6 for every b from 2 to 128). Rows stacked
        as (rows, 1, units) are multiplied one row at a time: the bits of each row alone
        (what `charlstm serve` steps, serve/batcher.py).
        """
        h, s = self.cells[0].step(self.table[ids], state[0])  # table: (vocab, G*units)
        new_state = [s]
        for cell, s in zip(self.cells[1:], state[1:]):
            h, s = cell.step(cell.project(h), s)
            new_state.append(s)
        return h @ self.W_out + self.b_out, new_state

    def feed(self, ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
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
            out.append(eq.softmax(logits))
        return np.stack(out, axis=1)

    def reference_run(self, x: np.ndarray, dtype=np.float32) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
        """x (time, emb) embedded inputs -> per-layer activations {name: (time, units)} and logits (time, vocab).

        The reference equations, one character at a time with batch 1 from the zero state;
        each layer's input projection is computed for the whole sequence at once, so the
        per-character Python work is one `gates` call per layer. Taking embeddings, not
        ids, lets a test perturb an input in float64 (`dtype`).
        """
        out = []
        for arrays in self.layers:
            layer = eq.BY_CELL[self.config.cell](*(a.astype(dtype, copy=False) for a in arrays.values()))
            zx = layer.project(x)  # (time, G*units): the whole sequence's input part at once
            state = tuple(np.zeros((1, layer.units), dtype) for _ in layer.state_names)
            steps = []
            for t in range(zx.shape[0]):
                a = layer.gates(zx[t : t + 1], state)
                state = (a["h"], a["c"]) if "c" in layer.state_names else (a["h"],)
                steps.append(a)
            rec = {k: np.concatenate([a[k] for a in steps], axis=0) for k in RECORDED[self.config.cell]}
            out.append(rec)
            x = rec["h"]  # (time, units): dropout is off at inference
        return out, x @ self.W_out.astype(dtype, copy=False) + self.b_out.astype(dtype, copy=False)

    def trace(self, ids: np.ndarray) -> Trace:
        """Run ids (time,) from the zero state through the reference equations, keeping every activation."""
        ids = np.asarray(ids, np.int64)
        layers, logits = self.reference_run(self.embedding[ids])
        return Trace(
            ids=ids,
            layers=[{k: v.astype(np.float32) for k, v in rec.items()} for rec in layers],
            probs=eq.softmax(logits.astype(np.float64)).astype(np.float32),
        )


def take_rows(state: State, rows) -> State:
    """The state of some rows (an index array or a slice), e.g. the sequences a server still runs."""
    return [tuple(a[rows] for a in s) for s in state]


def join_rows(states: list[State]) -> State:
    """Several states as one batch, their rows in the order given."""
    return [tuple(np.concatenate(arrays) for arrays in zip(*layer)) for layer in zip(*states)]


def load_network(path: str | os.PathLike) -> tuple[ckpt_io.CheckpointMeta, Network]:
    """(CheckpointMeta, Network) from a checkpoint file, without TensorFlow."""
    ckpt = ckpt_io.load(path)
    weights = ckpt_io.load_weights(ckpt.path)
    try:
        net = Network(weights, ckpt.model)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: weights do not match the stored model config ({e})") from None
    if net.vocab_size != len(ckpt.vocabulary):
        raise CheckpointError(f"{ckpt.path}: output width does not match the stored vocabulary")
    return ckpt, net


# --- the fast LSTM ------------------------------------------------------------------------------


class _FusedLSTM:
    """`equations.LSTM` rearranged for speed: the LSTM the sampler steps.

    σ(x) = (1 + tanh(x/2)) / 2: the i, f, o columns of W, U and b are halved once at load,
    so one tanh over all four gate blocks, then one scale and one shift, yields the three
    gates and the candidate g. Tests check it against `equations.LSTM` and Keras.
    """

    state_names = ("h", "c")

    def __init__(self, kernel, recurrent_kernel, bias):
        u = self.units = recurrent_kernel.shape[0]
        half = np.full(4 * u, 0.5, np.float32)
        half[2 * u : 3 * u] = 1.0  # the candidate keeps its plain tanh
        self.W_h, self.U_h, self.b_h = kernel * half, recurrent_kernel * half, bias * half
        # tanh -> gates: tanh(x/2)/2 + 1/2 on the i, f, o blocks (halving is exact in binary
        # floating point), the candidate g stays tanh.
        self.scale = np.where(half == 0.5, 0.5, 1.0).astype(np.float32)  # (4*units,)
        self.offset = np.where(half == 0.5, 0.5, 0.0).astype(np.float32)

    def project(self, x: np.ndarray) -> np.ndarray:
        return x @ self.W_h + self.b_h  # (..., 4*units)

    def step(self, zx: np.ndarray, state: tuple) -> tuple[np.ndarray, tuple]:
        """zx (batch, 4*units) and (h, c) -> h, (h, c): `_LSTMBuffers.step` on fresh arrays."""
        buffers = _LSTMBuffers(self, state, first=True)
        h = buffers.step(zx)
        return h, (h, buffers.c)


class _LSTMBuffers:
    """One fused LSTM layer's carried state and scratch arrays for a fixed batch."""

    def __init__(self, layer: _FusedLSTM, state: tuple, first: bool):
        # (batch, units), or (rows, 1, units): the server's stack of one-row products (serve/batcher.py)
        *b, u = state[0].shape
        self.layer = layer
        self.h, self.c = state[0].copy(), state[1].copy()  # (batch, units): updated in place
        self.z = np.empty((*b, 4 * u), np.float32)  # gate pre-activations, then the gates
        self.zx = None if first else np.empty((*b, 4 * u), np.float32)  # input projection
        self.ig = np.empty((*b, u), np.float32)  # i ⊙ g
        self.gates = [self.z[..., k * u : (k + 1) * u] for k in range(4)]  # views: i, f, g, o

    def step(self, zx: np.ndarray) -> np.ndarray:
        """One step in place: h and c move on; returns h (batch, units)."""
        z, h, c, ig = self.z, self.h, self.c, self.ig
        i, f, g, o = self.gates
        np.matmul(h, self.layer.U_h, out=z)  # h_{t-1} U
        z += zx  # + x W + b (commutative: same bits as zx + h U)
        np.tanh(z, out=z)
        z *= self.layer.scale
        z += self.layer.offset  # i, f, g, o
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

    For LSTM layers (the default) every array is preallocated and written with `out=`.
    With `sampling._PickOne` this took one 2×300 stream from 78-83 µs to 68-71 µs a step
    (1.12-1.18×), 61-67% -> 72-74% of the matvec-only ceiling (interleaved runs on a shared
    2-core Zen 3; benchmarks/generate_speed.py). Other cells step through `Network.step`.
    The logits returned are a buffer the next call overwrites.
    """

    def __init__(self, net: Network, state: State):
        self.net = net
        self.fast = net.config.cell == "lstm"
        if self.fast:
            self.buffers = [_LSTMBuffers(c, s, k == 0) for k, (c, s) in enumerate(zip(net.cells, state))]
            # (batch, vocab), or (rows, 1, vocab) for the server's stacked rows
            self.logits = np.empty((*state[0][0].shape[:-1], net.vocab_size), np.float32)
        else:
            self._state = state

    def state(self) -> State:
        """A copy of the carried state, in `Network.step`'s form."""
        if self.fast:
            return [(b.h.copy(), b.c.copy()) for b in self.buffers]
        return list(self._state)

    def step(self, ids: np.ndarray) -> np.ndarray:
        """ids (batch,) -> logits (batch, vocab) for the next char (ids (rows, 1): (rows, 1, vocab)); state moves on."""
        if not self.fast:
            logits, self._state = self.net.step(ids, self._state)
            return logits
        first, *rest = self.buffers
        # one stream: the table row as a view (broadcast over the batch of 1), no gather copy
        h = first.step(self.net.table[ids[0]] if ids.shape == (1,) else self.net.table[ids])
        for buf in rest:
            h = buf.step(buf.project(h))
        np.matmul(h, self.net.W_out, out=self.logits)
        self.logits += self.net.b_out
        return self.logits
