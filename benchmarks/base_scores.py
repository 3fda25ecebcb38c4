"""Base models side by side on the panel of unseen text, issue 29's held-out texts, the corpora's tails.

    python benchmarks/base_scores.py MODEL [MODEL ...] [--held-out english,english-classic]
                                     [--val-chars 1000000] [--json]

MODEL: a checkpoint file, or `base` for the bundled one; the first is compared with each
other (e.g. the previous release from git: `git show REV:charlstm/models/base.keras > old.keras`).
Scores, nats/char with the state carried through each text (`charlstm eval`'s NumPy scorer):
- panel: each kind of unseen text of `charlstm/catalog/panel.py` (20K-50K chars each, pinned
  registry packages, none of it in the corpus), scored whole by the base alone, and their mean;
  characters outside a model's vocabulary are dropped and counted (`--json` has the counts);
- held-out (`--held-out`, one row per corpus named; `--held-out ""` skips them): the corpus's
  validation slice as `train` splits it (`--val-fraction 0.1`,
  the first 1,000,000 chars of the last 10%), the base's own validation and issue 29's
  "held-out tail"; and the same per-char losses averaged over each source's characters
  (which source each character came from is rebuilt from the pinned sources, as
  `charlstm corpus fetch english` assembles them, and checked against the corpus's sha256);
- plays: the last 50,000 chars of the 13 Shakespeare plays the corpus leaves out
  (benchmarks/finetune.py's held-out slice);
- macbeth: Macbeth's chars 20,000-25,000 (tests/test_bundled_base.py's excerpt).
One process, one core, no TensorFlow; the panel ~30 s a model, ~2 minutes for each 1M-char slice.
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


def source_labels(corpus: str, name: str, workdir: Path) -> tuple[list[str], np.ndarray]:
    """(source names, the index of the source of every character of `corpus`, the corpus `name`)."""
    from charlstm.catalog import english

    sources = english.corpus(name)[0]
    documents = {}
    archives: dict = {}
    for source in sources:
        _, members = english.source_members(source, workdir, archives)
        documents[source.name] = source.clean({p: d for p, d in members.items() if p not in source.references})
    streams = {n: english.source_chunks(docs) for n, docs in documents.items()}
    ordered = english.interleave(streams)
    table = english.rare_table("\n\n".join(p for _, p in ordered) + "\n", english.MIN_CHAR_COUNT)
    table = table if name == "english" else {}
    names = list(streams)
    labels = np.empty(len(corpus), np.int8)
    at = 0
    for source, piece in ordered:
        piece = piece.translate(table)
        if corpus[at : at + len(piece)] != piece:
            sys.exit(f"the rebuilt chunks do not match the corpus: is it the pinned {name}.txt?")
        labels[at : at + len(piece) + 2] = names.index(source)  # its separator counted with it
        at += len(piece) + 2
    return names, labels


def held_out(name: str, val_chars: int, workdir: Path) -> dict:
    """The corpus's validation slice as `train` splits it, and the source of each predicted char."""
    from charlstm.catalog import fetch
    from charlstm.text.corpus import read_corpus

    corpus = read_corpus([str(fetch.fetch(name, ROOT / "corpora"))])  # where make demo and train_base.sh put it
    n_val = int(round(len(corpus) * VAL_FRACTION))
    start = len(corpus) - n_val
    val = corpus[start : start + val_chars]
    names, labels = source_labels(corpus, name, workdir)
    return {"text": val, "labels": labels[start + 1 : start + len(val)], "sources": names}


def texts(corpora: list[str], val_chars: int, workdir: Path) -> dict:
    from finetune import texts as finetune_texts  # the left-out plays, as the fine-tune benchmark reads them

    from charlstm.catalog import panel
    from charlstm.text.corpus import read_corpus

    plays, macbeth_path = finetune_texts(None, workdir)
    macbeth = (CORPORA / "macbeth.txt") if (CORPORA / "macbeth.txt").exists() else macbeth_path
    return {
        "panel": panel.load(workdir),
        "held_out": {name: held_out(name, val_chars, workdir) for name in corpora},
        "plays": plays[-PLAYS_CHARS:],
        "macbeth": read_corpus([str(macbeth)])[slice(*MACBETH_SLICE)],
    }


def scores(model: str, t: dict) -> tuple[dict, dict]:
    """(row -> nats/char, row -> characters outside the model's vocabulary dropped)."""
    import charlstm
    from charlstm.sampler.evaluation import nll_per_char

    m = charlstm.load(model)
    out, unknown = {}, {}
    for kind, text in t["panel"].items():
        r = m.evaluate(text=text)
        out[f"panel:{kind}"], unknown[f"panel:{kind}"] = r["nats_per_char"], r["unknown_chars"]
    out["panel mean"] = float(np.mean([out[f"panel:{k}"] for k in t["panel"]]))
    for name, h in t["held_out"].items():
        key = f"held-out {name}"
        known = all(ch in m.vocabulary.chars for ch in set(h["text"]))
        if not known:  # dropped characters: charlstm eval's figure, no split by source (ids would not line up)
            r = m.evaluate(text=h["text"])
            out[key], unknown[key] = r["nats_per_char"], r["unknown_chars"]
            continue
        nll = nll_per_char(m.network, m.vocabulary.encode(h["text"]))  # one pass: the mean and each source's
        out[key], unknown[key] = float(nll.mean()), 0
        for i, source in enumerate(h["sources"]):
            mask = h["labels"] == i
            out[f"{key}: {source}"] = float(nll[mask].mean()) if mask.any() else float("nan")
    out["plays"] = m.evaluate(text=t["plays"])["nats_per_char"]
    out["macbeth"] = m.evaluate(text=t["macbeth"])["nats_per_char"]
    return out, unknown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--held-out", default="english,english-classic", help="corpora whose tail to score ('' none)")
    ap.add_argument("--val-chars", type=int, default=1_000_000, help="of the held-out slice (a check: fewer)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout instead of the table")
    args = ap.parse_args()
    corpora = [c for c in args.held_out.split(",") if c]
    with tempfile.TemporaryDirectory() as tmp:
        t = texts(corpora, args.val_chars, Path(tmp))
    results, unknown = {}, {}
    for m in args.models:
        results[m], unknown[m] = scores(m, t)
    if args.json:
        chars = {k: len(v) for k, v in t["panel"].items()}
        print(json.dumps({"panel_chars": chars, "scores": results, "unknown_chars": unknown}))
        return
    rows = [r for r in results[args.models[0]] if all(r in results[m] for m in args.models)]
    first = args.models[0]
    header = ["text (nats/char)", *args.models, *[f"{first} − {m}" for m in args.models[1:]]]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        label = f"panel: {r[6:]} ({len(t['panel'][r[6:]]):,} chars)" if r.startswith("panel:") else r
        cells = [
            f"{results[m][r]:.4f}" + (f" ({unknown[m][r]} unk.)" if unknown[m].get(r) else "") for m in args.models
        ]
        cells += [f"{results[first][r] - results[m][r]:+.4f}" for m in args.models[1:]]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
