"""A checkpoint ready to sample from, and the `generate` command's output around the sampler.

`Sampler.request` is the one place a prime becomes ids (`usertext.prepare_text`: case,
unknown characters; the stored excerpt when none is given): `charlstm generate`, the
Python API and the server's requests all go through it, so a prime is read and refused
alike everywhere. `stream` writes the sampled text as it comes (one sample), or whole
samples and JSON lines at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TextIO

import numpy as np

from charlstm.checkpoint import CheckpointMeta
from charlstm.errors import UsageError
from charlstm.options import SampleOptions
from charlstm.sampler.items import ItemDraw
from charlstm.sampler.network import Network
from charlstm.sampler.sampling import SampleRequest, sample_steps
from charlstm.text.corpus import Vocabulary
from charlstm.text.items import NEWLINE, ItemRecord
from charlstm.text.usertext import prepare_text


class Sampler:
    """A trained checkpoint's metadata and vocabulary, its NumPy network read on first use (no TensorFlow)."""

    def __init__(self, checkpoint: CheckpointMeta):
        self.checkpoint = checkpoint  # the metadata: configs, vocabulary, history
        self.vocabulary = Vocabulary(checkpoint.vocabulary)

    @property
    def path(self) -> Path:
        return self.checkpoint.path

    @cached_property
    def network(self) -> Network:
        """The NumPy network (`charlstm.network.Network`), read from the checkpoint on first use."""
        from charlstm.sampler.network import load_network

        _, net = load_network(self.path)
        return net

    def request(
        self, options: SampleOptions, warn: Callable[[str], None] | None = None, stops: tuple[str, ...] | None = None
    ) -> SampleRequest:
        """The request `options` make of this checkpoint: the prime read and encoded, the seed drawn if none.

        The prime, case-folded like training, or the stored excerpt when it is None;
        characters outside the vocabulary are refused (VocabularyError) or, with
        on_unknown "skip", dropped with `warn(message)`. `stops`: several stop strings
        (the server's), instead of `options.stop`.
        """
        options = options.resolved()
        text = self._prime_text(options, warn)
        ids = self.vocabulary.encode(text)
        if self.is_item_model:  # an item starts after its start symbol: the prime is the start of an item
            ids = np.concatenate([self.vocabulary.encode(NEWLINE), ids])
        return SampleRequest(options, ids, text, stops)

    def _prime_text(self, options: SampleOptions, warn) -> str:
        return prepare_prime(options.prime, self.checkpoint, self.vocabulary, options.on_unknown, warn)

    @property
    def is_item_model(self) -> bool:
        """Trained with --items: each line one item, learned from the start state."""
        return bool(self.checkpoint.training.items)

    @cached_property
    def item_record(self) -> ItemRecord | None:
        """The training list (`--novel` checks against it); None for a text model."""
        from charlstm.sampler.items import record_of

        return record_of(self.checkpoint.extra)

    def draw_items(self, options: SampleOptions, count: int, *, novel=False, unique=False, warn=None) -> ItemDraw:
        """`count` whole items drawn as one batch (`sampler/items.py`); options: prime, seed, temperature,
        top_k, top_p, on_unknown (the prime is the start of every item; none: items from scratch)."""
        from charlstm.sampler.items import LENGTH_SLACK, sample_items

        if NEWLINE not in self.vocabulary.chars:
            raise UsageError("--items: this model's vocabulary has no newline, so it cannot end an item")
        if options.prime is not None and NEWLINE in options.prime.replace("\r", NEWLINE):
            raise UsageError("--items: the prime is the start of every item and cannot hold a newline", param="prime")
        if novel and self.item_record is None:
            raise UsageError(
                "--novel needs an item model (trained with --items); this checkpoint has no training list",
                param="novel",
            )
        opts = options.resolved()
        text = "" if opts.prime is None else self._prime_text(opts, warn)
        ids = np.concatenate([self.vocabulary.encode(NEWLINE), self.vocabulary.encode(text)])
        longest = self.item_record.longest if self.item_record is not None else 500
        return sample_items(
            self.network,
            self.vocabulary.chars,
            ids,
            count,
            prime_text=text,
            record=self.item_record,
            novel=novel,
            unique=unique,
            seed=opts.seed,
            temperature=opts.temperature,
            top_k=opts.top_k,
            top_p=opts.top_p,
            max_length=2 * longest + LENGTH_SLACK,
        )


def prepare_prime(
    prime: str | None, ckpt: CheckpointMeta, vocab: Vocabulary, on_unknown: str, warn: Callable[[str], None] | None
) -> str:
    """The prime to feed: the stored excerpt when none is given, else `usertext.prepare_text`'s reading of it."""
    if prime is None:  # an item model's excerpt is empty: its items start from the start symbol alone
        return ckpt.prime_excerpt or ("" if ckpt.training.items else vocab.chars[0])
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


def stream(net: Network, chars: str, request: SampleRequest, out: TextIO, as_json: bool = False) -> None:
    """Generate and write.

    One plain-text sample streams as it is made and keeps nothing (memory stays
    flat for any --length); several samples, or JSON, are written whole at the end.
    """
    opts, prime = request.options, request.prime_text
    steps = sample_steps(net, request, chars)
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
