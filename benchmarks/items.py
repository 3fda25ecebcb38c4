"""Item mode against makemore on makemore's own names, side by side, one run (issue 43).

    python benchmarks/items.py [--budgets 60 300] [--makemore DIR] [--torch-python PY] [--json]
    python benchmarks/items.py --quick      # 10 s budgets: a check that it runs, in about 3 minutes

Reads makemore's `names.txt` (32,033 names) from a checkout of karpathy/makemore (MIT),
never copied into this repository; fetch it and a CPU PyTorch beside the repository:

    ../ext/makemore: a checkout of karpathy/makemore (MIT), measured at commit 988aa59
    python3 -m venv ../ext/torchvenv && ../ext/torchvenv/bin/pip install numpy
    ../ext/torchvenv/bin/pip install torch    # a CPU build (measured with torch 2.13.0+cpu)

The split is makemore's: `torch.manual_seed(3407)` then its own `create_datasets` (imported
from its makemore.py), 31,033 training names and 1,000 random test names, written to
temporary files (checked once against `python makemore.py` itself: the same test names
and the same initial weights, transformer and GRU, torch 2.13). For each --budgets value,
each side trains for that wall-clock budget (from its first step) in its own process and
is scored on the 1,000 test names the same way (every character of every name and its end
symbol, from the start state, token-weighted: makemore's test loss):

- makemore transformer and makemore GRU at makemore's defaults (4 layers, 64 channels,
  batch 32, AdamW 5e-4), built by a runner this script writes to a temporary folder that
  imports makemore.py and runs its training step until the budget (without its periodic
  logging, test evaluation and sampling, which are not training), torch on 2 threads and
  makemore's 4 data workers (--makemore-workers); its weights at the budget are scored
  (its own run keeps the best on the test names, which charlstm's sides never see); then
  1,000 samples from its sampler, sorted into train / test / new as its print_samples does;
- `charlstm train --items` and `charlstm train` (the names read as one stream), defaults
  otherwise, scored with `charlstm eval TEST --items --json`; the same figure is also
  computed here from the checkpoint with charlstm's NumPy sampler (each name batched from
  the zero state, the newline as its start symbol), a check on eval and the fallback when
  eval refuses a checkpoint;
- per budget, `charlstm generate --items 1000 --novel --unique` on the item model: wall
  time, distinct items, how many are training names; and the fraction of plain draws
  (`generate --items 1000`, no filter) that are not training names, beside makemore's.

Prints one JSON line per run, then a table with the issue's targets (at 60 s: item mode
<= 1.92 nats/char and >= 0.08 below makemore's best; at 300 s: <= 1.88 and >= 0.08 below);
--json prints one JSON object instead. The default budgets take about 30 minutes.
Run it alone: it needs both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, run_json, train_cmd  # beside this file

EXT = ROOT.parent / "ext"  # where the fetch above puts makemore and its torch
TARGETS = {60: 1.92, 300: 1.88}  # issue 43: item mode's nats/char at these budgets (s)
MARGIN = 0.08  # ... and at least this far below makemore's best side at the same budget
MAKEMORE_SIDES = ("transformer", "gru")

# The makemore side, written to a temporary folder and run by the torch interpreter. It
# imports makemore.py as a module (its code stays in its checkout) and repeats what its
# __main__ does in the same order, so the split and the initial weights are the ones
# `python makemore.py` gets at its defaults.
RUNNER = r'''
import argparse, contextlib, importlib.util, json, sys, time, types

ap = argparse.ArgumentParser()
ap.add_argument("makemore")
ap.add_argument("mode", choices=["split", "train"])
ap.add_argument("--out", nargs=2, help="split: where to write the training and test names")
ap.add_argument("--type", default="transformer")
ap.add_argument("--budget", type=float, default=10.0)
ap.add_argument("--workers", type=int, default=4)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--samples", type=int, default=1000)
a = ap.parse_args()

import torch

torch.set_num_threads(a.threads)
try:
    import torch.utils.tensorboard  # noqa: F401  (makemore imports it; only its __main__ logs)
except ImportError:
    stub = types.ModuleType("torch.utils.tensorboard")
    stub.SummaryWriter = None
    sys.modules["torch.utils.tensorboard"] = stub
spec = importlib.util.spec_from_file_location("makemore", f"{a.makemore}/makemore.py")
mm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mm)

SEED = 3407  # makemore's --seed default; its __main__ seeds, then splits, then builds the model
torch.manual_seed(SEED)
with contextlib.redirect_stdout(sys.stderr):
    train_ds, test_ds = mm.create_datasets(f"{a.makemore}/names.txt")
if a.mode == "split":
    for path, ds in zip(a.out, (train_ds, test_ds)):
        with open(path, "w", encoding="utf-8") as f:
            f.write("".join(w + "\n" for w in ds.words))
    print(json.dumps({"train": len(train_ds), "test": len(test_ds)}))
    sys.exit()

config = mm.ModelConfig(vocab_size=train_ds.get_vocab_size(), block_size=train_ds.get_output_length(),
                        n_layer=4, n_head=4, n_embd=64, n_embd2=64)  # its argparse defaults
with contextlib.redirect_stdout(sys.stderr):
    model = mm.Transformer(config) if a.type == "transformer" else mm.RNN(config, cell_type=a.type)
params = sum(p.numel() for p in model.parameters())
optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)
loader = mm.InfiniteDataLoader(train_ds, batch_size=32, pin_memory=True, num_workers=a.workers)

step, t0 = 0, time.monotonic()
while time.monotonic() - t0 < a.budget:  # its training step, as in its __main__
    X, Y = loader.next()
    logits, loss = model(X, Y)
    model.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    step += 1
seconds = time.monotonic() - t0
model.eval()


@torch.inference_mode()
def token_weighted(ds):
    """Summed over every char and end token of every item, then divided by their count."""
    total, count = 0.0, 0
    for lo in range(0, len(ds), 500):
        X, Y = (torch.stack(t) for t in zip(*(ds[i] for i in range(lo, min(lo + 500, len(ds))))))
        logits, _ = model(X)  # (items, max_len + 1, vocab)
        total += torch.nn.functional.cross_entropy(
            logits.view(-1, logits.size(-1)), Y.view(-1), ignore_index=-1, reduction="sum").item()
        count += int((Y != -1).sum())
    return total / count, count


nats, chars = token_weighted(test_ds)
mm.args = argparse.Namespace(device="cpu")  # its evaluate() reads its module-global args
torch.manual_seed(SEED)
reported = mm.evaluate(model, test_ds, batch_size=100, max_batches=10)  # its mean of batch means

# Its sampler as its print_samples calls it: from <START>, the longest name's length, cut at <STOP>.
torch.manual_seed(SEED)
t1 = time.monotonic()
rows = mm.generate(model, torch.zeros(a.samples, 1, dtype=torch.long), train_ds.get_output_length() - 1,
                   do_sample=True)[:, 1:].tolist()
sample_seconds = time.monotonic() - t1
words = [train_ds.decode(r[: r.index(0)] if 0 in r else r) for r in rows]
train_set, test_set = set(train_ds.words), set(test_ds.words)
print(json.dumps({
    "side": f"makemore-{a.type}", "params": params, "steps": step, "seconds": seconds,
    "workers": a.workers, "threads": torch.get_num_threads(), "torch": torch.__version__,
    "nats_per_char": nats, "chars": chars, "items": len(test_ds), "makemore_evaluate": reported,
    "samples": len(words), "sample_seconds": sample_seconds,
    "samples_in_train": sum(w in train_set for w in words),
    "samples_new": sum(w not in train_set and w not in test_set for w in words),
}))
'''


def cli(*args) -> list[str]:
    """A `charlstm` command; run with cwd= the tree under test (`python -m` puts it first on sys.path)."""
    return [sys.executable, "-m", "charlstm", *map(str, args)]


def score_items(run_dir: Path, items: list[str]) -> dict:
    """makemore's test loss under a charlstm checkpoint, from NumPy: each item from the zero
    state fed the newline, every char and the end newline scored, token-weighted."""
    import numpy as np

    from charlstm import checkpoint as ckpt_io
    from charlstm.sampler.network import load_network

    meta, net = load_network(ckpt_io.resolve(run_dir))
    index = {c: i for i, c in enumerate(meta.vocabulary)}
    unknown = sorted({c for item in items for c in item} - set(index))
    if unknown:
        raise SystemExit(f"{run_dir}: test names have characters outside the vocabulary: {unknown!r}")
    nl = index["\n"]
    longest = max(map(len, items))
    ids = np.full((len(items), longest + 2), nl, np.int64)  # (items, start + chars + end)
    for r, item in enumerate(items):
        ids[r, 1 : len(item) + 1] = [index[c] for c in item]
    lengths = np.array([len(item) + 1 for item in items])  # targets per item, the end included
    state, total = net.zero_state(len(items)), 0.0
    for t in range(longest + 1):
        logits, state = net.step(ids[:, t], state)  # (items, vocab)
        z = logits.astype(np.float64)
        m = z.max(axis=1)
        nll = m + np.log(np.exp(z - m[:, None]).sum(axis=1)) - z[np.arange(len(items)), ids[:, t + 1]]
        total += float(nll[t < lengths].sum())  # rows past their end symbol score nothing
    chars = int(lengths.sum())
    return {"nats_per_char": total / chars, "chars": chars, "items": len(items)}


def params_and_steps(run_dir: Path) -> tuple[int, int]:
    from charlstm import checkpoint as ckpt_io
    from charlstm.sampler.network import load_network

    _, net = load_network(run_dir / ckpt_io.BEST)
    hist = ckpt_io.load(run_dir / ckpt_io.LAST).history
    return sum(a.size for a in net.named_arrays().values()), sum(h.get("steps", 0) for h in hist)


def charlstm_side(repo, side, train, test, test_items, budget, tmp, seed) -> dict:
    run_dir = tmp / f"{side}-{budget:g}"
    extra = ["--items"] if side == "items" else []
    summary, wall = run_json(train_cmd(train, budget, run_dir, *extra, seed=seed), repo)
    params, steps = params_and_steps(run_dir)
    ours = score_items(run_dir, test_items)
    p = subprocess.run(cli("eval", test, "--items", "-c", run_dir, "--json"), cwd=repo, capture_output=True, text=True)
    row = {"side": side, "budget": budget, "params": params, "steps": steps, "wall": wall, **summary}
    if p.returncode == 0:
        ev = json.loads(p.stdout)
        row.update(nats_per_char=ev["nats_per_char"], chars=ev["chars"], items=ev["items"], scored_by="eval --items")
        row["numpy_check"] = ours["nats_per_char"]
        if abs(ev["nats_per_char"] - ours["nats_per_char"]) > 1e-3 or ev["chars"] != ours["chars"]:
            print(
                f"  warning: eval --items {ev['nats_per_char']:.4f} over {ev['chars']} chars, the NumPy "
                f"check {ours['nats_per_char']:.4f} over {ours['chars']}",
                file=sys.stderr,
            )
    else:
        why = (p.stderr.strip().splitlines() or ["?"])[-1]
        row.update(ours, scored_by=f"numpy (eval --items refused: {why})")
    row["run_dir"] = run_dir
    return row


def generation(repo: Path, run_dir: Path, n: int, seed: int, train_set: set, test_set: set) -> dict:
    """`generate --items N --novel --unique`: wall time and checks; plain draws: the novel fraction."""
    t0 = time.monotonic()
    p = subprocess.run(
        cli("generate", "-c", run_dir, "--items", n, "--novel", "--unique", "--seed", seed),
        cwd=repo, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"generate --items failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    novel = p.stdout.splitlines()
    plain = subprocess.run(
        cli("generate", "-c", run_dir, "--items", n, "--seed", seed),
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    return {
        "novel_unique_seconds": wall,  # the whole command: interpreter start, load, sampling
        "novel_unique_items": len(novel),
        "novel_unique_distinct": len(set(novel)),
        "novel_unique_in_train": sum(w in train_set for w in novel),
        "novel_unique_in_test": sum(w in test_set for w in novel),
        "novel_unique_stderr": p.stderr.strip()[-300:],  # its own count of draws, or its warning
        "draws": len(plain),
        "draws_not_in_train": sum(w not in train_set for w in plain) / max(len(plain), 1),
        "draws_new": sum(w not in train_set and w not in test_set for w in plain) / max(len(plain), 1),
    }


def makemore_side(args, runner: Path, kind: str, budget: float) -> dict:
    cmd = [str(args.torch_python), str(runner), str(args.makemore), "train", "--type", kind, "--budget", str(budget),
           "--workers", str(args.makemore_workers), "--samples", str(args.generate)]  # fmt: skip
    row, wall = run_json(cmd, ROOT)
    n = row["samples"]
    row.update(budget=budget, wall=wall, draws_not_in_train=1 - row["samples_in_train"] / n,
               draws_new=row["samples_new"] / n)  # fmt: skip
    return row


def fmt(x, spec=".3f"):
    return "-" if x is None else format(x, spec)


def table(rows: list[dict], gens: dict, budgets, out) -> list[dict]:
    """Prints the comparison to `out`; returns the targets per budget."""

    def say(*lines):
        print(*lines, file=out)

    verdicts = []
    say("\n| budget | side | test nats/char | steps | params | wall s | draws not in train | new (not train/test) |")
    say("|---|---|---|---|---|---|---|---|")
    for b in budgets:
        for r in (r for r in rows if r["budget"] == b):
            g = gens.get(b, {}) if r["side"] == "items" else r
            say(
                f"| {b:g} s | {r['side']} | {r['nats_per_char']:.3f} | {r['steps']:,} | {r['params']:,} | "
                f"{r['wall']:.0f} | {fmt(g.get('draws_not_in_train'))} | {fmt(g.get('draws_new'))} |"
            )
    say("\n| budget | makemore best | item mode | items - makemore best | stream | items - stream | target | met |")
    say("|---|---|---|---|---|---|---|---|")
    for b in budgets:
        by = {r["side"]: r["nats_per_char"] for r in rows if r["budget"] == b}
        mm = [v for k, v in by.items() if k.startswith("makemore")]
        best, items, stream = (min(mm) if mm else None), by.get("items"), by.get("stream")
        d_mm = items - best if items is not None and best is not None else None
        d_st = items - stream if items is not None and stream is not None else None
        target = TARGETS.get(int(b)) if float(b).is_integer() else None
        met = None
        if target is not None and d_mm is not None:
            met = items <= target and d_mm <= -MARGIN
        verdicts.append({"budget": b, "makemore_best": best, "items": items, "stream": stream,
                         "items_minus_makemore_best": d_mm, "items_minus_stream": d_st,
                         "target": target, "met": met})  # fmt: skip
        goal = f"<= {target} and <= best - {MARGIN}" if target else "-"
        say(
            f"| {b:g} s | {fmt(best)} | {fmt(items)} | {fmt(d_mm, '+.3f')} | {fmt(stream)} | {fmt(d_st, '+.3f')} "
            f"| {goal} | {'-' if met is None else ('met' if met else 'MISSED')} |"
        )
    for b, g in gens.items():
        ok = g["novel_unique_items"] == g["novel_unique_distinct"] == g["asked"] and not g["novel_unique_in_train"]
        say(
            f"\n{b:g} s item model: `generate --items {g['asked']} --novel --unique` {g['novel_unique_seconds']:.2f} s "
            f"(target < 2 s: {'met' if g['novel_unique_seconds'] < 2 else 'MISSED'}), "
            f"{g['novel_unique_items']:,} items, {g['novel_unique_distinct']:,} distinct, "
            f"{g['novel_unique_in_train']} training names ({'ok' if ok else 'NOT OK'}), "
            f"{g['novel_unique_in_test']} test names ({g['novel_unique_stderr'] or 'nothing on stderr'}); "
            f"of {g['draws']:,} plain draws (`generate --items {g['asked']}`) "
            f"{g['draws_not_in_train']:.1%} not training names"
        )
    return verdicts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", type=float, nargs="+", help="wall-clock seconds per side [default: 60 300]")
    ap.add_argument("--quick", action="store_true", help="10 s budgets: a check that it runs")
    ap.add_argument(
        "--makemore", type=Path, default=EXT / "makemore", help="a karpathy/makemore checkout [%(default)s]"
    )
    ap.add_argument(
        "--torch-python",
        type=Path,
        default=EXT / "torchvenv" / "bin" / "python",
        help="a Python with torch [%(default)s]",
    )
    ap.add_argument("--makemore-workers", type=int, default=4, help="its DataLoader workers (its default 4)")
    ap.add_argument("--sides", nargs="+", default=["transformer", "gru", "items", "stream"],
                    choices=["transformer", "gru", "items", "stream"])  # fmt: skip
    ap.add_argument("--generate", type=int, default=1000, help="items generated / makemore samples drawn")
    ap.add_argument("--seed", type=int, default=1, help="charlstm's training and generation seed")
    ap.add_argument("--repo", type=Path, default=ROOT, help="the charlstm tree to run [default: this one]")
    ap.add_argument("--json", action="store_true", help="print one JSON object (for RESULTS.md) instead")
    args = ap.parse_args()
    budgets = args.budgets or ([10] if args.quick else [60, 300])
    repo = args.repo.resolve()
    sys.path.insert(0, str(repo))
    if not (args.makemore / "makemore.py").exists() or not args.torch_python.exists():
        raise SystemExit(f"no makemore at {args.makemore} or no torch at {args.torch_python}: see --help")
    log = sys.stderr if args.json else sys.stdout
    commit = subprocess.run(["git", "-C", str(args.makemore), "rev-parse", "HEAD"], capture_output=True, text=True)
    head = {
        "machine": f"{platform.node()} ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "makemore_commit": commit.stdout.strip() or None,
        "charlstm_commit": subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),  # fmt: skip
        "budgets": budgets,
    }
    print(f"# items on {head['machine']}, {head['date']}, makemore {head['makemore_commit']}", file=log, flush=True)
    rows, gens = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runner = tmp / "makemore_runner.py"
        runner.write_text(RUNNER, encoding="utf-8")
        train, test = tmp / "train_names.txt", tmp / "test_names.txt"
        split, _ = run_json([str(args.torch_python), str(runner), str(args.makemore), "split", "--out",
                             str(train), str(test)], ROOT)  # fmt: skip
        train_names = train.read_text(encoding="utf-8").splitlines()
        test_names = test.read_text(encoding="utf-8").splitlines()
        print(f"# makemore's split: {split['train']:,} training names, {split['test']:,} test names", file=log)
        train_set, test_set = set(train_names), set(test_names)
        for b in budgets:
            for side in args.sides:
                if side in MAKEMORE_SIDES:
                    row = makemore_side(args, runner, side, b)
                    row["side"] = side = f"makemore-{side}"
                else:
                    row = charlstm_side(repo, side, train, test, test_names, b, tmp, args.seed)
                    if side == "items":
                        gens[b] = {"asked": args.generate, **generation(repo, row["run_dir"], args.generate,
                                                                        args.seed, train_set, test_set)}  # fmt: skip
                    row["run_dir"] = str(row["run_dir"])
                rows.append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "run_dir"}), file=log, flush=True)
        verdicts = table(rows, gens, budgets, log)
    if args.json:
        print(json.dumps({**head, "split": split, "runs": rows, "generation": gens, "targets": verdicts}))


if __name__ == "__main__":
    main()
