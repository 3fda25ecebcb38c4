"""Which network a time budget should buy: budgets × texts × sizes and dropouts (issue 44).

    python benchmarks/budget_sizes.py [--cells 'tinyshakespeare:30:*' ...] [--seed 1]
                                      [--results benchmarks/budget_sizes.jsonl] [--list] [--table]

The texts are read from ../shared/corpora beside the repository (never copied in):
lowercased Macbeth (~100K chars), tinyshakespeare (~1.1M), shakespeare (~4.8M); each
trains on its first 90% and is scored on its last 10%. A cell is one `charlstm train
--max-time B` of one configuration on one text (--cells globs over `text:minutes:config`,
e.g. `macbeth:*:*` or `*:10:2x512-d0.35`); the default is every cell: 3 texts × budgets of
1, 3, 10 and 30 minutes × the configurations below, ~65 hours of two cores. Each finished
cell is appended to --results at once (one JSON object a line) and a cell already there is
skipped, so a sweep spans sessions: rerun the same command to continue. Each cell records
the held-out loss of its best checkpoint with the state carried throughout (`charlstm eval`,
char-rnn's convention), chars/s, epochs, why it stopped, and the card's speed on this machine
as `charlstm.training.sizing.probe_chars_per_s` estimates it (the rule's input).

At the end (or with --table, without training) it prints, per text and budget, every
configuration's figure, the winner, and what the rule (`sizing.choose_size`, from the probe's
speed) chooses: the rows of `sizing.SIZES` should be the winners. "auto" is the rule itself
(`--max-time` with no size option). Run it alone: it needs both cores.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPORA, ROOT, train_cmd  # beside this file
from train_speed import held_out_carried  # the same carried held-out loss

sys.path.insert(0, str(ROOT))

TEXTS = {  # name: (file under ../shared/corpora, lowercase)
    "macbeth": ("macbeth.txt", True),  # ~100K chars (93K trained)
    "tinyshakespeare": ("tinyshakespeare.txt", False),  # ~1.1M (1.0M trained)
    "shakespeare": ("shakespeare.txt", False),  # ~4.8M (4.3M trained)
}
MINUTES = (1, 3, 10, 30)
CONFIGS = {  # name: the size flags (auto: none, the rule chooses)
    "2x200-d0.2": ["--layers", "2", "--units", "200", "--dropout", "0.2"],
    "2x300-d0.2": ["--layers", "2", "--units", "300", "--dropout", "0.2"],  # the card
    # below the card: a budget of a few passes leaves the card still improving at the deadline
    # (RESULTS run 20: 2.25 passes over tinyshakespeare in 3 min on machine G), where dropout
    # only slows learning and bfloat16's speed (1.15× on a Zen 4, run 10) is more passes
    "2x300-d0": ["--layers", "2", "--units", "300", "--dropout", "0"],
    "2x300-d0.1": ["--layers", "2", "--units", "300", "--dropout", "0.1"],
    "2x300-d0.2-bf16": ["--layers", "2", "--units", "300", "--dropout", "0.2", "--mixed-precision"],
    "2x300-d0.35": ["--layers", "2", "--units", "300", "--dropout", "0.35"],
    "2x400-d0.3": ["--layers", "2", "--units", "400", "--dropout", "0.3"],
    "2x512-d0.35": ["--layers", "2", "--units", "512", "--dropout", "0.35"],
    "2x512-d0.5": ["--layers", "2", "--units", "512", "--dropout", "0.5"],
    # weight decay (AdamW) ended the 2×300's memorising of a names list (issue 43, RESULTS run 20):
    # the rule's rows may choose it too (sizing.Size.weight_decay)
    "2x300-d0.2-wd0.1": ["--layers", "2", "--units", "300", "--dropout", "0.2", "--weight-decay", "0.1"],
    "2x512-d0.35-wd0.1": ["--layers", "2", "--units", "512", "--dropout", "0.35", "--weight-decay", "0.1"],
    "auto": [],
}


def key(text: str, minutes: float, config: str) -> str:
    return f"{text}:{minutes:g}:{config}"


def load_results(path: Path) -> dict[tuple, dict]:
    """The cells done so far, by (key, seed); a torn last line (a killed sweep) is ignored."""
    done = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            done[(row["cell"], row["seed"])] = row
    return done


def probe() -> float:
    from charlstm.training.sizing import probe_chars_per_s

    return probe_chars_per_s()


def run_cell(text: str, minutes: float, config: str, seed: int, tmp: Path) -> dict:
    name, lowercase = TEXTS[text]
    corpus = CORPORA / name
    run_dir = tmp / key(text, minutes, config).replace(":", "-")
    speed = probe()  # just before the run: what the rule would see now
    cmd = train_cmd(corpus, minutes * 60, run_dir, *CONFIGS[config], seed=seed)
    if lowercase:
        cmd.append("--lowercase")
    t0 = time.monotonic()
    summary = json.loads(subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    wall = time.monotonic() - t0
    from charlstm import checkpoint as ckpt_io

    meta = ckpt_io.load(run_dir / ckpt_io.BEST)
    return {
        "cell": key(text, minutes, config),
        "seed": seed,
        "text": text,
        "minutes": minutes,
        "config": config,
        "layers": meta.model.layers,
        "units": meta.model.units,
        "dropout": meta.model.dropout,
        "carried_nats": held_out_carried(run_dir, corpus),
        "final_bits": summary["val_bits_per_char"],  # the run's own whole-tail figure
        "chars_per_s": summary["train_chars_per_s"],
        "epochs": summary["epochs"],
        "stopped": summary["stopped"],
        "wall_s": wall,
        "chars": meta.extra.get("corpus", {}).get("chars", 0),  # the whole text (training + held out)
        "probe_chars_per_s": speed,
        "sizing": meta.extra.get("sizing"),
        "machine": f"{platform.node()} ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def print_table(rows: list[dict]) -> None:
    from charlstm.training.sizing import choose_size

    print("\n| text | budget | " + " | ".join(CONFIGS) + " | winner | the rule chooses |")
    print("|---|---|" + "---|" * len(CONFIGS) + "---|---|")
    for text in TEXTS:
        for minutes in MINUTES:
            cells = {r["config"]: r for r in rows if r["text"] == text and r["minutes"] == minutes}
            if not cells:
                continue
            figures = [f"{cells[c]['carried_nats']:.3f}" if c in cells else "" for c in CONFIGS]
            measured = {c: r for c, r in cells.items() if c != "auto"}
            winner = min(measured, key=lambda c: measured[c]["carried_nats"]) if measured else "-"
            any_row = next(iter(cells.values()))
            train_chars = any_row["chars"] - round(any_row["chars"] * 0.1)  # the default --val-fraction
            rule = choose_size(minutes * 60, train_chars, any_row["probe_chars_per_s"])
            print(
                f"| {text} | {minutes:g} min | " + " | ".join(figures) + f" | {winner} | "
                f"{rule.layers}x{rule.units}-d{rule.dropout:g} ({rule.card_epochs:.0f} card epochs) |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", nargs="+", default=["*"], help="globs over text:minutes:config (default: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "budget_sizes.jsonl")
    ap.add_argument("--list", action="store_true", help="list the selected cells and whether each is done, then stop")
    ap.add_argument("--table", action="store_true", help="print the table from --results, train nothing")
    args = ap.parse_args()

    every = [(t, m, c) for m in MINUTES for t in TEXTS for c in CONFIGS]  # short budgets first
    chosen = [cell for cell in every if any(fnmatch.fnmatch(key(*cell), g) for g in args.cells)]
    from charlstm.training.tf_runtime import cpu_has_bfloat16

    if not cpu_has_bfloat16():  # --mixed-precision is an error on a CPU without bfloat16
        chosen = [cell for cell in chosen if "--mixed-precision" not in CONFIGS[cell[2]]]
    done = load_results(args.results)
    todo = [cell for cell in chosen if (key(*cell), args.seed) not in done]
    if args.list:
        for cell in chosen:
            print(key(*cell), "to do" if cell in todo else "done")
        print(f"{len(chosen) - len(todo)} done, {len(todo)} to do, ~{sum(m for _, m, _ in todo) / 60:.1f} h")
        return
    if not args.table:
        hours = sum(m for _, m, _ in todo) / 60
        print(f"# budget_sizes: {len(todo)} cells to run (~{hours:.1f} h), results appended to {args.results}")
        with tempfile.TemporaryDirectory() as tmp:
            for cell in todo:
                row = run_cell(*cell, args.seed, Path(tmp))
                with open(args.results, "a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                print(
                    f"  {row['cell']}: {row['carried_nats']:.3f} nats/char, {row['chars_per_s']:,.0f} chars/s, "
                    f"{row['epochs']:.1f} epochs, {row['stopped']}",
                    flush=True,
                )
    rows = [r for (_, seed), r in load_results(args.results).items() if seed == args.seed]
    print_table(rows)


if __name__ == "__main__":
    main()
