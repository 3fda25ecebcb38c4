"""`charlstm train --max-time B` against nanoGPT's CPU configuration, same budgets, one run (issue 44).

    python benchmarks/nanogpt.py [--budgets 180 600 1800] [--sides nanogpt new card] [--macbeth] [--json]
    python benchmarks/nanogpt.py --quick      # 20 s budgets: a check that it runs, in about 3 minutes

tinyshakespeare (../shared/corpora, never copied in) with nanoGPT's split: its
data/shakespeare_char/prepare.py's vocabulary (the sorted set of characters) and its first
90% to train on, the last 10% held out. nanoGPT (MIT) is read from a checkout beside the
repository and run with a CPU PyTorch, neither part of this project:

    ../ext/nanoGPT: a checkout of karpathy/nanoGPT (MIT), measured at commit 3adf61e
    ../ext/torchvenv: python3 -m venv ../ext/torchvenv && ../ext/torchvenv/bin/pip install numpy torch
                      (measured with torch 2.13.0+cpu; benchmarks/items.py uses the same one)

Sides, each in its own process, one after another, for each --budgets value:

- `nanogpt`: nanoGPT's model.py (imported from the checkout) at the configuration its README
  gives for a CPU ("I only have a macbook": 4 layers, 4 heads, 128 channels, block 64,
  batch 12, dropout 0, AdamW 1e-3 with weight decay 0.1 and beta2 0.99, warm-up 100 steps,
  cosine decay to 1e-4, gradient clip 1, its seed 1337), torch on 2 threads, by a runner this
  script writes to a temporary folder. Its README sets max_iters = lr_decay_iters = 2000 ("about
  3 minutes"); for a budget the runner decays over the budget's wall-clock time instead of a
  step count (the same cosine, in time), so every budget ends annealed as charlstm's does. Its
  held-out loss is measured every tenth of the budget with the clock stopped (nanoGPT's own run
  evaluates as it goes and keeps its best checkpoint), and the best is reported: generous to it.
  Scored on the whole held-out 10%, two ways: `strided` (windows of 64 every 32 characters, each
  character scored once with at least 32 characters of context: the figure compared) and
  `blocks` (its estimate_loss's measure over the whole split: non-overlapping 64-char blocks,
  every position, so context 0-63; for reference).
- `new`: `charlstm train tinyshakespeare.txt --max-time B` with no training option (the budget
  chooses the network, charlstm/training/sizing.py), scored on the same held-out 10% with the
  state carried through it (`charlstm eval`'s measure) from the best checkpoint.
- `card`: the same with the card's network pinned (--layers 2 --units 300 --dropout 0.2): what
  `--max-time` trained before issue 44 (the 3-minute target: `new` no worse than it).
- `--macbeth`: `new` on lowercased Macbeth (its last 10% held out) at each budget too: the
  monotone target on a 100K-char text (no peer).

Prints one JSON line per run, then a table with issue 44's targets: `new` ahead of nanoGPT by
>= 0.05 nats/char at every budget; each budget's `new` no worse than the shorter one's (on
tinyshakespeare, and on Macbeth with --macbeth); at the shortest budget `new` no worse than
`card`. --json prints one JSON object instead. The default budgets take about 90 minutes
(2 x (3 + 10 + 30) min and the set-up); run it alone, it needs both cores.
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

from _common import CORPORA, ROOT, run_json, train_cmd  # beside this file
from train_speed import held_out_carried  # the same carried held-out loss

sys.path.insert(0, str(ROOT))

EXT = ROOT.parent / "ext"
CARD = ["--layers", "2", "--units", "300", "--dropout", "0.2"]

# The runner, run by the torch Python (this file's Python has no torch): nanoGPT's training
# step (train.py's, without DDP, gradient accumulation, logging and sampling) on its model.py.
RUNNER = r'''
import json, math, sys, time
import numpy as np
import torch
from torch.nn import functional as F

nanogpt, corpus, budget, threads = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, nanogpt)
from model import GPT, GPTConfig  # nanoGPT's

torch.set_num_threads(threads)
torch.manual_seed(1337)  # train.py's seed (1337 + seed_offset 0)

# data/shakespeare_char/prepare.py: the vocabulary, the 90/10 split
text = open(corpus, encoding="utf-8").read()
chars = sorted(set(text))
stoi = {ch: i for i, ch in enumerate(chars)}
data = np.array([stoi[c] for c in text], dtype=np.int64)
n = len(data)
train_data, val_data = data[: int(n * 0.9)], data[int(n * 0.9) :]

# README's CPU line over config/train_shakespeare_char.py (train.py's defaults otherwise)
block_size, batch_size = 64, 12
learning_rate, min_lr, warmup_iters = 1e-3, 1e-4, 100
weight_decay, beta1, beta2, grad_clip = 1e-1, 0.9, 0.99, 1.0
conf = GPTConfig(block_size=block_size, vocab_size=len(chars), n_layer=4, n_head=4, n_embd=128,
                 dropout=0.0, bias=False)
model = GPT(conf)
optimizer = model.configure_optimizers(weight_decay, learning_rate, (beta1, beta2), "cpu")
train_t = torch.from_numpy(train_data)


def get_batch():
    ix = torch.randint(len(train_data) - block_size, (batch_size,))
    x = torch.stack([train_t[i : i + block_size] for i in ix])
    y = torch.stack([train_t[i + 1 : i + 1 + block_size] for i in ix])
    return x, y


def get_lr(it, frac):
    """train.py's get_lr with the decay over the budget's time (frac in [0, 1]) instead of steps."""
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    coeff = 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))
    return min_lr + coeff * (learning_rate - min_lr)


@torch.no_grad()
def score(ids, stride):
    """Mean nats/char over every character of `ids` after the first, each once: windows of
    block_size every `stride` chars, a window scoring the targets not scored before it."""
    model.eval()
    t = torch.from_numpy(ids)
    starts = list(range(0, len(ids) - block_size - 1, stride)) + [len(ids) - block_size - 1]
    total, count, covered = 0.0, 0, 0  # covered: targets 1..covered scored
    for lo in range(0, len(starts), 256):
        chunk = starts[lo : lo + 256]
        x = torch.stack([t[s : s + block_size] for s in chunk])
        y = torch.stack([t[s + 1 : s + 1 + block_size] for s in chunk])
        logits, _ = model(x, y)
        nll = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), reduction="none")
        nll = nll.reshape(len(chunk), block_size)
        for k, s in enumerate(chunk):
            first = max(covered - s, 0)  # target index s+1+j is new when s+1+j > covered
            total += float(nll[k, first:].sum())
            count += block_size - first
            covered = s + block_size
    model.train()
    return total / count, count


evals, best = [], None
trained, it, next_eval = 0.0, 0, budget / 10
while trained < budget:
    t0 = time.perf_counter()
    lr = get_lr(it, trained / budget)
    for group in optimizer.param_groups:
        group["lr"] = lr
    x, y = get_batch()
    _, loss = model(x, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    it += 1
    trained += time.perf_counter() - t0
    if trained >= next_eval or trained >= budget:  # the clock is stopped while it scores
        next_eval += budget / 10
        strided, chars = score(val_data, 32)
        evals.append({"seconds": round(trained, 1), "iters": it, "strided": strided})
        if best is None or strided < best["strided"]:
            blocks, _ = score(val_data, block_size)
            best = {"iters": it, "seconds": round(trained, 1), "strided": strided, "blocks": blocks, "chars": chars}
            best["train_strided"] = score(train_data[: len(val_data)], 32)[0]  # the train/held-out gap
print(json.dumps({"iters": it, "seconds": trained, "params": model.get_num_params(),
                  "chars_per_s": it * batch_size * block_size / trained, "best": best, "evals": evals}))
'''


def nanogpt_side(args, runner: Path, corpus: Path, budget: float) -> dict:
    cmd = [str(args.torch_python), str(runner), str(args.nanogpt), str(corpus), str(budget), str(args.threads)]
    out, wall = run_json(cmd, ROOT)
    best = out["best"]
    return {
        "side": "nanogpt", "text": "tinyshakespeare", "budget": budget, "nats_per_char": best["strided"],
        "blocks": best["blocks"], "train_gap": best["strided"] - best["train_strided"],
        "steps": out["iters"], "best_at_s": best["seconds"], "params": out["params"],
        "chars_per_s": out["chars_per_s"], "wall": wall, "evals": out["evals"],
    }  # fmt: skip


def charlstm_side(side: str, corpus: Path, text: str, budget: float, tmp: Path, seed: int, extra=()) -> dict:
    run_dir = tmp / f"{side}-{text}-{budget:g}"
    flags = [*extra, *(CARD if side == "card" else [])]
    summary, wall = run_json(train_cmd(corpus, budget, run_dir, *flags, seed=seed), ROOT)
    from charlstm import checkpoint as ckpt_io  # the run's own record of the rule's choice

    meta = ckpt_io.load(run_dir / ckpt_io.BEST)
    sizing = (meta.extra.get("sizing") or {}).get("reason") or f"{meta.model.layers}×{meta.model.units} (given)"
    return {
        "side": side, "text": text, "budget": budget, "nats_per_char": held_out_carried(run_dir, corpus),
        "chars_per_s": summary.get("train_chars_per_s"), "stopped": summary.get("stopped"), "sizing": sizing,
        "wall": wall, **{k: summary[k] for k in ("epochs", "best_val_loss") if k in summary},
    }  # fmt: skip


def lowercased(src: Path, dest: Path) -> Path:
    dest.write_text(src.read_text(encoding="utf-8").lower(), encoding="utf-8")
    return dest


def verdicts(rows: list[dict], budgets: list[float], out) -> list[dict]:
    def fig(side, text, b):
        return next((r["nats_per_char"] for r in rows if (r["side"], r["text"], r["budget"]) == (side, text, b)), None)

    found = []
    for b in budgets:
        peer, new, card = (
            fig("nanogpt", "tinyshakespeare", b),
            fig("new", "tinyshakespeare", b),
            fig("card", "tinyshakespeare", b),
        )
        if peer is not None and new is not None:
            found.append(
                {"target": f"{b:g} s: new >= 0.05 ahead of nanoGPT", "margin": peer - new, "met": peer - new >= 0.05}
            )
        if b == budgets[0] and new is not None and card is not None:
            found.append({"target": f"{b:g} s: new no worse than card", "margin": card - new, "met": new <= card})
    for text in ("tinyshakespeare", "macbeth"):
        figs = [(b, fig("new", text, b)) for b in budgets if fig("new", text, b) is not None]
        for (b0, f0), (b1, f1) in zip(figs, figs[1:]):
            found.append({"target": f"{text}: new at {b1:g} s <= at {b0:g} s", "margin": f0 - f1, "met": f1 <= f0})
    print("\n| budget | text | side | held-out nats/char | chars/s | steps/epochs | network / stopped |", file=out)
    print("|---|---|---|---|---|---|---|", file=out)
    for r in rows:
        how = r.get("sizing") or (f"{r['params']:,} params, best at {r['best_at_s']} s" if "params" in r else "")
        done = r.get("steps") or r.get("epochs")
        print(f"| {r['budget']:g} s | {r['text']} | {r['side']} | {r['nats_per_char']:.4f} | "
              f"{(r.get('chars_per_s') or 0):,.0f} | {done} | {how} {r.get('stopped') or ''} |", file=out)  # fmt: skip
    for v in found:
        print(f"- {v['target']}: margin {v['margin']:+.4f} -> {'met' if v['met'] else 'MISSED'}", file=out)
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", type=float, nargs="+", help="wall-clock seconds per side [default: 180 600 1800]")
    ap.add_argument("--quick", action="store_true", help="20 s budgets: a check that it runs")
    ap.add_argument("--sides", nargs="+", default=["nanogpt", "new"], choices=["nanogpt", "new", "card"])
    ap.add_argument("--macbeth", action="store_true", help="also `new` on lowercased Macbeth at each budget")
    ap.add_argument("--nanogpt", type=Path, default=EXT / "nanoGPT", help="a karpathy/nanoGPT checkout [%(default)s]")
    ap.add_argument("--torch-python", type=Path, default=EXT / "torchvenv" / "bin" / "python",
                    help="a Python with torch [%(default)s]")  # fmt: skip
    ap.add_argument("--threads", type=int, default=2, help="torch's threads (the machine's cores)")
    ap.add_argument("--seed", type=int, default=1, help="charlstm's seed")
    ap.add_argument("--json", action="store_true", help="print one JSON object (for RESULTS.md) instead")
    args = ap.parse_args()
    budgets = args.budgets or ([20] if args.quick else [180, 600, 1800])
    tiny, macbeth = CORPORA / "tinyshakespeare.txt", CORPORA / "macbeth.txt"
    if not (args.nanogpt / "model.py").exists() or not args.torch_python.exists():
        raise SystemExit(f"no nanoGPT at {args.nanogpt} or no torch at {args.torch_python}: see --help")
    if not tiny.exists() or (args.macbeth and not macbeth.exists()):
        raise SystemExit(f"no corpora at {CORPORA}")
    log = sys.stderr if args.json else sys.stdout
    git = ["git", "rev-parse", "HEAD"]
    head = {
        "machine": f"{platform.node()} ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "nanogpt_commit": subprocess.run(git, cwd=args.nanogpt, capture_output=True, text=True).stdout.strip(),
        "charlstm_commit": subprocess.run(git, cwd=ROOT, capture_output=True, text=True).stdout.strip(),
        "budgets": budgets,
    }
    print(f"# nanogpt on {head['machine']}, {head['date']}, nanoGPT {head['nanogpt_commit'][:7]}", file=log, flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        runner = tmp / "nanogpt_runner.py"
        runner.write_text(RUNNER, encoding="utf-8")
        small = lowercased(macbeth, tmp / "macbeth-lower.txt") if args.macbeth else None
        for b in budgets:
            for side in args.sides:
                if side == "nanogpt":
                    row = nanogpt_side(args, runner, tiny, b)
                else:
                    row = charlstm_side(side, tiny, "tinyshakespeare", b, tmp, args.seed)
                rows.append(row)
                print(json.dumps(row), file=log, flush=True)
            if small is not None:
                rows.append(charlstm_side("new", small, "macbeth", b, tmp, args.seed))
                print(json.dumps(rows[-1]), file=log, flush=True)
        found = verdicts(rows, budgets, log)
    if args.json:
        print(json.dumps({**head, "runs": rows, "targets": found}))


if __name__ == "__main__":
    main()
