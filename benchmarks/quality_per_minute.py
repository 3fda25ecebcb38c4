"""Quality per minute: the levers of issue 12 on and off, same seeds, same budget, one run.

    python benchmarks/quality_per_minute.py [--budget 180] [--seeds 1 2 3] [--configs new old ...]
                                            [--macbeth-budget 300] [--head-chars N] [--time-to 1.70 1.60 1.50]
                                            [--corpus corpora/english.txt]

Each configuration trains `charlstm train` in its own process on tinyshakespeare with
nanoGPT's split (first 90% train, last 10% held out, case kept) for --budget seconds
per seed. Reported per run: the held-out loss with the state carried across the whole
tail (`charlstm eval`, char-rnn's convention) and in training's fresh windows, chars/s,
and the minutes of training it took to reach each --time-to loss (from the history).
Then mean and spread over seeds, and lowercased Macbeth (last 10% held out) for
--macbeth-budget seconds, same seeds. --head-chars N trains on only the first N chars
of tinyshakespeare instead (a corpus between Macbeth's size and tinyshakespeare's);
--corpus PATH trains on that text instead (the base model's paths: `charlstm corpus fetch
english`, its last 10% held out as the base's own figure is scored).
"new" is `charlstm train --max-time B` with no other training option (besides the seed and
--sample-every 0): since issue 44 the budget chooses its layers, units and dropout
(charlstm/training/sizing.py), so "new" is what issue 44's targets compare against a peer;
"card" pins the card's 2×300 with dropout 0.2 whatever the budget (the defaults before it).
Run it alone: it needs both cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPORA, ROOT, train_cmd  # beside this file
from train_speed import held_out_carried  # the same carried held-out loss

sys.path.insert(0, str(ROOT))

# The levers, each as the flags that turn it on or off relative to today's defaults.
CONFIGS = {
    "new": [],  # the defaults: carried state on big texts, linear decay to zero at the deadline, budget-sized
    "card": ["--layers", "2", "--units", "300", "--dropout", "0.2"],  # the card's network whatever the budget
    "carry": ["--carry-state"],  # the defaults with the state carried whatever the text's size
    "old": ["--no-carry-state", "--schedule", "plateau", "--warmup-steps", "200"],  # the defaults before
    "no-carry": ["--no-carry-state"],  # new, but shuffled windows from a zero state
    "plateau": ["--schedule", "plateau", "--warmup-steps", "200"],  # new, but the old schedule
    "cosine": ["--schedule", "cosine"],
    "bf16": ["--mixed-precision"],  # new + bfloat16 (CPUs with AVX512_BF16/AMX)
    "lr10": ["--learning-rate", "1e-2"],
    "lr3": ["--learning-rate", "3e-3"],
    "lr20": ["--learning-rate", "2e-2"],
    "lr10-d01": ["--learning-rate", "1e-2", "--dropout", "0.1"],
    "lr10-b128": ["--learning-rate", "1e-2", "--batch-size", "128"],
    "lr5": ["--learning-rate", "5e-3"],  # the defaults before run 5
    "d01": ["--dropout", "0.1"],
    "d0": ["--dropout", "0"],
    "b32": ["--batch-size", "32"],
    "wu0": ["--warmup-steps", "0"],
    "wu200": ["--warmup-steps", "200"],
    "old-d05": ["--no-carry-state", "--schedule", "plateau", "--warmup-steps", "200", "--dropout", "0.5"],
    "no-carry-d05": ["--no-carry-state", "--dropout", "0.5"],
    "d035": ["--dropout", "0.35"],  # more dropout (small corpora overfit)
    "d05": ["--dropout", "0.5"],  # char-rnn's advice for small data
    "b128": ["--batch-size", "128", "--learning-rate", "7e-3"],
    "512": ["--units", "512", "--dropout", "0.35"],  # the bigger model of issue 12
    "512-d05": ["--units", "512", "--dropout", "0.5"],
    "512-bf16": ["--units", "512", "--dropout", "0.35", "--mixed-precision"],
    # issue 29: the base model's training path, batch against learning rate (lr10 above is batch 64's)
    "b128-lr10": ["--batch-size", "128", "--learning-rate", "1e-2"],
    "b128-lr20": ["--batch-size", "128", "--learning-rate", "2e-2"],
    "b256-lr10": ["--batch-size", "256", "--learning-rate", "1e-2"],
    "b256-lr20": ["--batch-size", "256", "--learning-rate", "2e-2"],
    "b256-lr30": ["--batch-size", "256", "--learning-rate", "3e-2"],
    # issue 29: the base's long run underfits (train = held-out loss): dropout off, a lower peak rate
    "bf16-d0": ["--mixed-precision", "--dropout", "0"],
    "bf16-d0-lr5": ["--mixed-precision", "--dropout", "0", "--learning-rate", "5e-3"],
}


def train(corpus: Path, budget: float, run_dir: Path, seed: int, flags: list[str], lowercase=False) -> dict:
    cmd = train_cmd(corpus, budget, run_dir, *flags, seed=seed)
    if lowercase:
        cmd.append("--lowercase")
    t0 = time.monotonic()
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    summary = json.loads(out)
    summary["wall"] = time.monotonic() - t0
    return summary


def history_of(run_dir: Path) -> list[dict]:
    from charlstm import checkpoint as ckpt_io

    return ckpt_io.load(run_dir / ckpt_io.LAST).history


def minutes_to(history: list[dict], nats: float) -> float | None:
    """Training minutes (steps, not validation) until the validation loss first reached `nats`."""
    seconds = 0.0
    for h in history:
        seconds += h.get("seconds", 0.0)
        if h["val_bits_per_char"] * math.log(2) <= nats:
            return seconds / 60
    return None


def one(corpus: Path, budget: float, tmp: Path, name: str, seed: int, thresholds, lowercase=False) -> dict:
    run_dir = tmp / f"{corpus.stem}-{name}-{seed}"
    summary = train(corpus, budget, run_dir, seed, CONFIGS[name], lowercase)
    hist = history_of(run_dir)
    # since issue 44 a carried-state run scores no fresh windows (None): its own validation instead
    windows = min(h.get("val_window_bits_per_char") or h["val_bits_per_char"] for h in hist) * math.log(2)
    row = {
        "config": name,
        "seed": seed,
        "carried": held_out_carried(run_dir, corpus),
        "windows": windows,
        "chars_per_s": summary["train_chars_per_s"],
        "epochs": summary["epochs"],
        "to": {t: minutes_to(hist, t) for t in thresholds},
    }
    print(
        f"  {corpus.stem} {name:>9} seed {seed}: carried {row['carried']:.3f} nats/char, windows "
        f"{row['windows']:.3f}, {row['chars_per_s']:,.0f} chars/s, {row['epochs']:.2f} epochs, to "
        + ", ".join(f"{t}: {m:.1f} min" if m is not None else f"{t}: -" for t, m in row["to"].items()),
        flush=True,
    )
    return row


def summarise(rows: list[dict], thresholds) -> None:
    print(
        "\n| config | seeds | carried nats/char (mean ± sd) | fresh windows | chars/s | "
        + " | ".join(f"min to {t}" for t in thresholds)
        + " |"
    )
    print("|---|---|---|---|---|" + "---|" * len(thresholds))
    for name in dict.fromkeys(r["config"] for r in rows):
        rs = [r for r in rows if r["config"] == name]
        carried = [r["carried"] for r in rs]
        sd = statistics.stdev(carried) if len(carried) > 1 else 0.0
        tos = []
        for t in thresholds:
            vals = [r["to"][t] for r in rs if r["to"][t] is not None]
            tos.append(f"{statistics.mean(vals):.1f} ({len(vals)}/{len(rs)})" if vals else "-")
        print(
            f"| {name} | {', '.join(str(r['seed']) for r in rs)} | {statistics.mean(carried):.3f} ± {sd:.3f} "
            f"(min {min(carried):.3f}, max {max(carried):.3f}) | "
            f"{statistics.mean(r['windows'] for r in rs):.3f} | "
            f"{statistics.mean(r['chars_per_s'] for r in rs):,.0f} | " + " | ".join(tos) + " |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=180, help="seconds per tinyshakespeare run (0 = skip)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--configs", nargs="+", default=["new", "old"], choices=sorted(CONFIGS))
    ap.add_argument(
        "--single-seed-configs",
        nargs="*",
        default=[],
        choices=sorted(CONFIGS),
        help="more configurations, run with the first seed only",
    )
    ap.add_argument("--macbeth-budget", type=float, default=0, help="seconds on lowercased Macbeth (0 = skip)")
    ap.add_argument(
        "--head-chars",
        type=int,
        default=0,
        help="train on only the first N chars of tinyshakespeare (its own 90/10 split): a mid-sized corpus",
    )
    ap.add_argument("--corpus", type=Path, help="train on this text instead of tinyshakespeare")
    ap.add_argument("--time-to", type=float, nargs="+", default=[1.70, 1.60, 1.50])
    args = ap.parse_args()
    print(
        f"# quality_per_minute on {platform.node()} ({os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}), {time.strftime('%Y-%m-%d %H:%M')}, "
        f"budget {args.budget:.0f} s",
        flush=True,
    )
    tiny = args.corpus.resolve() if args.corpus else CORPORA / "tinyshakespeare.txt"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.head_chars:
            head = tmp / f"tinyshakespeare-head{args.head_chars}.txt"
            head.write_text(tiny.read_text(encoding="utf-8")[: args.head_chars], encoding="utf-8")
            tiny = head
        rows = []
        if args.budget:
            for seed in args.seeds:  # interleaved by seed, so slow drift of the VM hits every config alike
                for name in args.configs:
                    rows.append(one(tiny, args.budget, tmp, name, seed, args.time_to))
            for name in args.single_seed_configs:
                rows.append(one(tiny, args.budget, tmp, name, args.seeds[0], args.time_to))
            size = len(tiny.read_text(encoding="utf-8"))
            print(f"\n{tiny.name} ({size:,} chars), first 90% trained, last 10% held out, {args.budget:.0f} s per run")
            summarise(rows, args.time_to)
        if args.macbeth_budget:
            macbeth = CORPORA / "macbeth.txt"
            mrows = [
                one(macbeth, args.macbeth_budget, tmp, name, seed, args.time_to, lowercase=True)
                for seed in args.seeds
                for name in args.configs
            ]
            print(f"\nlowercased Macbeth, last 10% held out, {args.macbeth_budget:.0f} s")
            summarise(mrows, args.time_to)


if __name__ == "__main__":
    main()
