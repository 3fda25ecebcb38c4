"""A long-range dependency: reproduce a key letter seen N characters earlier.

Each sequence is a key letter from a..h, N random filler digits, a marker '=' and
then the key again:

    c0417829356=c          (N = 10)

The model reads the sequence one character at a time and, as everywhere in
charlstm, predicts the next character at every position; the only prediction that
can beat chance is the one after '=', where it must recall the key from N + 1
steps back. Accuracy is measured there alone, on held-out sequences
(chance = 1/8). By default the loss is also taken there alone (--loss answer);
--loss all trains on every position as a language model would.

Training distances (--mixed, the default): each training sequence has the same
length as the test ones, but its key sits d fillers before '=' with d drawn
log-uniformly from 1..N (earlier positions hold more filler). Trained on exactly
N alone (--no-mixed), a fresh model's gradient through N steps is vanishingly
small (an LSTM's forget gate starts near σ(1) ≈ 0.73, and 0.73^50 ≈ 1e-7): on 2
CPU cores the LSTM solved N = 20 in ~2,500 steps but stayed at chance for N = 50
after 2,000 steps, as did both cells for N = 100 in 20 s. The short distances in
the mixture give a signal from the first step, and the question becomes which
cell can then stretch its memory to N. Accuracy is always measured at N.

For each cell and N a fresh 1-layer model (charlstm.training.model.build / compile) trains
on freshly generated batches for --budget seconds of wall-clock time (the first
step, which compiles the graph, is not counted), so a cheaper cell gets more
steps; the table gives the step counts. Same seed for every run. On 2 CPU cores
an LSTM needs about 1,200 steps (~40 s) to solve N = 100, hence the 60 s default.

    python benchmarks/long_dependency.py                      # rnn and lstm, N = 5..100, 60 s each
    python benchmarks/long_dependency.py --cells rnn,lstm,gru --budget 120
    python benchmarks/long_dependency.py --no-mixed --lengths 20,50
    python benchmarks/long_dependency.py --lengths 100 --cells lstm --budget 5   # smoke test
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

CELLS = ("lstm", "gru", "peephole", "cifg", "rnn")
KEYS = "abcdefgh"
FILLER = "0123456789"
MARKER = "="
CHARS = "".join(sorted(KEYS + FILLER + MARKER))  # vocabulary; id = index
KEY_IDS = np.array([CHARS.index(c) for c in KEYS])
FILLER_IDS = np.array([CHARS.index(c) for c in FILLER])
MARKER_ID = CHARS.index(MARKER)


def make_batch(rng: np.random.Generator, n: int, distance: int, mixed: bool = False):
    """n sequences key, `distance` fillers, '=', key -> inputs x, targets y, keys (n,).

    x is the sequence without its last char and y the sequence shifted by one:
    (n, distance + 2) each. y's last column is the key, predicted from '='.
    With `mixed`, each sequence's key sits at a random distance d in 1..distance
    from '=' instead, preceded by distance - d more fillers (same length).
    """
    keys = KEY_IDS[rng.integers(0, len(KEYS), n)]
    seq = FILLER_IDS[rng.integers(0, len(FILLER), (n, distance + 3))]
    if mixed and distance > 1:  # log-uniform: as many sequences with d in 1..10 as in 10..100
        d = np.exp(rng.uniform(0.0, np.log(distance + 1), n)).astype(int).clip(1, distance)
    else:
        d = np.full(n, distance)
    rows = np.arange(n)
    seq[rows, distance - d] = keys
    seq[:, -2], seq[:, -1] = MARKER_ID, keys
    return seq[:, :-1].astype("int32"), seq[:, 1:].astype("int32"), keys


def answer_accuracy(model, x, keys, batch_size: int = 500) -> float:
    """Fraction of sequences whose most likely char after '=' is the key."""
    hits = 0
    for s in range(0, len(x), batch_size):
        probs = np.asarray(model(x[s : s + batch_size, :], training=False))[:, -1, :]  # (batch, vocab)
        hits += int((probs.argmax(-1) == keys[s : s + batch_size]).sum())
    return hits / len(x)


def run_one(cell: str, distance: int, args) -> dict:
    from charlstm.config import ModelConfig
    from charlstm.training import model as model_lib
    from charlstm.training.tf_runtime import keras as _keras

    keras = _keras(args.device)
    keras.backend.clear_session()
    config = ModelConfig(
        vocab_size=len(CHARS), cell=cell, layers=1, units=args.units, embedding_dim=args.embedding_dim, dropout=0.0
    )
    model = model_lib.build(config, seed=args.seed)
    model_lib.compile(model, args.learning_rate, clip_norm=1.0, jit_compile=not args.no_jit)

    rng = np.random.default_rng([args.seed, distance])
    x_val, _, keys_val = make_batch(np.random.default_rng([args.seed, distance, 1]), args.eval_size, distance)
    weights = np.zeros((args.batch_size, distance + 2), "float32")
    weights[:, -1] = 1.0
    if args.loss == "all":
        weights[:] = 1.0

    # The first step compiles the graph (several seconds with XLA); the clock starts after it.
    x, y, _ = make_batch(rng, args.batch_size, distance, args.mixed)
    model.train_on_batch(x, y, sample_weight=weights)
    steps, t0 = 1, time.monotonic()
    deadline = t0 + args.budget
    loss = None
    while time.monotonic() < deadline and (args.max_steps is None or steps < args.max_steps):
        x, y, _ = make_batch(rng, args.batch_size, distance, args.mixed)
        loss = model.train_on_batch(x, y, sample_weight=weights, return_dict=True)["xent"]
        steps += 1
    seconds = time.monotonic() - t0
    acc = answer_accuracy(model, x_val, keys_val)
    return {
        "cell": cell,
        "distance": distance,
        "accuracy": acc,
        "steps": steps,
        "seconds": seconds,
        "loss": None if loss is None else float(loss),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--lengths", default="5,10,20,50,100", help="comma-separated distances N (filler chars between key and '=')"
    )
    ap.add_argument("--cells", default="rnn,lstm", help=f"comma-separated subset of {','.join(CELLS)}")
    ap.add_argument("--budget", type=float, default=60.0, help="training seconds per (cell, N)")
    ap.add_argument("--max-steps", type=int, default=None, help="also stop after this many steps")
    ap.add_argument("--units", type=int, default=64)
    ap.add_argument("--embedding-dim", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--learning-rate", type=float, default=3e-3)
    ap.add_argument(
        "--loss",
        choices=["answer", "all"],
        default="answer",
        help="train on the answer position only, or on every position",
    )
    ap.add_argument(
        "--mixed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="train on distances drawn log-uniformly from 1..N, or (--no-mixed) on N alone; "
        "held-out accuracy is always at N",
    )
    ap.add_argument("--eval-size", type=int, default=2000, help="held-out sequences per N")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-jit", action="store_true", help="do not XLA-compile the train step")
    ap.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    args = ap.parse_args(argv)

    try:
        lengths = [int(n) for n in args.lengths.split(",") if n.strip()]
    except ValueError:
        ap.error(f"--lengths: {args.lengths!r} is not a comma-separated list of integers")
    if not lengths or min(lengths) < 0:
        ap.error("--lengths: give one or more distances >= 0")
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    for c in cells:
        if c not in CELLS:
            ap.error(f"unknown cell {c!r}: choose from {', '.join(CELLS)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    results = {}
    for distance in lengths:
        for cell in cells:
            r = run_one(cell, distance, args)
            results[(cell, distance)] = r
            print(
                f"N={distance:4d} {cell:9s} accuracy {r['accuracy']:.3f} after {r['steps']} steps "
                f"({r['seconds']:.1f} s), last training loss "
                f"{'-' if r['loss'] is None else format(r['loss'], '.3f')}",
                file=sys.stderr,
                flush=True,
            )

    print(
        f"\nAccuracy of the char after '=' (the key, {len(KEYS)} possible: chance "
        f"{1 / len(KEYS):.3f}) on {args.eval_size} held-out sequences; 1 layer of {args.units} units, "
        f"{args.budget:g} s per run, trained on distances "
        f"{'log-uniform in 1..N' if args.mixed else 'N only'}, loss on {args.loss} position(s), "
        f"lr {args.learning_rate:g}, "
        f"seed {args.seed}. In brackets: training steps of {args.batch_size} sequences.\n"
    )
    print("| N | " + " | ".join(cells) + " |")
    print("|---:|" + "---:|" * len(cells))
    for distance in lengths:
        cols = [f"{results[(c, distance)]['accuracy']:.3f} ({results[(c, distance)]['steps']})" for c in cells]
        print(f"| {distance} | " + " | ".join(cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
