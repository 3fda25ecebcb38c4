"""The `saved_model` and `tflite` exports: the network as a TensorFlow SavedModel, and its `step`
as a TFLite model, that run without charlstm.

Signatures (what `tf.saved_model.load(path).signatures[...]` and TF Serving call):
    serving_default(ids: int32 (batch, time)) -> {"probs": float32 (batch, time, vocab)}
        next-character probabilities after each character, from the zero state
    step(ids: int32 (batch,), state: float32 (batch, state_size))
        -> {"probs": float32 (batch, vocab), "state": float32 (batch, state_size)}
        one character per row; start from zeros and feed the returned state back to stream
The state is every layer's state side by side, layer 1 first: h then c for lstm, peephole
and cifg, h alone for gru and rnn (`vocabulary.json`'s "state" lists the slices).
`vocabulary.json` (beside the SavedModel and inside it, as an asset) holds the characters
(id = index), whether text is lower-cased first, and the state layout.

The equations are charlstm/sampler/equations.py's, written in TensorFlow ops on the arrays of
`arrays.network_arrays`; a test checks the probabilities against the NumPy sampler's.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from charlstm.errors import CharlstmError
from charlstm.export.arrays import NetworkArrays

VOCABULARY = "vocabulary.json"
TFLITE = "step.tflite"
STATES = {"lstm": ("h", "c"), "peephole": ("h", "c"), "cifg": ("h", "c"), "gru": ("h",), "rnn": ("h",)}


def describe(net: NetworkArrays) -> dict:
    """vocabulary.json: the characters, the case rule and the state layout."""
    names = STATES[net.cell]
    slices = [{"layer": k, "name": n, "size": net.units} for k in range(1, net.layers + 1) for n in names]
    return {
        "chars": list(net.vocabulary),
        "lowercase": net.lowercase,
        "cell": net.cell,
        "state_size": net.units * len(slices),
        "state": slices,
    }


def _cell(tf, cell: str, w: dict, zx, state):
    """One layer's step (charlstm/sampler/equations.py) in TF ops: zx = x W + b, state = (h,) or (h, c)."""
    sig, tanh = tf.sigmoid, tf.tanh
    h = state[0]
    if cell == "rnn":
        h = tanh(zx + h @ w["recurrent_kernel"])
        return h, (h,)
    if cell == "gru":
        x_z, x_r, x_h = tf.split(zx, 3, axis=-1)
        h_z, h_r, h_h = tf.split(h @ w["recurrent_kernel"] + w["recurrent_bias"], 3, axis=-1)
        z, r = sig(x_z + h_z), sig(x_r + h_r)
        h = z * h + (1.0 - z) * tanh(x_h + r * h_h)
        return h, (h,)
    c = state[1]
    zz = zx + h @ w["recurrent_kernel"]
    if cell == "cifg":
        z_i, z_g, z_o = tf.split(zz, 3, axis=-1)
        i = sig(z_i)
        c = (1.0 - i) * c + i * tanh(z_g)
        h = sig(z_o) * tanh(c)
        return h, (h, c)
    z_i, z_f, z_g, z_o = tf.split(zz, 4, axis=-1)
    peep = cell == "peephole"
    i = sig(z_i + w["peephole_i"] * c) if peep else sig(z_i)
    f = sig(z_f + w["peephole_f"] * c) if peep else sig(z_f)
    c = f * c + i * tanh(z_g)
    o = sig(z_o + w["peephole_o"] * c) if peep else sig(z_o)
    h = o * tanh(c)
    return h, (h, c)


def _module(tf, net: NetworkArrays, vocabulary_file: Path):
    """A tf.Module holding the weights as variables, with the two signatures' functions."""
    n_state = len(STATES[net.cell])
    state_size = net.units * n_state * net.layers

    class CharModel(tf.Module):
        def __init__(self):
            super().__init__(name="charlstm")
            self.w = {k: tf.Variable(a, trainable=False, name=k.replace("/", "_")) for k, a in net.arrays.items()}
            self.vocabulary = tf.saved_model.Asset(str(vocabulary_file))

        def _step(self, ids, state):
            parts = tf.split(state, n_state * net.layers, axis=-1)  # (batch, units) each
            x, new = None, []
            for k in range(1, net.layers + 1):
                w = {n.split("/")[1]: v for n, v in self.w.items() if n.startswith(f"layer{k}/")}
                zx = tf.gather(w["table"], ids) if k == 1 else x @ w["kernel"] + w["bias"]
                x, s = _cell(tf, net.cell, w, zx, parts[(k - 1) * n_state : k * n_state])
                new.extend(s)
            probs = tf.nn.softmax(x @ self.w["output/kernel"] + self.w["output/bias"])  # (batch, vocab)
            return probs, tf.concat(new, axis=-1)

        @tf.function(
            input_signature=[
                tf.TensorSpec([None], tf.int32, name="ids"),
                tf.TensorSpec([None, state_size], tf.float32, name="state"),
            ]
        )
        def step(self, ids, state):
            probs, state = self._step(ids, state)
            return {"probs": probs, "state": state}

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32, name="ids")])
        def probabilities(self, ids):
            batch = tf.shape(ids)[0]
            zeros = (tf.zeros([batch, state_size]), tf.zeros([batch, len(net.vocabulary)]))
            _, probs = tf.scan(lambda acc, i: self._step(i, acc[0])[::-1], tf.transpose(ids), initializer=zeros)
            return {"probs": tf.transpose(probs, [1, 0, 2])}  # (time, batch, vocab) -> (batch, time, vocab)

    return CharModel()


def write_saved_model(net: NetworkArrays, folder: Path) -> None:
    """The SavedModel into the (new, empty) `folder`, vocabulary.json beside it."""
    from charlstm.training.tf_runtime import tensorflow

    tf = tensorflow()
    vocabulary = folder / VOCABULARY
    vocabulary.write_text(json.dumps(describe(net), ensure_ascii=False, indent=1), encoding="utf-8")
    module = _module(tf, net, vocabulary)
    signatures = {"serving_default": module.probabilities, "step": module.step}
    tf.saved_model.save(module, str(folder), signatures=signatures)


def write_tflite(net: NetworkArrays, folder: Path) -> None:
    """The `step` signature as a TFLite model (step.tflite) into `folder`, vocabulary.json beside it.

    Measured with TF 2.21: the converter emits builtin ops only (FULLY_CONNECTED, GATHER,
    LOGISTIC, TANH, SPLIT, CONCATENATION, SOFTMAX, ADD, MUL, SUB) and the interpreter's
    probabilities were within 6e-9 of NumPy's over 300 steps of a 2×300 LSTM
    (benchmarks/tflite_step.py); tests check every cell within 1e-4.
    """
    from charlstm.training.tf_runtime import tensorflow

    tf = tensorflow()
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        write_saved_model(net, Path(tmp))
        try:
            flat = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["step"]).convert()
        except Exception as e:  # the converter raises many types; its last line says what failed
            raise CharlstmError(f"TFLite conversion failed: {str(e).strip().splitlines()[-1]}") from None
    (folder / TFLITE).write_bytes(flat)
    (folder / VOCABULARY).write_text(json.dumps(describe(net), ensure_ascii=False, indent=1), encoding="utf-8")
