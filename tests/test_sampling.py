"""The NumPy stateful sampler against the Keras model, and the sampling controls."""

import numpy as np
import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.config import ModelConfig
from charlstm.sampling import Network, SampleOptions, generate, pick


def _random_model(layers: int):
    from charlstm import model as model_lib

    cfg = ModelConfig(vocab_size=11, layers=layers, units=12, embedding_dim=5, dropout=0.3)
    model = model_lib.build(cfg, seed=5)
    rng = np.random.default_rng(layers)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, w.shape).astype("float32"))
    return model, Network(model_lib.named_weights(model), cfg)


@pytest.mark.parametrize("layers", [1, 3])
def test_stateful_steps_equal_keras_for_other_layer_counts(layers):
    model, net = _random_model(layers)
    ids = np.random.default_rng(4).integers(0, 11, size=(2, 30)).astype("int32")
    np.testing.assert_allclose(net.sequence_probs(ids), np.asarray(model(ids, training=False)), atol=1e-5)


@pytest.fixture(scope="module")
def keras_and_net():
    from charlstm import model as model_lib

    cfg = ModelConfig(vocab_size=11, layers=2, units=12, embedding_dim=5, dropout=0.3)
    model = model_lib.build(cfg, seed=5)
    rng = np.random.default_rng(0)
    for w in model.weights:  # random, larger than the initialisers, so every gate matters
        w.assign(rng.normal(0, 0.5, w.shape).astype("float32"))
    return model, Network(model_lib.named_weights(model), cfg)


def test_stateful_steps_equal_full_sequence_model(keras_and_net):
    model, net = keras_and_net
    ids = np.random.default_rng(1).integers(0, 11, size=(3, 40)).astype("int32")
    want = np.asarray(model(ids, training=False))  # (batch, seq, vocab)
    got = net.sequence_probs(ids)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_batched_steps_equal_unbatched(keras_and_net):
    _, net = keras_and_net
    ids = np.random.default_rng(2).integers(0, 11, size=(4, 25))
    batched = net.sequence_probs(ids)
    for i in range(4):
        np.testing.assert_allclose(net.sequence_probs(ids[i:i + 1])[0], batched[i], atol=1e-6)


def test_trained_checkpoint_sampler_matches_keras(trained_run):
    from charlstm.checkpoint import load_keras_model

    ckpt, net = ckpt_io.load_network(trained_run / "best.keras")
    model = load_keras_model(trained_run / "best.keras", compile=False)
    ids = np.random.default_rng(3).integers(0, len(ckpt.vocabulary), size=(2, 30)).astype("int32")
    np.testing.assert_allclose(net.sequence_probs(ids), np.asarray(model(ids, training=False)), atol=1e-5)


def test_pick_greedy_topk_topp():
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]]))
    assert pick(logits, np.array([0.99]), 0.0).tolist() == [3]
    # top-k 2 keeps ids 2 and 3 (mass 0.3 : 0.4); u just below 3/7 picks 2, above picks 3
    assert pick(logits, np.array([0.42]), 1.0, top_k=2).tolist() == [2]
    assert pick(logits, np.array([0.44]), 1.0, top_k=2).tolist() == [3]
    # top-p 0.5: the likeliest chars holding >= half the mass are {3, 2}
    draws = {int(pick(logits, np.array([u]), 1.0, top_p=0.5)[0]) for u in np.linspace(0, 0.999, 50)}
    assert draws == {2, 3}
    # plain sampling follows the distribution's CDF
    assert pick(logits, np.array([0.05]), 1.0).tolist() == [0]
    assert pick(logits, np.array([0.25]), 1.0).tolist() == [1]


def test_low_temperature_concentrates_on_the_mode():
    logits = np.log(np.array([[0.3, 0.7]]))
    us = np.linspace(0, 0.999, 200)
    hot = np.mean([pick(logits, np.array([u]), 1.0)[0] for u in us])
    cold = np.mean([pick(logits, np.array([u]), 0.2)[0] for u in us])
    assert hot == pytest.approx(0.7, abs=0.01) and cold > 0.98


def test_sample_in_batch_equals_sample_alone(keras_and_net):
    _, net = keras_and_net
    chars = "abcdefghijk"
    prime = np.array([1, 2, 3])
    batch = ["".join(p) for p in zip(*generate(net, prime, SampleOptions(length=60, seed=9, num_samples=4), chars))]
    for i, text in enumerate(batch):
        # sample i alone: same seed, the i-th stream
        opts = SampleOptions(length=60, seed=9, num_samples=i + 1)
        alone = ["".join(p) for p in zip(*generate(net, prime, opts, chars))][i]
        assert alone == text
    assert len(set(batch)) > 1


def test_stop_string_ends_sample_and_is_not_emitted(keras_and_net):
    _, net = keras_and_net
    chars = "abcdefghijk"
    full = "".join(p[0] for p in generate(net, np.array([0]), SampleOptions(length=300, seed=1), chars))
    stop = full[100:102]
    cut = "".join(p[0] for p in generate(net, np.array([0]), SampleOptions(length=300, seed=1, stop=stop), chars))
    assert cut == full[: full.index(stop)]
