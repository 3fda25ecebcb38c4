"""The network: Embedding → N × (recurrent layer → Dropout) → Dense softmax.

Many-to-many: every layer returns sequences, so a (batch, seq) window yields
(batch, seq, vocab) next-char probabilities and every position is trained.
The recurrent layers also return their final state (`return_state=True`): the
saved model ignores it, the training step carries it to the next window.
`lstm` and `gru` are Keras's fused layers left at their cuDNN-eligible defaults
(tanh/sigmoid, no recurrent dropout, unroll=False, use_bias=True, GRU
reset_after=True); regularisation is the dropout between layers instead.
"""

from __future__ import annotations

import numpy as np

from charlstm.config import ModelConfig
from charlstm.errors import UsageError
from charlstm.network import EMBEDDING, RNN_PREFIX, SOFTMAX, rnn_layer, weight_name
from charlstm.tf_runtime import keras as _keras

CUDNN_CELLS = ("lstm", "gru")


def recurrent_layer(cell: str, units: int, name: str):
    keras = _keras()
    common = {"return_sequences": True, "return_state": True, "name": name}
    if cell == "lstm":
        return keras.layers.LSTM(units, **common)
    if cell == "gru":
        return keras.layers.GRU(units, **common)
    if cell == "rnn":
        return keras.layers.SimpleRNN(units, **common)
    from charlstm.cells import CIFGCell, PeepholeLSTMCell

    cell_cls = {"peephole": PeepholeLSTMCell, "cifg": CIFGCell}[cell]
    return keras.layers.RNN(cell_cls(units), **common)


def build(config: ModelConfig, seed: int = 0):
    """A fresh model; `seed` fixes the initial weights."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    chars = keras.Input(shape=(None,), dtype="int32", name="chars")  # (batch, seq)
    x = keras.layers.Embedding(config.vocab_size, config.embedding_dim, name=EMBEDDING)(chars)
    for i in range(1, config.layers + 1):
        x = recurrent_layer(config.cell, config.units, rnn_layer(i))(x)[0]  # (batch, seq, units)
        x = keras.layers.Dropout(config.dropout, seed=seed + i, name=f"dropout_{i}")(x)
    probs = keras.layers.Dense(config.vocab_size, activation="softmax", name=SOFTMAX)(x)
    return keras.Model(chars, probs, name="charlstm")  # (batch, seq, vocab)


def parts(model):
    """(embedding, recurrent layers, dense) of a charlstm model: what the training step runs."""
    rnn = [layer for layer in model.layers if layer.name.startswith(RNN_PREFIX)]
    return model.get_layer(EMBEDDING), rnn, model.get_layer(SOFTMAX)


def require_cudnn(model, cell: str) -> None:
    """--device gpu: make every recurrent layer demand cuDNN, so a setting that
    breaks eligibility is an error naming it, not a silent 10× slower while loop."""
    if cell not in CUDNN_CELLS:
        raise UsageError(
            f"--device gpu needs a cuDNN kernel and the {cell} cell has none: use --cell lstm or gru, or --device auto"
        )
    for layer in parts(model)[1]:
        layer.use_cudnn = True  # not part of the layer's saved config: checkpoints stay portable


def named_weights(model) -> dict[str, np.ndarray]:
    """Arrays by their checkpoint names (`rnn_1/kernel`: `charlstm.network`'s), the NumPy network's input."""
    out = {}
    for layer in model.layers:
        for w in layer.weights:
            out[weight_name(layer.name, w.name)] = np.asarray(w.numpy())
    return out


def count_params(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
