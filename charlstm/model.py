"""The network: Embedding → N × (recurrent layer → Dropout) → Dense softmax.

Many-to-many: every layer returns sequences, so a (batch, seq) window yields
(batch, seq, vocab) next-char probabilities and every position is trained.
`lstm` and `gru` are Keras's fused layers left at their cuDNN-eligible defaults
(tanh/sigmoid, no recurrent dropout, unroll=False, use_bias=True, GRU
reset_after=True); regularisation is the Dropout between layers instead.
"""

from __future__ import annotations

import numpy as np

from charlstm.config import ModelConfig
from charlstm.tf_runtime import keras as _keras


def recurrent_layer(cell: str, units: int, name: str):
    keras = _keras()
    if cell == "lstm":
        return keras.layers.LSTM(units, return_sequences=True, name=name)
    if cell == "gru":
        return keras.layers.GRU(units, return_sequences=True, name=name)
    if cell == "rnn":
        return keras.layers.SimpleRNN(units, return_sequences=True, name=name)
    from charlstm.cells import CIFGCell, PeepholeLSTMCell

    cell_cls = {"peephole": PeepholeLSTMCell, "cifg": CIFGCell}[cell]
    return keras.layers.RNN(cell_cls(units), return_sequences=True, name=name)


def build(config: ModelConfig, seed: int = 0):
    """A fresh model; `seed` fixes initial weights and dropout masks."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    chars = keras.Input(shape=(None,), dtype="int32", name="chars")  # (batch, seq)
    x = keras.layers.Embedding(config.vocab_size, config.embedding_dim, name="embedding")(chars)
    for i in range(1, config.layers + 1):
        x = recurrent_layer(config.cell, config.units, f"rnn_{i}")(x)  # (batch, seq, units)
        x = keras.layers.Dropout(config.dropout, seed=seed + i, name=f"dropout_{i}")(x)
    probs = keras.layers.Dense(config.vocab_size, activation="softmax", name="softmax")(x)
    return keras.Model(chars, probs, name="charlstm")  # (batch, seq, vocab)


def compile(model, learning_rate: float, clip_norm: float, jit_compile: bool = True):
    """Adam with global-norm clipping; the loss is next-char cross-entropy.

    The softmax output feeds a sparse cross-entropy, which Keras computes from the
    softmax's logits (stable). `xent` is the same loss as a weighted metric: it
    averages over real positions only, ignoring the weight-0 padding.
    """
    keras = _keras()
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, global_clipnorm=clip_norm),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        weighted_metrics=[keras.metrics.SparseCategoricalCrossentropy(name="xent")],
        jit_compile=jit_compile,
    )
    return model


def named_weights(model) -> dict[str, np.ndarray]:
    """Arrays keyed 'layer/variable' (`rnn_1/kernel`), the NumPy sampler's input."""
    out = {}
    for layer in model.layers:
        for w in layer.weights:
            out[f"{layer.name}/{w.name}"] = np.asarray(w.numpy())
    return out


def count_params(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))
