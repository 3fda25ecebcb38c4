"""The `generate` command's input and output around the sampler (`sampling.sample_steps`).

`prepare_prime` checks and case-folds the prime; `stream` writes the sampled text as
it comes (one sample), or whole samples and JSON lines at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TextIO

from charlstm.checkpoint import Checkpoint
from charlstm.corpus import Vocabulary, describe_chars, normalize_newlines
from charlstm.errors import VocabularyError
from charlstm.options import SampleOptions
from charlstm.sampling import Network, sample_steps


def prepare_prime(
    prime: str | None, ckpt: Checkpoint, vocab: Vocabulary, on_unknown: str, warn: Callable[[str], None]
) -> str:
    """The prime to feed: the stored excerpt when none is given, case-folded like training."""
    if prime is None:
        return ckpt.prime_excerpt or vocab.chars[0]
    prime = normalize_newlines(prime)
    if ckpt.training.lowercase:
        prime = prime.lower()  # the model only ever saw lower case
    missing = vocab.unknown(prime)
    if not missing:
        return prime
    if on_unknown == "skip":
        kept = "".join(c for c in prime if c not in set(missing))
        warn(f"dropped {len(missing)} prime character(s) not in the vocabulary: {describe_chars(missing)}")
        if not kept:
            raise VocabularyError("no character of the prime is in the model's vocabulary")
        return kept
    hint = ""
    if all(c.swapcase() in vocab.chars for c in missing if c.swapcase() != c) and any(
        c.swapcase() != c for c in missing
    ):
        hint = (
            " (the vocabulary has these letters in the other case: change the prime's case, "
            "or train with --lowercase so case never matters)"
        )
    raise VocabularyError(
        f"the prime has {len(missing)} character(s) not in the model's vocabulary: "
        f"{describe_chars(missing)}{hint}; use --on-unknown skip to drop them"
    )


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
