"""charlstm.sampler.network: the fast step against the reference equations, the weight names, the row helpers.

Networks are built straight from named arrays (no Keras) with seeded random weights large
enough that every gate matters; besides the shared weight names, the Keras comparisons live in test_cells.py.
"""

import numpy as np
import pytest

from charlstm.config import CELLS, ModelConfig
from charlstm.sampler.network import CELL_WEIGHTS, Network, Stepper, _FusedLSTM, join_rows, take_rows

V, U, E = 9, 6, 5
GATES = {"lstm": 4, "peephole": 4, "cifg": 3, "gru": 3, "rnn": 1}


def _config(cell: str, layers: int = 2) -> ModelConfig:
    return ModelConfig(vocab_size=V, cell=cell, layers=layers, units=U, embedding_dim=E)


def _weights(cell: str, layers: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    g = GATES[cell] * U
    w = {
        "embedding/embeddings": rng.normal(0, 1.0, (V, E)),
        "softmax/kernel": rng.normal(0, 1.5, (U, V)),
        "softmax/bias": rng.normal(0, 0.5, V),
    }
    for i in range(1, layers + 1):
        w[f"rnn_{i}/kernel"] = rng.normal(0, 0.6, (E if i == 1 else U, g))
        w[f"rnn_{i}/recurrent_kernel"] = rng.normal(0, 0.6, (U, g))
        w[f"rnn_{i}/bias"] = rng.normal(0, 0.3, (2, g) if cell == "gru" else g)
        for p in ("peephole_i", "peephole_f", "peephole_o") if cell == "peephole" else ():
            w[f"rnn_{i}/{p}"] = rng.normal(0, 1.0, U)
    return {k: v.astype(np.float32) for k, v in w.items()}


def _net(cell: str, layers: int = 2, seed: int = 0) -> Network:
    return Network(_weights(cell, layers, seed), _config(cell, layers))


def test_fused_lstm_equals_the_reference_equations():
    from charlstm.sampler.equations import LSTM

    rng = np.random.default_rng(0)
    W, Uk, b = (rng.normal(0, 0.5, s).astype(np.float32) for s in ((5, 28), (7, 28), (28,)))
    ref, fused = LSTM(W, Uk, b), _FusedLSTM(W, Uk, b)
    x = rng.normal(size=(3, 5)).astype(np.float32)
    state = (rng.normal(size=(3, 7)).astype(np.float32), rng.normal(size=(3, 7)).astype(np.float32))
    before = [a.copy() for a in state]
    h_ref, (_, c_ref) = ref.step(ref.project(x), state)
    h_fast, (_, c_fast) = fused.step(fused.project(x), state)
    np.testing.assert_allclose(h_fast, h_ref, atol=1e-6)
    np.testing.assert_allclose(c_fast, c_ref, atol=1e-6)
    assert np.abs(c_ref - state[1]).max() > 0.1  # the step really moved the cell
    for a, b in zip(state, before):  # the caller's state is left as it was
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", CELLS)
def test_the_fast_step_matches_the_reference_trace(cell):
    """Network.step / Stepper (what the sampler runs) against the reference equations (what inspect records)."""
    net = _net(cell, seed=CELLS.index(cell))
    ids = np.random.default_rng(3).integers(0, V, 40)
    want = net.trace(ids).probs  # (time, vocab)
    assert np.abs(want - 1.0 / V).max() > 0.05 and np.abs(want[1:] - want[:1]).max() > 0.01
    np.testing.assert_allclose(net.sequence_probs(ids[None, :])[0], want, atol=1e-5, rtol=0)
    stepper = Stepper(net, net.zero_state(1))
    got = np.stack([stepper.step(ids[t : t + 1])[0].copy() for t in range(len(ids))])
    np.testing.assert_allclose(np.exp(got) / np.exp(got).sum(-1, keepdims=True), want, atol=1e-5, rtol=0)


def test_a_trace_records_every_gate_of_every_layer():
    net = _net("lstm", layers=3)
    trace = net.trace(np.arange(V))
    assert len(trace.layers) == 3
    for rec in trace.layers:
        assert {k: v.shape for k, v in rec.items()} == {k: (V, U) for k in "hcfiog"}
    assert trace.probs.shape == (V, V) and trace.surprise_bits.shape == (V - 1,)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_step_on_some_rows(cell):
    """What a batching server does: step a subset of the sequences, then put them back together."""
    net = _net(cell)
    state = net.zero_state(3)
    for ids in ([1, 2, 3], [4, 0, 8], [2, 2, 7]):
        _, state = net.step(np.array(ids), state)
    kept = [tuple(a.copy() for a in s) for s in state]
    logits, after = net.step(np.array([5, 6]), take_rows(state, [0, 2]))
    full, full_after = net.step(np.array([5, 1, 6]), state)
    np.testing.assert_allclose(logits, full[[0, 2]], atol=1e-6, rtol=0)  # BLAS may round a batch differently
    for s, f in zip(after, take_rows(full_after, [0, 2])):
        for a, b in zip(s, f):
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0)
    for s, k in zip(state, kept):  # Network.step leaves the state it was given as it was
        for a, b in zip(s, k):
            np.testing.assert_array_equal(a, b)
    again = join_rows([take_rows(state, [0]), take_rows(state, slice(1, 3))])
    for s, k in zip(again, state):
        for a, b in zip(s, k):
            np.testing.assert_array_equal(a, b)
    assert np.abs(state[0][0][0] - state[0][0][1]).max() > 1e-3  # the rows differ: the checks can fail


@pytest.mark.parametrize("cell", CELLS)
def test_named_arrays_are_the_checkpoint_names(cell):
    weights = _weights(cell, layers=2)
    net = Network(weights, _config(cell))
    arrays = net.named_arrays()
    assert list(arrays) == [
        "embedding/embeddings",
        *(f"rnn_{i}/{n}" for i in (1, 2) for n in CELL_WEIGHTS[cell]),
        "softmax/kernel",
        "softmax/bias",
    ]
    assert set(arrays) == set(weights)
    for name, a in arrays.items():
        np.testing.assert_array_equal(a, weights[name])
        assert a.dtype == np.float32
    assert list(net.layers[1]) == list(CELL_WEIGHTS[cell])
    ids = np.array([1, 4, 4, 0])
    again = Network(arrays, _config(cell))
    np.testing.assert_array_equal(again.sequence_probs(ids[None]), net.sequence_probs(ids[None]))


@pytest.mark.parametrize("cell", CELLS)
def test_the_keras_model_uses_the_same_weight_names(cell):
    from charlstm.training import model as model_lib

    config = _config(cell)
    keras_names = set(model_lib.named_weights(model_lib.build(config, seed=0)))
    assert keras_names == set(_weights(cell))
