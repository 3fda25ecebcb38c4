"""Widening a trained LSTM (scripts/widen_base.py) keeps what it computes and gives the new units a live state."""

from __future__ import annotations

import numpy as np
import pytest

from charlstm.config import ModelConfig
from charlstm.sampler.evaluation import nll_per_char
from charlstm.sampler.network import Network

from helpers import load_script


@pytest.fixture(scope="module")
def widen_base():
    return load_script("widen_base")


def random_lstm(vocab: int, emb: int, units: int, layers: int, rng) -> dict[str, np.ndarray]:
    w = {"embedding/embeddings": rng.normal(0, 1, (vocab, emb))}
    fan_in = emb
    for n in range(1, layers + 1):
        w[f"rnn_{n}/kernel"] = rng.normal(0, 0.5, (fan_in, 4 * units))
        w[f"rnn_{n}/recurrent_kernel"] = rng.normal(0, 0.5, (units, 4 * units))
        w[f"rnn_{n}/bias"] = rng.normal(0, 0.5, 4 * units)
        fan_in = units
    w["softmax/kernel"] = rng.normal(0, 1, (units, vocab))
    w["softmax/bias"] = rng.normal(0, 1, vocab)
    return {k: v.astype(np.float32) for k, v in w.items()}


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_widening_keeps_every_probability_and_the_new_units_run(widen_base, layers):
    rng = np.random.default_rng(layers)
    vocab, units, wide = 11, 6, 9
    weights = random_lstm(vocab, 5, units, layers, rng)
    ids = rng.integers(0, vocab, 400)
    config = ModelConfig(vocab_size=vocab, cell="lstm", layers=layers, units=units, embedding_dim=5, dropout=0.0)
    before = nll_per_char(Network(weights, config), ids)
    widened = widen_base.widen(weights, layers, units, wide, seed=0)
    assert widened["rnn_1/kernel"].shape == (5, 4 * wide) and widened["softmax/kernel"].shape == (wide, vocab)
    wide_config = ModelConfig(vocab_size=vocab, cell="lstm", layers=layers, units=wide, embedding_dim=5, dropout=0.0)
    after = nll_per_char(Network(widened, wide_config), ids)
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)
    # The new units have a nonzero output: weights out of them to the softmax change the scores.
    live = dict(widened)
    live["softmax/kernel"] = widened["softmax/kernel"].copy()
    live["softmax/kernel"][units:] = rng.normal(0, 1, (wide - units, vocab))
    assert np.abs(nll_per_char(Network(live, wide_config), ids) - before).max() > 1e-2
