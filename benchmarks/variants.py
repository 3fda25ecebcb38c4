"""The five recurrent cells at about equal parameter count, under equal wall-clock budgets.

Every cell gets two stacked layers; its units are chosen so that its trainable
parameter count is as close as possible to that of a 2-layer LSTM with --units U.
Each (corpus, cell) run is one `charlstm train` subprocess (a fresh process, so no
run inherits another's memory or compiled graphs) stopped by --max-time; the table
reports the best held-out bits/char it reached, its training speed and how many
epochs it got through.

    python benchmarks/variants.py                       # both corpora, all cells, 60 s each
    python benchmarks/variants.py --budget 300 --units 256
    python benchmarks/variants.py --corpora macbeth --cells lstm,cifg --budget 10

Corpora: macbeth (lower-cased) and tinyshakespeare (case kept), read from
../shared/corpora next to the repository.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA_DIR = ROOT / ".." / "shared" / "corpora"
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

CELLS = ("lstm", "gru", "peephole", "cifg", "rnn")
CORPORA = {  # name: (file, lowercase)
    "macbeth": ("macbeth.txt", True),
    "tinyshakespeare": ("tinyshakespeare.txt", False),
}
LAYERS = 2
EMBEDDING_DIM = 64  # the CLI's default; passed explicitly so the count below stays right


def layer_params(cell: str, input_dim: int, units: int) -> int:
    """Trainable parameters of one recurrent layer (Keras's layouts, as in charlstm.sampler.equations)."""
    gates = {"lstm": 4, "peephole": 4, "cifg": 3, "gru": 3, "rnn": 1}[cell]
    n = gates * units * (input_dim + units)  # kernel + recurrent_kernel
    n += gates * units * (2 if cell == "gru" else 1)  # bias (GRU reset_after: input + recurrent)
    if cell == "peephole":
        n += 3 * units  # diagonal peephole weights
    return n


def model_params(cell: str, units: int, vocab: int, layers: int = LAYERS, embedding_dim: int = EMBEDDING_DIM) -> int:
    """Trainable parameters of charlstm.training.model.build for this configuration."""
    n = vocab * embedding_dim  # embedding table
    in_dim = embedding_dim
    for _ in range(layers):
        n += layer_params(cell, in_dim, units)
        in_dim = units
    return n + units * vocab + vocab  # softmax


def matched_units(cell: str, target: int, vocab: int) -> int:
    """The units whose parameter count is closest to `target` (ties: fewer units)."""
    return min(range(1, 8 * 1024), key=lambda u: (abs(model_params(cell, u, vocab) - target), u))


def vocab_size(path: Path, lowercase: bool) -> int:
    from charlstm.text.corpus import Vocabulary, read_corpus

    return len(Vocabulary.from_text(read_corpus([str(path)], lowercase)))


def train_once(path: Path, lowercase: bool, cell: str, units: int, budget: float, seed: int, extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="charlstm-variants-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "charlstm",
            "train",
            str(path),
            "--cell",
            cell,
            "--layers",
            str(LAYERS),
            "--units",
            str(units),
            "--embedding-dim",
            str(EMBEDDING_DIM),
            "--max-time",
            str(budget),
            "--checkpoint-dir",
            str(Path(tmp) / "run"),
            "--json",
            "--quiet",
            "--sample-every",
            "0",
            "--patience",
            "0",
            "--seed",
            str(seed),
            *(["--lowercase"] if lowercase else []),
            *extra,
        ]
        t0 = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        wall = time.monotonic() - t0
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        return {"error": f"exit {proc.returncode}: {tail}", "wall_s": wall}
    lines = [l for l in proc.stdout.splitlines() if l.strip().startswith("{")]
    summary = json.loads(lines[-1])
    summary["wall_s"] = wall
    return summary


def _fmt(x, spec):
    return "-" if x is None else format(x, spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--budget", type=float, default=60.0, help="seconds of training per run (--max-time)")
    ap.add_argument(
        "--units", type=int, default=128, help="units of the 2-layer LSTM whose parameter count every cell matches"
    )
    ap.add_argument("--corpora", default=",".join(CORPORA), help=f"comma-separated subset of {','.join(CORPORA)}")
    ap.add_argument("--cells", default=",".join(CELLS), help=f"comma-separated subset of {','.join(CELLS)}")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dry-run", action="store_true", help="print the matched units and parameter counts only")
    ap.add_argument(
        "--train-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument passed to `charlstm train` (repeatable), e.g. --train-arg=--no-jit",
    )
    args = ap.parse_args(argv)

    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    for c in corpora:
        if c not in CORPORA:
            ap.error(f"unknown corpus {c!r}: choose from {', '.join(CORPORA)}")
    for c in cells:
        if c not in CELLS:
            ap.error(f"unknown cell {c!r}: choose from {', '.join(CELLS)}")

    rows = []
    for corpus in corpora:
        fname, lowercase = CORPORA[corpus]
        path = (CORPORA_DIR / fname).resolve()
        if not path.is_file():
            ap.error(f"{path} not found")
        vocab = vocab_size(path, lowercase)
        target = model_params("lstm", args.units, vocab)
        print(
            f"{corpus}: vocabulary {vocab}; target {target:,} parameters (2-layer LSTM, {args.units} units)",
            file=sys.stderr,
        )
        plan = [(cell, matched_units(cell, target, vocab)) for cell in cells]
        for cell, units in plan:
            n = model_params(cell, units, vocab)
            print(
                f"  {cell:9s} {units:5d} units  {n:9,d} params ({100 * (n - target) / target:+.2f}%)", file=sys.stderr
            )
        if args.dry_run:
            continue
        for cell, units in plan:
            print(f"training {corpus} / {cell} ({units} units) for {args.budget:g} s ...", file=sys.stderr, flush=True)
            r = train_once(path, lowercase, cell, units, args.budget, args.seed, args.train_arg)
            if "error" in r:
                print(f"  FAILED {r['error']}", file=sys.stderr)
            else:
                print(
                    f"  {r['val_bits_per_char']:.3f} bits/char, {r['train_chars_per_s']:,.0f} chars/s, "
                    f"{r['epochs']:.2f} epochs ({r['stopped']}), {r['wall_s']:.0f} s wall",
                    file=sys.stderr,
                )
            rows.append((corpus, cell, units, model_params(cell, units, vocab), r))

    if args.dry_run:
        return 0
    print(
        f"\nBudget {args.budget:g} s per run; 2 layers; parameters matched to a 2-layer "
        f"LSTM of {args.units} units; seed {args.seed}.\n"
    )
    print("| corpus | cell | units | params | held-out bits/char | train chars/s | epochs |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for corpus, cell, units, n, r in rows:
        if "error" in r:
            print(f"| {corpus} | {cell} | {units} | {n:,} | failed | - | - |")
            continue
        print(
            f"| {corpus} | {cell} | {units} | {n:,} | {_fmt(r['val_bits_per_char'], '.3f')} | "
            f"{_fmt(r['train_chars_per_s'], ',.0f')} | {_fmt(r['epochs'], '.2f')} |"
        )
    return 1 if any("error" in r for *_, r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
