"""Shared test data and helpers (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"

TINY_TEXT = ("the cat sat on the mat.\nthe dog sat on the log.\na cat and a dog met on a mat by a log.\n") * 40

TINY_TRAIN_ARGS = [
    "--units",
    "16",
    "--layers",
    "1",
    "--embedding-dim",
    "8",
    "--seq-length",
    "20",
    "--batch-size",
    "16",
    "--epochs",
    "2",
    "--seed",
    "7",
    "--sample-every",
    "0",
    "--no-jit",
]


def invoke(runner, *args, input=None):
    """Run the CLI in-process with CliRunner; every argument is str()-ed (Paths welcome)."""
    from charlstm.cli import main

    return runner.invoke(main, [str(a) for a in args], input=input)


def prepare(text: str, seed: int, vocabulary: str | None = None):
    """`text` (already read and case-folded) encoded in memory as a `charlstm.runplan.Corpus`:
    the reference the streamed `charlstm.idfile.encode_corpus` is checked against, and the
    quick way to a corpus in tests. `vocabulary` is a resumed checkpoint's: the text must
    not bring new characters."""
    from charlstm.corpus import Vocabulary, describe_chars, prime_excerpt
    from charlstm.errors import CorpusError
    from charlstm.runplan import Corpus

    found = Vocabulary.from_text(text)
    if vocabulary is None:
        vocab = found
    else:
        vocab = Vocabulary(vocabulary)
        missing = "".join(sorted(set(found.chars) - set(vocabulary)))
        if missing:
            raise CorpusError(
                f"the corpus has {len(missing)} character(s) the checkpoint's vocabulary lacks: "
                f"{describe_chars(missing)}; resume only on text made of the same characters"
            )
    return Corpus(vocab.encode(text), vocab, prime_excerpt(text, seed))
