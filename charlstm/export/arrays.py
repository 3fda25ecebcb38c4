"""The trained network as the plain arrays every exporter writes: the one place exporters read the network.

Every exported form (the weights file of `web` / `js`, the SavedModel) computes the same
step as `charlstm.sampler.sampling.Network`; they read its layers through `network_arrays` only,
so a change in how the NumPy network holds its weights is met here once.

Names, per layer k = 1..L (Keras layouts, gate blocks side by side, G gates):
    layer{k}/table            (vocab, G*units)  layer 1 only: embedding @ kernel + bias, folded
    layer{k}/kernel           (in, G*units)     layers 2..L
    layer{k}/bias             (G*units,)        layers 2..L (GRU: the input bias)
    layer{k}/recurrent_kernel (units, G*units)
    layer{k}/recurrent_bias   (G*units,)        GRU only (reset_after: added to h @ U before the reset gate)
    layer{k}/peephole_i|f|o   (units,)          peephole only
    output/kernel             (units, vocab)
    output/bias               (vocab,)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from charlstm.checkpoint import CheckpointMeta
from charlstm.sampler.network import load_network  # the network and its documented arrays: imported here only


@dataclass
class NetworkArrays:
    """A checkpoint's network as named float32 arrays plus what a runtime needs to use them."""

    cell: str  # lstm | gru | peephole | cifg | rnn (equations: charlstm/sampler/equations.py)
    layers: int  # stacked recurrent layers
    units: int  # hidden units per layer
    vocabulary: str  # id = index into this string
    lowercase: bool  # prime text is case-folded before encoding (the model saw lower case only)
    prime_excerpt: str  # the text generation starts from when no prime is given
    arrays: dict[str, np.ndarray]  # the names in this module's docstring, float32


def network_arrays(path: str | os.PathLike) -> tuple[CheckpointMeta, NetworkArrays]:
    """(CheckpointMeta, NetworkArrays) from a checkpoint file; raises CheckpointError like `generate`."""
    ckpt, net = load_network(path)
    cell = net.config.cell
    arrays: dict[str, np.ndarray] = {}
    for k, layer in enumerate(net.layers, start=1):  # Keras's arrays by variable name (network.Network)
        p = f"layer{k}/"
        bias = layer["bias"][0] if cell == "gru" else layer["bias"]  # GRU: rows (input, recurrent)
        if k == 1:
            arrays[p + "table"] = net.embedding @ layer["kernel"] + bias  # (vocab, G*units)
        else:
            arrays[p + "kernel"], arrays[p + "bias"] = layer["kernel"], bias
        arrays[p + "recurrent_kernel"] = layer["recurrent_kernel"]
        if cell == "gru":
            arrays[p + "recurrent_bias"] = layer["bias"][1]
        if cell == "peephole":
            arrays.update({p + n: layer[n] for n in ("peephole_i", "peephole_f", "peephole_o")})
    arrays["output/kernel"], arrays["output/bias"] = net.W_out, net.b_out
    return ckpt, NetworkArrays(
        cell=cell,
        layers=net.config.layers,
        units=net.config.units,
        vocabulary=ckpt.vocabulary,
        lowercase=bool(ckpt.training.lowercase),
        prime_excerpt=ckpt.prime_excerpt,
        arrays={name: np.ascontiguousarray(a, np.float32) for name, a in arrays.items()},
    )
