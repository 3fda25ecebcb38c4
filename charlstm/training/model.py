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

import os
from pathlib import Path

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm.config import ModelConfig
from charlstm.errors import CheckpointError, UsageError
from charlstm.sampler.network import EMBEDDING, RNN_PREFIX, SOFTMAX, rnn_layer, weight_name
from charlstm.training.tf_runtime import keras as _keras

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
    from charlstm.training.cells import CIFGCell, PeepholeLSTMCell

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
    """Arrays by their checkpoint names (`rnn_1/kernel`: `charlstm.sampler.network`'s), the NumPy network's input."""
    out = {}
    for layer in model.layers:
        for w in layer.weights:
            out[weight_name(layer.name, w.name)] = np.asarray(w.numpy())
    return out


def assign_weights(model, weights: dict[str, np.ndarray]) -> None:
    """Set every weight from arrays named as `named_weights` names them (a fine-tune's start)."""
    for layer in model.layers:
        for w in layer.weights:
            name = weight_name(layer.name, w.name)
            if name not in weights or tuple(weights[name].shape) != tuple(w.shape):
                raise CheckpointError(f"{name}: the start checkpoint has no array of shape {tuple(w.shape)}")
            w.assign(weights[name])


def count_params(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def load_keras_model(path: str | os.PathLike, compile: bool = True):
    """The Keras model, loaded in safe mode after the layer allow-list check."""
    path = Path(path)
    ckpt_io.load(path)
    ckpt_io.check_keras_config(path)
    keras = _keras()
    from charlstm.training import cells  # noqa: F401  (importing it registers the custom cells with Keras)

    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # Keras raises many types for a damaged file
        message = f"{path}: cannot load the Keras model ({type(e).__name__}: {e})"
        raise CheckpointError(message.splitlines()[0]) from None
