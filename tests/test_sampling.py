"""The NumPy stateful sampler against the Keras model, and the sampling controls."""

import numpy as np
import pytest

from charlstm.config import ModelConfig
from charlstm.options import SampleOptions
from charlstm.sampler.network import Network, Stepper, load_network
from charlstm.sampler.sampling import _PickOne, pick, sample_steps


def _random_model(layers: int):
    from charlstm.training import model as model_lib

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
    from charlstm.training import model as model_lib

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
        np.testing.assert_allclose(net.sequence_probs(ids[i : i + 1])[0], batched[i], atol=1e-6)


def test_trained_checkpoint_sampler_matches_keras(trained_run):
    from charlstm.training.model import load_keras_model

    ckpt, net = load_network(trained_run / "best.keras")
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
    batch = ["".join(p) for p in zip(*sample_steps(net, prime, SampleOptions(length=60, seed=9, num_samples=4), chars))]
    for i, text in enumerate(batch):
        # sample i alone: same seed, the i-th stream
        opts = SampleOptions(length=60, seed=9, num_samples=i + 1)
        alone = ["".join(p) for p in zip(*sample_steps(net, prime, opts, chars))][i]
        assert alone == text
    assert len(set(batch)) > 1


def test_stop_string_ends_sample_and_is_not_emitted(keras_and_net):
    _, net = keras_and_net
    chars = "abcdefghijk"
    full = "".join(p[0] for p in sample_steps(net, np.array([0]), SampleOptions(length=300, seed=1), chars))
    stop = full[100:102]
    cut = "".join(p[0] for p in sample_steps(net, np.array([0]), SampleOptions(length=300, seed=1, stop=stop), chars))
    assert cut == full[: full.index(stop)]


# --- the buffered fast path against the plain allocating one -------------------------------

CHARS = "abcdefghijk"


def _numpy_net(cell: str = "lstm", layers: int = 2, units: int = 12, vocab: int = 11, seed: int = 0) -> Network:
    """A random network built straight from named arrays (no Keras), weights large enough that every gate matters."""
    g = {"lstm": 4, "gru": 3}[cell]
    rng = np.random.default_rng(seed)
    w = {
        "embedding/embeddings": rng.normal(0, 1.0, (vocab, 5)),
        "softmax/kernel": rng.normal(0, 1.5, (units, vocab)),
        "softmax/bias": rng.normal(0, 0.5, vocab),
    }
    for i in range(1, layers + 1):
        w[f"rnn_{i}/kernel"] = rng.normal(0, 0.6, (5 if i == 1 else units, g * units))
        w[f"rnn_{i}/recurrent_kernel"] = rng.normal(0, 0.6, (units, g * units))
        w[f"rnn_{i}/bias"] = rng.normal(0, 0.3, (2, g * units) if cell == "gru" else g * units)
    return Network(w, ModelConfig(vocab_size=vocab, cell=cell, layers=layers, units=units, embedding_dim=5))


def _reference_samples(net: Network, prime: np.ndarray, opts: SampleOptions) -> list[str]:
    """The sampler as it was before the fast path: allocating `Network.step`, general `pick`."""
    n = opts.num_samples
    logits, state = net.feed(prime[None, :], net.zero_state(1))
    state = [tuple(np.repeat(a, n, axis=0) for a in s) for s in state]
    logits = np.repeat(logits, n, axis=0)
    rngs = [np.random.default_rng([opts.seed, i]) for i in range(opts.sample_index, opts.sample_index + n)]
    u = np.stack([r.random(opts.length) for r in rngs], axis=1)  # (length, n): the same streams
    texts = [""] * n
    for t in range(opts.length):
        ids = pick(logits, u[t], opts.temperature, opts.top_k, opts.top_p)
        texts = [s + CHARS[i] for s, i in zip(texts, ids)]
        logits, state = net.step(ids, state)
    return texts


@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("lstm", 3), ("lstm", 1), ("gru", 2)])
def test_stepper_logits_are_bit_identical_to_network_step(cell, layers):
    net = _numpy_net(cell, layers)
    ids = np.random.default_rng(5).integers(0, 11, size=(200, 3))
    state = net.zero_state(3)
    stepper = Stepper(net, state)
    for t in range(len(ids)):
        want, state = net.step(ids[t], state)
        np.testing.assert_array_equal(stepper.step(ids[t]), want)
    for got, want in zip(stepper.state(), state):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("temperature", [1.0, 0.6, 1.7])
def test_pick_one_chooses_the_same_id_as_pick(temperature):
    rng = np.random.default_rng(11)
    fast = _PickOne(11, temperature)
    for _ in range(2000):
        logits = (rng.normal(0, 4, (1, 11))).astype(np.float32)
        u = rng.random(1)
        assert fast(logits[0], float(u[0])) == pick(logits, u, temperature)[0]
    # u exactly on a CDF step (uniform logits: cdf = 1, 2, 3, 4 exactly): both take the same side
    logits = np.zeros((1, 4), np.float32)
    for u in (0.0, 0.25, 0.5, 0.75, 0.999999):
        assert _PickOne(4, 1.0)(logits[0], u) == pick(logits, np.array([u]), 1.0)[0]


@pytest.mark.parametrize("seed", [0, 1, 42])
@pytest.mark.parametrize(
    "temperature,top_k,top_p",
    [
        (1.0, None, None),
        (0.5, None, None),
        (1.4, None, None),
        (0.0, None, None),
        (1.0, 4, None),
        (0.8, None, 0.7),
        (1.0, 11, 1.0),
    ],
)
@pytest.mark.parametrize("num_samples", [1, 3])
def test_sampled_text_is_byte_identical_to_the_reference(seed, temperature, top_k, top_p, num_samples):
    net = _numpy_net("lstm", 2, seed=seed)
    opts = SampleOptions(
        length=150,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        num_samples=num_samples,
        sample_index=seed % 2,
    )
    prime = np.array([3, 1, 4, 1, 5])
    got = ["".join(p) for p in zip(*sample_steps(net, prime, opts, CHARS))]
    want = _reference_samples(net, prime, opts)
    assert got == want
    assert len(set(want[0])) > 1 or temperature == 0  # the test draws varied text, not one repeated char


def test_sampled_text_is_byte_identical_to_the_reference_for_other_cells():
    net = _numpy_net("gru", 2)
    opts = SampleOptions(length=120, temperature=0.9, seed=3)
    prime = np.array([2, 7])
    assert ["".join(p[0] for p in sample_steps(net, prime, opts, CHARS))] == _reference_samples(net, prime, opts)


def test_nll_per_char_matches_the_plain_step():
    from charlstm.sampler.evaluation import nll_per_char

    net = _numpy_net("lstm", 2)
    ids = np.random.default_rng(8).integers(0, 11, size=300)
    probs = net.sequence_probs(ids[None, :-1])[0]  # (time, vocab), the allocating step
    want = -np.log(probs[np.arange(len(ids) - 1), ids[1:]])
    np.testing.assert_allclose(nll_per_char(net, ids, block=64), want, rtol=1e-5)


def test_vocab_size_is_the_softmax_width():
    assert _numpy_net(vocab=7).vocab_size == 7


def test_an_empty_prime_is_refused():
    from charlstm.errors import UsageError

    with pytest.raises(UsageError, match="prime is empty"):
        next(sample_steps(_numpy_net(), np.array([], np.intp), SampleOptions(length=5), CHARS))
