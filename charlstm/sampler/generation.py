"""The `generate` command's input and output around the sampler (`sampling.sample_steps`).

`prepare_prime` reads the prime (`usertext.prepare_text`: case, unknown characters);
`stream` writes the sampled text as it comes (one sample), or whole samples and JSON
lines at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TextIO

from charlstm.checkpoint import CheckpointMeta
from charlstm.options import SampleOptions
from charlstm.sampler.network import Network
from charlstm.sampler.sampling import sample_steps
from charlstm.text.corpus import Vocabulary
from charlstm.text.usertext import prepare_text


def prepare_prime(
    prime: str | None, ckpt: CheckpointMeta, vocab: Vocabulary, on_unknown: str, warn: Callable[[str], None]
) -> str:
    """The prime to feed: the stored excerpt when none is given, else `usertext.prepare_text`'s reading of it."""
    if prime is None:
        return ckpt.prime_excerpt or vocab.chars[0]
    return prepare_text(prime, vocab, ckpt.training.lowercase, on_unknown, what="prime", warn=warn).text


class _Streamer:
    """Writes text as it comes, flushing at most every 50 ms (and at once for the first)."""

    def __init__(self, out: TextIO, interval: float = 0.05):
        self.out, self.interval, self.last = out, interval, None

    def write(self, text: str) -> None:
        if not text:
            return
        self.out.write(text)
        now = time.monotonic()
        if self.last is None or now - self.last >= self.interval:
            self.out.flush()
            self.last = now


def stream(
    net: Network,
    vocab: Vocabulary,
    prime: str,
    opts: SampleOptions,
    out: TextIO,
    as_json: bool = False,
) -> None:
    """Generate and write.

    One plain-text sample streams as it is made and keeps nothing (memory stays
    flat for any --length); several samples, or JSON, are written whole at the end.
    """
    prime_ids = vocab.encode(prime)
    steps = sample_steps(net, prime_ids, opts, vocab.chars)
    if opts.num_samples == 1 and not as_json:
        w = _Streamer(out)
        if opts.echo_prime:
            w.write(prime)
        for (piece,) in steps:
            w.write(piece)
        out.write("\n")
        out.flush()
        return
    parts = [[] for _ in range(opts.num_samples)]
    for pieces in steps:
        for p, piece in zip(parts, pieces):
            p.append(piece)
    for k, p in enumerate(parts):
        i, text = opts.sample_index + k, "".join(p)
        if as_json:
            out.write(
                json.dumps(
                    {"sample": i, "seed": opts.seed, "prime": prime, "text": text, "temperature": opts.temperature},
                    ensure_ascii=False,
                )
                + "\n"
            )
        else:
            if opts.num_samples > 1:
                out.write(f"----- sample {i} (seed {opts.seed}) -----\n")
            out.write((prime if opts.echo_prime else "") + text + "\n")
        out.flush()
