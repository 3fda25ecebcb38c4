"""Bits per char of a text under a model, state carried across the whole text."""

from __future__ import annotations

import math

import numpy as np

from charlstm.sampler.network import Network, Stepper
from charlstm.text.corpus import Vocabulary
from charlstm.text.usertext import prepare_text


def nll_per_char(net: Network, ids: np.ndarray, block: int = 1024) -> np.ndarray:
    """-ln p(ids[t+1] | ids[:t+1]) for every t, shape (len(ids)-1,), in nats.

    One stream with the state carried (no window boundaries); log-softmax is done
    per block of steps so the per-char Python work is just the (buffered) network step.
    """
    n = len(ids) - 1
    out = np.empty(max(n, 0), np.float64)
    stepper = Stepper(net, net.zero_state(1))
    logits_buf = np.empty((block, net.vocab_size), np.float32)
    for lo in range(0, n, block):
        hi = min(lo + block, n)
        for t in range(lo, hi):
            logits_buf[t - lo] = stepper.step(ids[t : t + 1])[0]
        z = logits_buf[: hi - lo].astype(np.float64)
        m = z.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
        out[lo:hi] = lse - z[np.arange(hi - lo), ids[lo + 1 : hi + 1]]
    return out


def evaluate_text(net: Network, vocab: Vocabulary, text: str, lowercase: bool = False) -> dict:
    """Scores `text` read by `usertext.prepare_text`: characters outside the vocabulary are dropped and counted."""
    prepared = prepare_text(text, vocab, lowercase, on_unknown="skip", allow_empty=True)
    text = prepared.text
    ids = vocab.encode(text)
    nll = nll_per_char(net, ids)
    nats = float(nll.mean()) if nll.size else float("nan")
    return {
        "bits_per_char": nats / math.log(2),
        "nats_per_char": nats,
        "perplexity": math.exp(nats) if nll.size else float("nan"),
        "chars": int(nll.size),
        "unknown_chars": prepared.dropped,
        "unknown": prepared.unknown,
    }
