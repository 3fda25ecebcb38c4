"""evaluation.nll_per_char (NumPy, state carried) against Keras's own cross-entropy."""

import numpy as np
import pytest

from charlstm.config import CELLS, ModelConfig

V, U, E, T = 7, 6, 4, 29


@pytest.mark.parametrize("cell", CELLS)
def test_nll_per_char_equals_keras_sparse_cross_entropy(cell):
    from charlstm.sampler.evaluation import nll_per_char
    from charlstm.sampler.network import Network
    from charlstm.training import model as model_lib
    from charlstm.training.tf_runtime import keras as _keras

    keras = _keras()
    config = ModelConfig(vocab_size=V, cell=cell, layers=2, units=U, embedding_dim=E, dropout=0.0)
    model = model_lib.build(config, seed=1)
    rng = np.random.default_rng(CELLS.index(cell))
    for w in model.weights:  # random weights: far from the uniform predictions of a fresh model
        w.assign(rng.normal(0.0, 0.7, tuple(w.shape)).astype("float32"))
    ids = rng.integers(0, V, size=T).astype("int32")

    probs = model(ids[None, :], training=False)  # (1, T, vocab), from the zero state like nll_per_char
    want = np.asarray(keras.losses.sparse_categorical_crossentropy(ids[None, 1:], probs[:, :-1]))[0]  # (T-1,)
    assert want.std() > 0.1  # positions really differ

    net = Network(model_lib.named_weights(model), config)
    for block in (1024, 5):  # one block, and several with a ragged last one
        got = nll_per_char(net, ids, block=block)
        assert got.shape == (T - 1,)
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=1e-5)
    assert abs(got.mean() - float(np.mean(want))) < 1e-5
