"""Does a row of a batched float32 product keep its bits whatever the batch? (What `serve --exact` rests on.)

    python benchmarks/batch_invariance.py [--checkpoint CKPT] [--rows 256] [--repeats 200]

For each matrix the sampler multiplies by (every layer's input and recurrent kernels and
the softmax, of CKPT, default the bundled base model), and for a grid of other shapes
(K, N), it multiplies M random rows at once for M = 2 .. --rows and counts the M whose
rows are not bit-identical to (a) the same row multiplied alone (a (1, K) product: what
`charlstm generate` computes for one sample) and (b) the same row in a 2-row product.
Then the price of exactness at 32 rows: the rows stacked as (32, 1, K), one
matrix-vector product each (what `serve --exact` does), against one (32, K) product.

A row whose bits depend on the batch is why the exact server cannot use one
matrix-matrix product: if every M gave (b)'s bits, the CLI could multiply its one sample
as a 2-row product and the server could batch exactly. It prints one JSON line per shape
and one for the timings. NumPy's BLAS decides; the result is this machine's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GRID = [(k, n) for k in (64, 300, 512, 600) for n in (128, 133, 200, 900, 1024, 1200, 2048)]


def differing(W: np.ndarray, rows: int, rng) -> dict:
    """Counts of M in 2..rows whose rows differ from the same row alone / in a 2-row product."""
    X = rng.standard_normal((rows, W.shape[0])).astype(np.float32)
    alone = np.stack([(X[i : i + 1] @ W)[0] for i in range(rows)])  # (rows, N) each row by itself
    pair = np.stack([(np.repeat(X[i : i + 1], 2, axis=0) @ W)[0] for i in range(rows)])
    vs_alone, vs_pair = [], []
    for m in range(2, rows + 1):
        out = X[:m] @ W  # (m, N)
        if not (out == alone[:m]).all():
            vs_alone.append(m)
        if not (out == pair[:m]).all():
            vs_pair.append(m)
    return {
        "K": W.shape[0],
        "N": W.shape[1],
        "M_tried": rows - 1,
        "M_differing_from_alone": len(vs_alone),
        "M_differing_from_2_row": len(vs_pair),
        "first_M_differing_from_2_row": vs_pair[0] if vs_pair else None,
    }


def timings(W: np.ndarray, rows: int, repeats: int, rng) -> dict:
    X = rng.standard_normal((rows, W.shape[0])).astype(np.float32)
    stacked, out_s, out_b = X[:, None, :].copy(), np.empty((rows, 1, W.shape[1]), np.float32), None
    out_b = np.empty((rows, W.shape[1]), np.float32)

    def per_call(f) -> float:
        f()
        start = time.perf_counter()
        for _ in range(repeats):
            f()
        return (time.perf_counter() - start) / repeats * 1e6

    one = per_call(lambda: np.matmul(stacked, W, out=out_s))
    batch = per_call(lambda: np.matmul(X, W, out=out_b))
    shape = {"rows": rows, "K": W.shape[0], "N": W.shape[1]}
    return {**shape, "stacked_us": round(one, 1), "batched_us": round(batch, 1), "ratio": round(one / batch, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="base", help="a checkpoint, a run, or base (default)")
    ap.add_argument("--rows", type=int, default=256, help="largest batch tried")
    ap.add_argument("--repeats", type=int, default=200, help="calls per timing")
    args = ap.parse_args()
    import charlstm

    net = charlstm.load(args.checkpoint).network
    rng = np.random.default_rng(0)
    named = {
        f"layer{i}/{name}": a for i, arrays in enumerate(net.layers, 1) for name, a in arrays.items() if a.ndim == 2
    }
    named["softmax"] = net.W_out
    for name, W in named.items():
        print(json.dumps({"matrix": name, **differing(np.ascontiguousarray(W), args.rows, rng)}), flush=True)
    for k, n in GRID:
        W = (rng.standard_normal((k, n)) * 0.05).astype(np.float32)
        print(json.dumps({"matrix": "random", **differing(W, args.rows, rng)}), flush=True)
    W = np.ascontiguousarray(net.layers[-1]["recurrent_kernel"])
    print(json.dumps({"timing": timings(W, 32, args.repeats, rng)}))


if __name__ == "__main__":
    main()
