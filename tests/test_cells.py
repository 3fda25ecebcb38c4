"""The recurrent cells: Keras (charlstm.training.cells / Keras's own layers) against NumPy
(charlstm.sampler.equations via charlstm.sampler.network.Network), with every weight randomised.

Fresh models are a weak test of agreement: peephole weights start at zero and most
biases at 0 or ±1, so a wrong peephole or bias term could hide. Every test here
overwrites all weights with seeded random values first. Sizes are tiny so the whole
file runs in seconds on CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

from charlstm.config import CELLS, ModelConfig

V, U, E, SEQ, BATCH = 7, 5, 4, 6, 3
ATOL = 1e-5


@pytest.fixture(scope="module")
def keras():
    from charlstm.training.tf_runtime import keras as _keras

    return _keras()


def _config(cell: str, layers: int) -> ModelConfig:
    return ModelConfig(vocab_size=V, cell=cell, layers=layers, units=U, embedding_dim=E, dropout=0.0)


def _randomise(model, seed: int) -> None:
    """Every variable of the model, peepholes and biases included, to N(0, σ²)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        scale = 1.0 if "peephole" in w.path else 0.6
        w.assign(rng.normal(0.0, scale, tuple(w.shape)).astype("float32"))


def _build(cell: str, layers: int, seed: int):
    from charlstm.training import model as model_lib

    model = model_lib.build(_config(cell, layers), seed=seed)
    _randomise(model, seed + 100)
    return model


def _ids(seed: int, batch: int = BATCH, seq: int = SEQ) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, size=(batch, seq)).astype("int32")


def _keras_probs(model, ids) -> np.ndarray:
    return np.asarray(model(ids, training=False), dtype=np.float32)


@pytest.fixture(scope="module")
def randomised_models(keras):
    """One randomised model per (cell, layers), shared by the tests that only read them."""
    return {
        (cell, layers): _build(cell, layers, seed=10 * i + layers) for i, cell in enumerate(CELLS) for layers in (1, 2)
    }


# --- Keras vs NumPy ---------------------------------------------------------------------------


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_numpy_network_matches_keras_with_random_weights(randomised_models, cell, layers):
    from charlstm.sampler.network import Network
    from charlstm.training.model import named_weights

    model = randomised_models[(cell, layers)]
    # Every variable really was randomised: none left at its zero/one initial value.
    for w in model.weights:
        arr = np.asarray(w.numpy())
        assert np.all(arr != 0.0) and np.all(arr != 1.0), w.path
    ids = _ids(seed=len(cell) + layers)
    want = _keras_probs(model, ids)  # (batch, seq, vocab)
    assert want.shape == (BATCH, SEQ, V)
    np.testing.assert_allclose(want.sum(-1), 1.0, atol=1e-5)
    # The random weights give far-from-uniform predictions that differ per position.
    assert np.abs(want - 1.0 / V).max() > 0.05
    assert np.abs(want[:, 1:] - want[:, :1]).max() > 0.01

    got = Network(named_weights(model), _config(cell, layers)).sequence_probs(ids)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELLS)
def test_numpy_batched_steps_equal_unbatched(randomised_models, cell, layers):
    from charlstm.sampler.network import Network
    from charlstm.training.model import named_weights

    net = Network(named_weights(randomised_models[(cell, layers)]), _config(cell, layers))
    ids = _ids(seed=99)
    batched = net.sequence_probs(ids)
    for b in range(BATCH):
        alone = net.sequence_probs(ids[b : b + 1])
        np.testing.assert_allclose(alone[0], batched[b], atol=1e-6, rtol=0)
    # Rows with different inputs really do give different outputs (the test can fail).
    assert np.abs(batched[0] - batched[1]).max() > 1e-3


# --- peephole ---------------------------------------------------------------------------------


def test_peephole_with_zero_peepholes_is_the_standard_lstm(keras):
    """Same kernel/recurrent_kernel/bias (and embedding, softmax): Keras outputs agree."""
    from charlstm.training.model import named_weights

    lstm = _build("lstm", 2, seed=3)
    peep = _build("peephole", 2, seed=4)
    shared = named_weights(lstm)
    peepholes = []
    for layer in peep.layers:
        for w in layer.weights:
            key = f"{layer.name}/{w.name}"
            if w.name.startswith("peephole_"):
                peepholes.append(w)
                w.assign(np.zeros(tuple(w.shape), "float32"))
            else:
                w.assign(shared[key])
    assert len(peepholes) == 6
    ids = _ids(seed=5)
    want = _keras_probs(lstm, ids)
    np.testing.assert_allclose(_keras_probs(peep, ids), want, atol=ATOL, rtol=0)

    # Each peephole vector on its own changes the output: none of them is ignored.
    rng = np.random.default_rng(6)
    for w in peepholes:
        w.assign(rng.normal(0.0, 1.0, tuple(w.shape)).astype("float32"))
        assert np.abs(_keras_probs(peep, ids) - want).max() > 1e-3, w.path
        w.assign(np.zeros(tuple(w.shape), "float32"))


def test_fresh_cells_start_as_documented(keras):
    from charlstm.training.cells import CIFGCell, PeepholeLSTMCell

    peep = PeepholeLSTMCell(U)
    peep.build((None, E))
    for name in ("peephole_i", "peephole_f", "peephole_o"):
        np.testing.assert_array_equal(getattr(peep, name).numpy(), np.zeros(U))
    np.testing.assert_array_equal(peep.bias.numpy(), np.r_[np.zeros(U), np.ones(U), np.zeros(2 * U)])
    assert tuple(peep.kernel.shape) == (E, 4 * U) and tuple(peep.recurrent_kernel.shape) == (U, 4 * U)

    cifg = CIFGCell(U)
    cifg.build((None, E))
    np.testing.assert_array_equal(cifg.bias.numpy(), np.r_[-np.ones(U), np.zeros(2 * U)])
    assert tuple(cifg.kernel.shape) == (E, 3 * U) and tuple(cifg.recurrent_kernel.shape) == (U, 3 * U)


def _random_cell_and_inputs(cell_cls, seed):
    """A built cell with every weight random, and random x (batch, E), h and c (batch, U)."""
    cell = cell_cls(U)
    cell.build((None, E))
    rng = np.random.default_rng(seed)
    for w in cell.weights:
        w.assign(rng.normal(0.0, 0.8, tuple(w.shape)).astype("float32"))
    x, h, c = (rng.normal(0.0, 1.0, (BATCH, n)).astype("float32") for n in (E, U, U))
    return cell, x, h, c


def test_peephole_cell_one_step_matches_equations(keras):
    from charlstm.sampler.equations import PeepholeLSTM
    from charlstm.training.cells import PeepholeLSTMCell

    cell, x, h, c = _random_cell_and_inputs(PeepholeLSTMCell, seed=7)
    out, (h_new, c_new) = cell(x, [h, c])

    ref = PeepholeLSTM(
        *(
            np.asarray(getattr(cell, n).numpy())
            for n in ("kernel", "recurrent_kernel", "bias", "peephole_i", "peephole_f", "peephole_o")
        )
    )
    want_h, (_, want_c) = ref.step(ref.project(x), (h, c))
    np.testing.assert_allclose(np.asarray(c_new), want_c, atol=ATOL, rtol=0)
    np.testing.assert_allclose(np.asarray(h_new), want_h, atol=ATOL, rtol=0)
    np.testing.assert_allclose(np.asarray(out), want_h, atol=ATOL, rtol=0)


# --- CIFG -------------------------------------------------------------------------------------


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_cifg_forget_gate_is_one_minus_input_gate(keras):
    """One direct call of the Keras cell, checked against gates computed from its weights."""
    from charlstm.training.cells import CIFGCell

    cell, x, h, c = _random_cell_and_inputs(CIFGCell, seed=8)
    W, Uw, b = (np.asarray(v.numpy(), np.float64) for v in (cell.kernel, cell.recurrent_kernel, cell.bias))

    z = x @ W + h @ Uw + b  # (batch, 3*units): input, candidate, output blocks
    i, g, o = _sigmoid(z[:, :U]), np.tanh(z[:, U : 2 * U]), _sigmoid(z[:, 2 * U :])
    # The gates are well away from 0/1, so the check below can tell f from 1 - i.
    assert np.abs(i - 0.5).max() > 0.1 and np.abs(i - 0.5).min() < 0.45

    out, (h_new, c_new) = cell(x, [h, c])
    h_new, c_new = np.asarray(h_new), np.asarray(c_new)
    np.testing.assert_allclose(c_new, (1.0 - i) * c + i * g, atol=ATOL, rtol=0)
    np.testing.assert_allclose(h_new, o * np.tanh((1.0 - i) * c + i * g), atol=ATOL, rtol=0)
    np.testing.assert_allclose(np.asarray(out), h_new, atol=0, rtol=0)

    # The forget gate read off the cell itself: c doesn't enter the gates, so
    # c_new(c) - c_new(0) = f ⊙ c, whatever the cell's internals.
    _, (_, c_zero) = cell(x, [h, np.zeros_like(c)])
    f = (c_new - np.asarray(c_zero)) / c
    np.testing.assert_allclose(f, 1.0 - i, atol=1e-4, rtol=0)


# --- serialisation ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["PeepholeLSTMCell", "CIFGCell"])
def test_cell_config_round_trips(keras, name):
    from charlstm.training import cells

    cls = getattr(cells, name)
    cell = cls(6, name="my_cell")
    config = cell.get_config()
    assert config["units"] == 6
    clone = cls.from_config(config)
    assert type(clone) is cls and clone.units == 6 and clone.name == "my_cell"
    assert clone.state_size == [6, 6]

    data = keras.saving.serialize_keras_object(cell)
    assert data["registered_name"] == f"charlstm>{name}"
    again = keras.saving.deserialize_keras_object(data)
    assert type(again) is cls and again.units == 6

    # The cell wrapped in an RNN layer, as charlstm.training.model builds it.
    layer = keras.layers.RNN(cls(3), return_sequences=True)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored.cell) is cls and restored.cell.units == 3


@pytest.mark.parametrize("cell", ["peephole", "cifg"])
def test_model_with_custom_cell_saves_and_loads_in_safe_mode(keras, tmp_path, cell):
    model = _build(cell, 1, seed=21)
    ids = _ids(seed=22)
    want = _keras_probs(model, ids)
    path = tmp_path / f"{cell}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    assert type(loaded.get_layer("rnn_1").cell) is type(model.get_layer("rnn_1").cell)
    np.testing.assert_allclose(_keras_probs(loaded, ids), want, atol=1e-6, rtol=0)


# --- import cost and layout -------------------------------------------------------------------


def test_the_modules_that_use_the_cells_import_them_lazily():
    """cells.py imports Keras at its top; model.py and checkpoint.py import it only to build or load, and the
    NumPy side (the network, the sampler, scoring, the text policy, inspect's recording) never."""
    import subprocess
    import sys

    code = (
        "import sys, charlstm.training.model, charlstm.checkpoint\n"
        "import charlstm.sampler.network, charlstm.sampler.sampling, charlstm.sampler.evaluation\n"
        "import charlstm.text.usertext, charlstm.inspect.run\n"
        "print(any(m.split('.')[0] in ('tensorflow', 'keras') or m == 'charlstm.training.cells' for m in sys.modules))"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "False"


@pytest.mark.parametrize(
    "name, weights",
    [
        (
            "PeepholeLSTMCell",
            [
                ("kernel", (E, 4 * U)),
                ("recurrent_kernel", (U, 4 * U)),
                ("bias", (4 * U,)),
                ("peephole_i", (U,)),
                ("peephole_f", (U,)),
                ("peephole_o", (U,)),
            ],
        ),
        ("CIFGCell", [("kernel", (E, 3 * U)), ("recurrent_kernel", (U, 3 * U)), ("bias", (3 * U,))]),
    ],
)
def test_cell_weight_names_shapes_and_order_are_fixed(keras, name, weights):
    """Checkpoints store weights by these names, in this order: they must never change."""
    from charlstm.training import cells

    cell = getattr(cells, name)(U)
    cell.build((None, E))
    assert [(w.name, tuple(w.shape)) for w in cell.weights] == weights
