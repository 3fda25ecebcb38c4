"""How far `charlstm serve`'s default (one matrix-matrix product for the batch) drifts from `charlstm generate`.

    python benchmarks/serve_drift.py [--checkpoint base] [--requests 200] [--clients 32] [--chars 500]
    python benchmarks/serve_drift.py --requests 20 --chars 200   # a check

Sends --requests seeded streamed completions (seeds 0, 1, ...; prompt "the ", temperature
1), --clients at a time, to a default server (`--max-batch` = --clients), and compares
each text with what `charlstm generate --prime "the " --seed SEED --length CHARS
--no-echo-prime` prints (`Model.generate`, in this process). Prints the fraction equal,
the median (and quartiles) of the first differing position among those that differ,
and the same comparison for a few requests sent one at a time (a row alone is a (1, units)
product, `generate`'s own: all should be equal), and then the same for an `--exact` server
(all equal by construction: a check of the benchmark itself).
The figure the README and `serve --help` quote for `--exact` is this one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from serve_load import PROMPT, Server  # noqa: E402


def texts(server: Server, requests: int, chars: int, concurrency: int) -> list[str]:
    cmd = [sys.executable, str(HERE / "_sse_client.py"), server.host, str(server.port), "--requests", str(requests)]
    cmd += ["--chars", str(chars), "--concurrency", str(concurrency), "--prompt", PROMPT, "--texts"]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    assert all(r[0] == 200 and r[2] == chars for r in out["results"]), [r[:3] for r in out["results"]]
    return [r[3] for r in out["results"]]


def drift(got: list[str], want: list[str]) -> dict:
    """The fraction equal, and where the others first differ."""
    firsts = sorted(
        next(i for i, (a, b) in enumerate(zip(g + "\0", w + "\1")) if a != b) for g, w in zip(got, want) if g != w
    )
    row = {"requests": len(got), "equal_fraction": 1 - len(firsts) / len(got)}
    if firsts:
        q = statistics.quantiles(firsts, n=4) if len(firsts) > 1 else [firsts[0]] * 3
        row |= {"first_difference_median": statistics.median(firsts), "first_difference_quartiles": [q[0], q[2]]}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="base", help="a checkpoint, run, or base (default)")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--chars", type=int, default=500)
    ap.add_argument("--alone", type=int, default=5, help="requests sent one at a time")
    args = ap.parse_args()
    import charlstm

    start = time.perf_counter()
    model = charlstm.load(args.checkpoint)
    want = [model.generate(prime=PROMPT, length=args.chars, seed=s, echo_prime=False) for s in range(args.requests)]
    for mode in ("default", "exact"):
        flags = ("--exact",) if mode == "exact" else ()
        server = Server(Path(model.path), "--max-batch", args.clients, *flags)
        try:
            batched = texts(server, args.requests, args.chars, args.clients)
            alone = texts(server, args.alone, args.chars, 1)
        finally:
            server.stop()
        print(json.dumps({"mode": mode, "clients": args.clients, "chars": args.chars, **drift(batched, want)}))
        print(json.dumps({"mode": mode, "clients": 1, "chars": args.chars, **drift(alone, want[: args.alone])}))
    print(json.dumps({"seconds": round(time.perf_counter() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
