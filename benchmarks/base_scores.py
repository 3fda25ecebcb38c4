"""Base models side by side on issue 29's held-out texts, the corpus's tail split by source.

    python benchmarks/base_scores.py MODEL [MODEL ...] [--val-chars 1000000] [--json]

MODEL: a checkpoint file, or `base` for the bundled one; the first is compared with each
other (e.g. the previous release from git: `git show REV:charlstm/models/base.keras > old.keras`).
Scores, nats/char with the state carried through each text (`charlstm eval`'s NumPy scorer):
- held-out: the english corpus's validation slice as `train` splits it (`--val-fraction 0.1`,
  the first 1,000,000 chars of the last 10%), the base's own validation and issue 29's
  "held-out tail"; and the same per-char losses averaged over each source's characters
  (which source each character came from is rebuilt from the pinned sources, as
  `charlstm corpus fetch english` assembles them, and checked against the corpus's sha256);
- plays: the last 50,000 chars of the 13 Shakespeare plays the corpus leaves out
  (benchmarks/finetune.py's held-out slice);
- macbeth: Macbeth's chars 20,000-25,000 (tests/test_bundled_base.py's excerpt).
One process, one core, no TensorFlow; ~2 minutes a model for the 1M-char slice.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import CORPORA, ROOT

sys.path.insert(0, str(ROOT))

VAL_FRACTION = 0.1  # train's default, the base's split
PLAYS_CHARS = 50_000  # finetune.py's --held-out-chars
MACBETH_SLICE = (20_000, 25_000)  # tests/test_bundled_base.py


def source_labels(corpus: str, workdir: Path) -> tuple[list[str], np.ndarray]:
    """(source names, the index of the source of every character of `corpus`)."""
    from charlstm.catalog import english
    from charlstm.catalog.english_sources import SOURCES

    documents = {}
    for source in SOURCES:
        _, members = english.source_members(source, workdir)
        documents[source.name] = source.clean({p: members[p] for p in source.members})
    streams = {name: english.source_chunks(docs) for name, docs in documents.items()}
    names = list(streams)
    labels = np.empty(len(corpus), np.int8)
    at = 0
    for name, piece in english.interleave(streams):
        if corpus[at : at + len(piece)] != piece:
            sys.exit("the rebuilt chunks do not match the corpus: is it the pinned english.txt?")
        labels[at : at + len(piece) + 2] = names.index(name)  # its separator counted with it
        at += len(piece) + 2
    return names, labels


def texts(val_chars: int, workdir: Path) -> dict:
    from finetune import texts as finetune_texts  # the left-out plays, as the fine-tune benchmark reads them

    from charlstm.catalog import fetch
    from charlstm.text.corpus import read_corpus

    corpus = read_corpus([str(fetch.fetch("english", ROOT / "corpora"))])  # where make demo and train_base.sh put it
    n_val = int(round(len(corpus) * VAL_FRACTION))
    start = len(corpus) - n_val
    val = corpus[start : start + val_chars]
    names, labels = source_labels(corpus, workdir)
    plays, macbeth_path = finetune_texts(None, workdir)
    macbeth = (CORPORA / "macbeth.txt") if (CORPORA / "macbeth.txt").exists() else macbeth_path
    return {
        "held_out": val,
        "labels": labels[start + 1 : start + len(val)],  # of each predicted character
        "sources": names,
        "plays": plays[-PLAYS_CHARS:],
        "macbeth": read_corpus([str(macbeth)])[slice(*MACBETH_SLICE)],
    }


def scores(model: str, t: dict) -> dict:
    import charlstm
    from charlstm.sampler.evaluation import nll_per_char

    m = charlstm.load(model)
    ids = m.vocabulary.encode(t["held_out"])  # the corpus is inside every base's vocabulary
    nll = nll_per_char(m.network, ids)
    out = {"held_out": float(nll.mean())}
    for i, name in enumerate(t["sources"]):
        mask = t["labels"] == i
        out[f"held_out:{name}"] = float(nll[mask].mean()) if mask.any() else float("nan")
    out["plays"] = m.evaluate(text=t["plays"])["nats_per_char"]
    out["macbeth"] = m.evaluate(text=t["macbeth"])["nats_per_char"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--val-chars", type=int, default=1_000_000, help="of the held-out slice (a check: fewer)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout instead of the table")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t = texts(args.val_chars, Path(tmp))
    shares = {n: float((t["labels"] == i).mean()) for i, n in enumerate(t["sources"])}
    results = {m: scores(m, t) for m in args.models}
    if args.json:
        print(json.dumps({"source_shares": shares, "scores": results}))
        return
    rows = list(next(iter(results.values())))
    first = args.models[0]
    header = ["text (nats/char)", *args.models, *[f"{first} − {m}" for m in args.models[1:]]]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        label = r if not r.startswith("held_out:") else f"held-out, {r[9:]} ({shares[r[9:]]:.0%})"
        cells = [f"{results[m][r]:.4f}" for m in args.models]
        cells += [f"{results[first][r] - results[m][r]:+.4f}" for m in args.models[1:]]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
