"""The recurrent cells written from their equations, in NumPy (no TensorFlow).

The Keras versions that training uses are Keras's own layers plus `cells.py`
(the Keras cells); tests check both compute the same thing.

These are the readable reference ("an LSTM from its equations"): `charlstm inspect`
records their gates, and the sampler steps them for every cell but the LSTM, whose
rearranged fast form lives in `charlstm.sampler.network` (tests check it against `LSTM` here).
Weight layouts are Keras's, so a trained model's arrays plug in unchanged:
kernel (in, G*units), recurrent_kernel (units, G*units), gate blocks side by side.

Every layer splits its work in two: `project` (the input's contribution, x @ W + b,
batched over a whole sequence or folded into the embedding table) and `step`
(one time step given that projection and the previous state).
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class LSTM:
    """Hochreiter & Schmidhuber 1997 with the forget gate of Gers et al. 2000.

    Keras gate order: input i, forget f, candidate g, output o.
    """

    state_names = ("h", "c")

    def __init__(self, kernel, recurrent_kernel, bias):
        self.W, self.U, self.b = kernel, recurrent_kernel, bias
        self.units = recurrent_kernel.shape[0]

    def project(self, x):
        return x @ self.W + self.b  # (..., 4*units)

    def step(self, zx, state):
        a = self.gates(zx, state)
        return a["h"], (a["h"], a["c"])

    def gates(self, zx, state) -> dict:
        """Every activation of one step by name (`charlstm inspect` records them)."""
        h_tm1, c_tm1 = state  # (batch, units) each
        z = zx + h_tm1 @ self.U  # (batch, 4*units)
        z_i, z_f, z_g, z_o = np.split(z, 4, axis=-1)
        i = sigmoid(z_i)  # input gate: how much of the candidate to write
        f = sigmoid(z_f)  # forget gate: how much of the old cell to keep
        g = np.tanh(z_g)  # candidate cell content
        c = f * c_tm1 + i * g  # cell update
        o = sigmoid(z_o)  # output gate: how much of the cell to expose
        h = o * np.tanh(c)
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}


class PeepholeLSTM(LSTM):
    """Gers & Schmidhuber 2000: gates also see the cell (diagonal peephole weights).

    Input and forget gates look at c_{t-1}; the output gate looks at the new c_t.
    """

    def __init__(self, kernel, recurrent_kernel, bias, peephole_i, peephole_f, peephole_o):
        super().__init__(kernel, recurrent_kernel, bias)
        self.p_i, self.p_f, self.p_o = peephole_i, peephole_f, peephole_o

    def gates(self, zx, state) -> dict:
        h_tm1, c_tm1 = state
        z = zx + h_tm1 @ self.U
        z_i, z_f, z_g, z_o = np.split(z, 4, axis=-1)
        i = sigmoid(z_i + self.p_i * c_tm1)
        f = sigmoid(z_f + self.p_f * c_tm1)
        g = np.tanh(z_g)
        c = f * c_tm1 + i * g
        o = sigmoid(z_o + self.p_o * c)
        h = o * np.tanh(c)
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}


class CIFG(LSTM):
    """Coupled input and forget gates: f = 1 - i, so the cell forgets only as it writes.

    Gate order: input i, candidate g, output o (no forget-gate weights at all).
    """

    def gates(self, zx, state) -> dict:
        h_tm1, c_tm1 = state
        z = zx + h_tm1 @ self.U  # (batch, 3*units)
        z_i, z_g, z_o = np.split(z, 3, axis=-1)
        i = sigmoid(z_i)
        f = 1.0 - i  # the coupling
        g = np.tanh(z_g)
        c = f * c_tm1 + i * g
        o = sigmoid(z_o)
        h = o * np.tanh(c)
        return {"i": i, "f": f, "g": g, "o": o, "c": c, "h": h}


class GRU:
    """Cho et al. 2014, in Keras's cuDNN-compatible form (reset_after=True).

    Gate order: update z, reset r, candidate; bias rows are (input, recurrent).
    """

    state_names = ("h",)

    def __init__(self, kernel, recurrent_kernel, bias):
        self.W, self.U = kernel, recurrent_kernel
        self.b_x, self.b_h = bias[0], bias[1]
        self.units = recurrent_kernel.shape[0]

    def project(self, x):
        return x @ self.W + self.b_x

    def step(self, zx, state):
        h = self.gates(zx, state)["h"]
        return h, (h,)

    def gates(self, zx, state) -> dict:
        """Every activation of one step by name (`charlstm inspect` records them)."""
        (h_tm1,) = state
        x_z, x_r, x_h = np.split(zx, 3, axis=-1)
        h_z, h_r, h_h = np.split(h_tm1 @ self.U + self.b_h, 3, axis=-1)
        z = sigmoid(x_z + h_z)  # update gate: keep old state vs take candidate
        r = sigmoid(x_r + h_r)  # reset gate: how much history the candidate sees
        hh = np.tanh(x_h + r * h_h)  # candidate state
        h = z * h_tm1 + (1.0 - z) * hh
        return {"z": z, "r": r, "g": hh, "h": h}


class SimpleRNN:
    """The plain tanh RNN (Elman 1990): h_t = tanh(x W + h_{t-1} U + b)."""

    state_names = ("h",)

    def __init__(self, kernel, recurrent_kernel, bias):
        self.W, self.U, self.b = kernel, recurrent_kernel, bias
        self.units = recurrent_kernel.shape[0]

    def project(self, x):
        return x @ self.W + self.b

    def step(self, zx, state):
        h = self.gates(zx, state)["h"]
        return h, (h,)

    def gates(self, zx, state) -> dict:
        (h_tm1,) = state
        return {"h": np.tanh(zx + h_tm1 @ self.U)}


# The reference class of each cell type (`charlstm.sampler.network` names their weights in CELL_WEIGHTS).
BY_CELL = {"lstm": LSTM, "peephole": PeepholeLSTM, "cifg": CIFG, "gru": GRU, "rnn": SimpleRNN}


def softmax(logits):
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
