"""charlstm inspect's numbers: recorded gates against Keras's own cells, planted
interpretable units, and the gradient view against finite differences.

Every model is tiny (units 5–8) with seeded random weights so no gate or bias
sits at a value that could hide a wrong term.
"""

from __future__ import annotations

import numpy as np
import pytest

from charlstm.config import CELLS, ModelConfig

V, U, E, SEQ = 7, 5, 4, 12
ATOL = 1e-5


@pytest.fixture(scope="module")
def keras():
    from charlstm.training.tf_runtime import keras as _keras

    return _keras()


def _config(cell, layers=2, units=U, vocab=V, emb=E):
    return ModelConfig(vocab_size=vocab, cell=cell, layers=layers, units=units, embedding_dim=emb, dropout=0.0)


def _randomised(cell, layers=2, seed=0, units=U, vocab=V, emb=E):
    from charlstm.training import model as model_lib

    model = model_lib.build(_config(cell, layers, units, vocab, emb), seed=seed)
    rng = np.random.default_rng(seed + 100)
    for w in model.weights:
        w.assign(rng.normal(0.0, 1.0 if "peephole" in w.path else 0.6, tuple(w.shape)).astype("float32"))
    return model


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _keras_cell_step(cell_type, cell, x, states):
    """One step of the Keras cell itself, plus its gates recomputed from the cell's own variables.

    The gates are checked here to reproduce Keras's h and c, so they are the cell's
    real internals; the recording is then compared against them.
    """
    h_k, new = cell(x, states, training=False)
    new = list(new) if isinstance(new, (list, tuple)) else [new]
    h_k = np.asarray(h_k, np.float64)
    W, Uk, b = (np.asarray(getattr(cell, n).numpy(), np.float64) for n in ("kernel", "recurrent_kernel", "bias"))
    x, h_prev = np.asarray(x, np.float64), np.asarray(states[0], np.float64)
    u = Uk.shape[0]
    if cell_type == "rnn":
        np.testing.assert_allclose(np.tanh(x @ W + h_prev @ Uk + b), h_k, atol=ATOL)
        return {"h": h_k}, new
    if cell_type == "gru":  # reset_after=True: bias rows (input, recurrent)
        zx, zh = x @ W + b[0], h_prev @ Uk + b[1]
        z, r = _sig(zx[:, :u] + zh[:, :u]), _sig(zx[:, u : 2 * u] + zh[:, u : 2 * u])
        g = np.tanh(zx[:, 2 * u :] + r * zh[:, 2 * u :])
        np.testing.assert_allclose(z * h_prev + (1 - z) * g, h_k, atol=ATOL)
        return {"z": z, "r": r, "g": g, "h": h_k}, new
    c_prev, c_k = np.asarray(states[1], np.float64), np.asarray(new[1], np.float64)
    z = x @ W + h_prev @ Uk + b
    if cell_type == "cifg":
        i, g, o = _sig(z[:, :u]), np.tanh(z[:, u : 2 * u]), _sig(z[:, 2 * u :])
        f = 1 - i
    else:
        zi, zf, zg, zo = (z[:, k * u : (k + 1) * u] for k in range(4))
        if cell_type == "peephole":
            p = {n: np.asarray(getattr(cell, f"peephole_{n}").numpy(), np.float64) for n in "ifo"}
            zi, zf = zi + p["i"] * c_prev, zf + p["f"] * c_prev
        i, f, g = _sig(zi), _sig(zf), np.tanh(zg)
        o = _sig(zo + p["o"] * c_k) if cell_type == "peephole" else _sig(zo)
    np.testing.assert_allclose(f * c_prev + i * g, c_k, atol=ATOL)
    np.testing.assert_allclose(o * np.tanh(c_k), h_k, atol=ATOL)
    return {"i": i, "f": f, "g": g, "o": o, "c": c_k, "h": h_k}, new


@pytest.mark.parametrize("cell_type", CELLS)
def test_recorded_gates_and_states_equal_the_keras_cells(keras, cell_type):
    from charlstm.sampler.network import RECORDED, Network
    from charlstm.training.model import named_weights

    model = _randomised(cell_type, layers=2, seed=CELLS.index(cell_type))
    ids = np.random.default_rng(1).integers(0, V, SEQ)
    trace = Network(named_weights(model), _config(cell_type)).trace(ids)

    x_seq = np.asarray(model.get_layer("embedding")(ids[None, :].astype("int32")))[0]  # (time, emb)
    for li in (1, 2):
        cell = model.get_layer(f"rnn_{li}").cell
        n_states = 2 if cell_type in ("lstm", "peephole", "cifg") else 1
        states = [np.zeros((1, U), np.float32) for _ in range(n_states)]
        got = trace.layers[li - 1]
        assert set(got) == set(RECORDED[cell_type])
        outs = []
        for t in range(SEQ):
            want, states = _keras_cell_step(cell_type, cell, x_seq[t : t + 1], states)
            for name, value in want.items():
                np.testing.assert_allclose(got[name][t : t + 1], value, atol=ATOL, err_msg=f"{name} t={t}")
            outs.append(want["h"][0])
        x_seq = np.asarray(outs, np.float32)  # layer li's h feeds layer li+1
    # The whole model agrees too, and the gates really vary (the comparison can fail).
    probs = np.asarray(model(ids[None, :].astype("int32"), training=False))[0]
    np.testing.assert_allclose(trace.probs, probs, atol=ATOL)
    for name, arr in trace.layers[0].items():
        assert arr.std() > 1e-3, name


def test_cifg_forget_is_one_minus_input(keras):
    from charlstm.sampler.network import Network
    from charlstm.training.model import named_weights

    trace = Network(named_weights(_randomised("cifg", 1)), _config("cifg", 1)).trace(np.arange(V))
    np.testing.assert_allclose(trace.layers[0]["f"], 1 - trace.layers[0]["i"], atol=1e-7)


# --- interpretable cells -----------------------------------------------------------------------

QUOTE_TEXT = (
    'he said "go now" and she said "no" then. the men ran "far away" while "it" rained '
    'and "they sang loudly" as "we" sat.\n'
) * 6


def _planted_quote_lstm(text, units=8, seed=0):
    """A 1-layer LSTM whose unit 0 holds c = 1 exactly while inside double quotes.

    On a quote: forget everything (f = 0); write 1 (i = 1, g = 1) only when the unit
    was off (h_{t-1} ≈ 0), so a closing quote leaves c = 0. Elsewhere f = 1, i = 0.
    Every other unit gets random weights.
    """
    from charlstm.text.corpus import Vocabulary

    vocab = Vocabulary.from_text(text)
    v, q = len(vocab), vocab.chars.index('"')
    rng = np.random.default_rng(seed)
    emb = np.eye(v, dtype=np.float64)  # one-hot embedding: emb dim = vocab
    W = rng.normal(0, 0.5, (v, 4 * units))
    Uk = rng.normal(0, 0.5, (units, 4 * units))
    b = rng.normal(0, 0.5, 4 * units)
    i0, f0, g0, o0 = 0, units, 2 * units, 3 * units  # unit 0's column in each gate block
    for col in (i0, f0, g0, o0):
        W[:, col], Uk[:, col] = 0.0, 0.0
    W[q, i0], Uk[0, i0], b[i0] = 20.0, -40.0, -10.0  # open only on a quote while off
    W[q, f0], b[f0] = -40.0, 20.0  # keep, except at a quote
    b[g0], b[o0] = 10.0, 10.0  # write +1, always show
    weights = {
        "embedding/embeddings": emb,
        "rnn_1/kernel": W,
        "rnn_1/recurrent_kernel": Uk,
        "rnn_1/bias": b,
        "softmax/kernel": rng.normal(0, 0.5, (units, v)),
        "softmax/bias": np.zeros(v),
    }
    return vocab, weights, ModelConfig(vocab_size=v, cell="lstm", layers=1, units=units, embedding_dim=v)


def test_planted_inside_quotes_unit_ranks_first():
    from charlstm.inspect import detectors
    from charlstm.sampler.network import Network

    vocab, weights, config = _planted_quote_lstm(QUOTE_TEXT)
    trace = Network(weights, config).trace(vocab.encode(QUOTE_TEXT))
    signals = detectors.compute(QUOTE_TEXT)
    np.testing.assert_allclose(trace.layers[0]["c"][:, 0], signals["inside quotes"], atol=1e-3)
    found = detectors.best_units(signals, trace.layers)
    best = found["inside quotes"][0]
    assert (best.layer, best.unit) == (1, 0)
    assert best.r > 0.99
    # The random units do not follow quotes: the runner-up is far behind.
    assert abs(found["inside quotes"][1].r) < 0.9


def test_detector_signals():
    from charlstm.inspect import detectors

    text = 'A "b (c [d]) e" f.  G\nMACBETH.\nx'
    s = detectors.compute(text, [detectors.parse_detector("vowel=[aeiou]")])
    assert s["inside quotes"].tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0] + [0] * (len(text) - 15)
    assert s["bracket depth"][text.index("d")] == 2 and s["bracket depth"][text.index("e")] == 0
    assert s["position in line"][text.index("M")] == 1 and s["position in line"][text.index("\n")] == 0
    assert s["line start"].sum() == 2
    assert s["after sentence end"][text.index("G") - 1] == 1 and s["after sentence end"][text.index("G")] == 0
    assert s["speaker name"][text.index("MACBETH") : text.index("MACBETH") + 7].tolist() == [1] * 7
    assert s["speaker name"][text.index("A")] == 0
    assert s["vowel"].sum() == 1  # the lone lower-case vowel "e"


def test_forget_gate_drop_at_sentence_end_is_found():
    from charlstm.inspect import detectors

    text = "ab. cd! ef? gh"
    f = np.full((len(text), 3), 0.9)
    ends = [i for i, ch in enumerate(text) if ch in ".!?"]
    f[ends, 2] = 0.05  # unit 2 forgets at sentence ends
    found = detectors.forget_at_sentence_end(text, [{"f": f}])
    assert found[0]["unit"] == 2 and found[0]["drop"] == pytest.approx(0.85)
    assert len(found) == 1  # units with no drop are not listed


def test_saturation_fractions():
    from charlstm.inspect import detectors

    f = np.array([[0.05, 0.95], [0.05, 0.5], [0.95, 0.95], [0.5, 0.95]])
    s = detectors.saturation([{"f": f}])[0]["f"]
    np.testing.assert_allclose(s["low"], [0.5, 0.0])
    np.testing.assert_allclose(s["high"], [0.25, 0.75])
    assert s["share_mostly_open"] == 0.5 and s["share_mostly_closed"] == 0.0


# --- the gradient view -------------------------------------------------------------------------


def _fd_norm(model, cell, ids, t, k, eps=1e-5):
    """‖∂ log p(ids[t+1]) / ∂ e_{t-k}‖ by central differences, in float64 NumPy."""
    from charlstm.sampler.network import Network
    from charlstm.training.model import named_weights

    net = Network(named_weights(model), _config(cell))
    x0 = net.embedding.astype(np.float64)[ids[: t + 1]]

    def logp(x):
        _, logits = net.reference_run(x, dtype=np.float64)
        z = logits[t]
        return z[ids[t + 1]] - (z.max() + np.log(np.exp(z - z.max()).sum()))

    grad = np.zeros(x0.shape[1])
    for d in range(x0.shape[1]):
        xp, xm = x0.copy(), x0.copy()
        xp[t - k, d] += eps
        xm[t - k, d] -= eps
        grad[d] = (logp(xp) - logp(xm)) / (2 * eps)
    return np.linalg.norm(grad)


@pytest.mark.parametrize("cell", ["lstm", "rnn", "gru"])
def test_gradient_norms_match_finite_differences(keras, cell):
    from charlstm.inspect.gradients import gradient_norms, pick_positions

    model = _randomised(cell, layers=2, seed=5)
    ids = np.random.default_rng(2).integers(0, V, 30)
    positions, max_k = pick_positions(len(ids), 10, 3, spread=15)
    assert max_k == 10 and positions.tolist() == [10, 18, 25]
    norms = gradient_norms(model, ids, positions, max_k)  # (3, 11)
    assert norms.shape == (3, 11)
    for p, k in ((0, 0), (1, 3), (2, 10)):
        want = _fd_norm(model, cell, ids, int(positions[p]), k)
        assert want > 1e-6
        assert norms[p, k] == pytest.approx(want, rel=2e-3)


def test_rnn_gradient_decays_faster_than_lstm(keras):
    """An RNN with contracting recurrent weights against an LSTM whose forget gates stay open.

    The same random input weights otherwise; the point is that the curve shows the
    difference: orders of magnitude apart 40 characters back.
    """
    from charlstm.inspect.gradients import GradientCurve, gradient_norms, pick_positions

    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, 90)
    positions, max_k = pick_positions(len(ids), 60, 4, spread=25)
    curves = {}
    for cell in ("rnn", "lstm"):
        model = _randomised(cell, layers=1, seed=3, units=8)
        layer = model.get_layer("rnn_1")
        q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
        if cell == "rnn":
            layer.cell.recurrent_kernel.assign((0.5 * q).astype("float32"))  # contracts by ≥ 2× per step
        else:
            bias = np.zeros(32, np.float32)
            bias[:8], bias[8:16] = -2.0, 6.0  # input gates ≈ 0.1, forget gates ≈ 0.998: c carries the gradient
            layer.cell.bias.assign(bias)
            layer.cell.recurrent_kernel.assign(np.zeros((8, 32), np.float32))  # no path but the cell state
        curves[cell] = GradientCurve(cell, positions, gradient_norms(model, ids, positions, max_k), cell)
    rnn, lstm = curves["rnn"].mean, curves["lstm"].mean
    assert rnn[40] / rnn[0] < 1e-6
    assert lstm[40] / lstm[0] > 1e-2
    assert curves["rnn"].k_below() < 20 and curves["lstm"].k_below() is None
