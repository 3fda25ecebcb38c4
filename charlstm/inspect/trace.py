"""Record h, c and the gates of every layer at every character, in NumPy.

The reference cells of `charlstm.equations` (never the fused sampler LSTM, whose
weights are pre-halved) are stepped one character at a time with batch 1; each
layer's input projection is computed for the whole sequence at once, so the
per-character Python work is one `gates` call per layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from charlstm import equations as eq
from charlstm.config import ModelConfig

# The reference class per cell type: LSTM, not the sampler's FusedLSTM.
REFERENCE_CELLS = {"lstm": eq.LSTM, "peephole": eq.PeepholeLSTM, "cifg": eq.CIFG, "gru": eq.GRU, "rnn": eq.SimpleRNN}
# What each cell records, in display order; "g" is the candidate (LSTM g, GRU h̃).
RECORDED = {
    "lstm": ("h", "c", "f", "i", "o", "g"),
    "peephole": ("h", "c", "f", "i", "o", "g"),
    "cifg": ("h", "c", "f", "i", "o", "g"),
    "gru": ("h", "z", "r", "g"),
    "rnn": ("h",),
}


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


class Reference:
    """A checkpoint's arrays as reference cells: embedding, layers, softmax."""

    def __init__(self, weights: dict[str, np.ndarray], config: ModelConfig, dtype=np.float32):
        self.config = config
        cls, names = REFERENCE_CELLS[config.cell], eq.CELL_WEIGHTS[config.cell]
        self.layers = [
            cls(*(np.asarray(weights[f"rnn_{i}/{n}"], dtype) for n in names)) for i in range(1, config.layers + 1)
        ]
        self.embedding = np.asarray(weights["embedding/embeddings"], dtype)  # (vocab, emb)
        self.W_out = np.asarray(weights["softmax/kernel"], dtype)  # (units, vocab)
        self.b_out = np.asarray(weights["softmax/bias"], dtype)  # (vocab,)
        self.dtype = dtype

    @property
    def recorded(self) -> tuple[str, ...]:
        return RECORDED[self.config.cell]


def run_layers(ref: Reference, x: np.ndarray) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """x (time, emb) embedded inputs -> per-layer activations and logits (time, vocab).

    Taking embeddings, not ids, lets the gradient test perturb an input in float64.
    """
    out = []
    for layer in ref.layers:
        zx = layer.project(x)  # (time, G*units): the whole sequence's input part at once
        state = tuple(np.zeros((1, layer.units), ref.dtype) for _ in layer.state_names)
        steps = []
        for t in range(zx.shape[0]):
            a = layer.gates(zx[t : t + 1], state)
            state = (a["h"], a["c"]) if "c" in layer.state_names else (a["h"],)
            steps.append(a)
        rec = {k: np.concatenate([a[k] for a in steps], axis=0) for k in RECORDED[ref.config.cell]}
        out.append(rec)
        x = rec["h"]  # (time, units): dropout is off at inference
    return out, x @ ref.W_out + ref.b_out


def record(ref: Reference, ids: np.ndarray) -> Trace:
    """Run ids (time,) from the zero state and keep every activation."""
    ids = np.asarray(ids, np.int64)
    layers, logits = run_layers(ref, ref.embedding[ids])
    return Trace(
        ids=ids,
        layers=[{k: v.astype(np.float32) for k, v in rec.items()} for rec in layers],
        probs=eq.softmax(logits.astype(np.float64)).astype(np.float32),
    )
