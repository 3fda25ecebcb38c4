"""The vanishing gradient measured on a trained model (the only view that needs TensorFlow).

For a few positions t of the text, the norm of ∂ log p(x_{t+1} | x_≤t) / ∂ e_{t−k},
the gradient of one prediction's log-probability with respect to the input
embedding k steps earlier, for k = 0 … max_k. All positions share one forward and
one backward pass: the batch holds one copy of the same prefix per position and
each copy's loss is that position's prediction, so copy p's input gradient is
exactly position p's. The prefix starts at the text's start from the zero state,
as the forward recording does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GradientCurve:
    """Gradient norms for one model on one text."""

    label: str  # shown in the chart legend (checkpoint and cell)
    positions: np.ndarray  # (P,) the t whose prediction is differentiated
    norms: np.ndarray  # (P, max_k+1): ||∂ log p(x_{t+1}) / ∂ e_{t-k}||
    cell: str = ""

    @property
    def mean(self) -> np.ndarray:
        """(max_k+1,) the norm averaged over positions."""
        return self.norms.mean(axis=0)

    def k_below(self, ratio: float = 1e-3) -> int | None:
        """First k at which the mean norm falls below `ratio` × its k = 0 value (None: never within range)."""
        m = self.mean
        hit = np.flatnonzero(m < ratio * m[0])
        return int(hit[0]) if hit.size else None

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "cell": self.cell,
            "positions": self.positions.tolist(),
            "mean": [float(v) for v in self.mean],
            "k_below_1e-3": self.k_below(),
        }


def pick_positions(n: int, max_k: int, count: int, spread: int = 200) -> tuple[np.ndarray, int]:
    """Up to `count` positions at least max_k into a text of n ids, within `spread` chars of each other.

    Returns the positions and the k range actually measurable (shorter texts shrink it).
    Bounding the spread bounds the cost: the prefix run is max_k + spread chars long at most.
    """
    max_k = min(max_k, n - 2)
    lo, hi = max_k, min(n - 2, max_k + spread)
    pos = np.unique(np.linspace(lo, hi, num=count).round().astype(np.int64))
    return pos, max_k


def gradient_norms(model, ids: np.ndarray, positions: np.ndarray, max_k: int) -> np.ndarray:
    """(P, max_k+1) gradient norms from a Keras charlstm model; see the module docstring."""
    from charlstm.training.model import parts
    from charlstm.training.tf_runtime import tensorflow

    tf = tensorflow()
    length = int(positions.max()) + 1
    batch = np.tile(np.asarray(ids[:length], np.int32), (len(positions), 1))  # (P, length)
    targets = np.stack([np.arange(len(positions)), positions, ids[positions + 1]], axis=1)
    embedding, recurrent, dense = parts(model)
    kernel, bias = (tf.constant(np.asarray(w)) for w in dense.get_weights())
    e = tf.convert_to_tensor(embedding(batch))  # (P, length, emb)
    with tf.GradientTape() as tape:
        tape.watch(e)
        x = e
        for layer in recurrent:
            out = layer(x, training=False)
            x = out[0] if isinstance(out, (list, tuple)) else out  # layers may return [seq, *states]
        logp = tf.nn.log_softmax(tf.matmul(x, kernel) + bias)  # (P, length, vocab); dropout is off
        total = tf.reduce_sum(tf.gather_nd(logp, targets))
    g = tape.gradient(total, e).numpy()  # (P, length, emb)
    norms = np.linalg.norm(g, axis=-1)  # (P, length)
    ks = np.arange(max_k + 1)
    return np.stack([norms[p, t - ks] for p, t in enumerate(positions)]).astype(np.float64)


def measure(checkpoint_path, ids: np.ndarray, label: str, max_k: int = 100, count: int = 8) -> GradientCurve:
    """Load the checkpoint's Keras model and measure its curve on ids."""
    from charlstm.checkpoint import load
    from charlstm.training.model import load_keras_model

    model = load_keras_model(checkpoint_path, compile=False)
    positions, k = pick_positions(len(ids), max_k, count)
    return GradientCurve(
        label=label,
        positions=positions,
        norms=gradient_norms(model, ids, positions, k),
        cell=load(checkpoint_path).model.cell,
    )
