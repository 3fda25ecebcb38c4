"""The server's stepping loop without HTTP against `generate --num-samples N`'s, the time split per step.

    python benchmarks/serve_step.py [--checkpoint base] [--rows 32] [--chars 500] [--rounds 3]

In this one process, alternating rounds: (1) `sample_steps` for N samples, as `charlstm
generate --num-samples N` runs it; (2) a `Batcher` (serve/batcher.py) stepping N jobs of the
same length on its own thread, publishing each step as the engine does (`engine.Messages`,
pickled as the pipe carries it, written to /dev/null), in the default (one product for the
batch) and `--exact`. Per step: the whole, the network step (`Stepper.step`: the products
and the gates, the same code on both sides) and the rest (picking, draws, pieces,
publishing): the issue's target is the batcher's rest within 1.2× of generate's.
Run it with the engine's BLAS threads (`OPENBLAS_NUM_THREADS=1`) to compare like with like.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from charlstm.options import SampleOptions
from charlstm.sampler import network
from charlstm.sampler.generation import Sampler
from charlstm.sampler.sampling import sample_steps
from charlstm.serve.batcher import Batcher, Job
from charlstm.serve.engine import Messages

PROMPT = "the "
_in_network = [0.0]
_step = network.Stepper.step


def _timed_step(self, ids):
    t = time.perf_counter()
    out = _step(self, ids)
    _in_network[0] += time.perf_counter() - t
    return out


def generate(sampler: Sampler, rows: int, chars: int) -> tuple[float, float, int]:
    """(seconds, seconds in the network step, steps) of `generate --num-samples rows`'s loop."""
    request = sampler.request(SampleOptions(prime=PROMPT, length=chars, seed=1, num_samples=rows))
    parts = [[] for _ in range(rows)]
    _in_network[0] = 0.0
    start = time.perf_counter()
    for pieces in sample_steps(sampler.network, request, sampler.vocabulary.chars):
        for p, piece in zip(parts, pieces):  # as generation.stream keeps them
            p.append(piece)
    return time.perf_counter() - start, _in_network[0], chars + len(request.prime_ids)


def batcher(sampler: Sampler, rows: int, chars: int, exact: bool) -> tuple[float, float, int]:
    """(seconds, seconds in the network step, steps) of a Batcher stepping `rows` jobs to their end."""
    sink = os.open(os.devnull, os.O_WRONLY)
    request = sampler.request(SampleOptions(prime=PROMPT, length=chars, seed=1, num_samples=rows))
    message = Messages()
    b = Batcher(
        sampler.network,
        sampler.vocabulary.chars,
        rows,
        0,
        lambda s: os.write(sink, message(s)),
        exact=exact,
    )
    assert b.submit([Job(request.sample(k), key=k) for k in range(rows)])
    b.close(None)
    _in_network[0] = 0.0
    start = time.perf_counter()
    b.start()
    b.join()
    os.close(sink)
    return time.perf_counter() - start, _in_network[0], b.steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="base")
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--chars", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import charlstm

    sampler = charlstm.load(args.checkpoint)
    network.Stepper.step = _timed_step
    sides = {
        "generate": lambda: generate(sampler, args.rows, args.chars),
        "serve_default": lambda: batcher(sampler, args.rows, args.chars, exact=False),
        "serve_exact": lambda: batcher(sampler, args.rows, args.chars, exact=True),
    }
    found = {name: [] for name in sides}
    for _ in range(args.rounds):  # alternating: a loaded machine's slow spells hit every side
        for name, run in sides.items():
            found[name].append(run())
    split = {}
    for name, runs in found.items():
        whole = statistics.median(1e6 * t / n for t, _, n in runs)
        net = statistics.median(1e6 * k / n for _, k, n in runs)
        rest = statistics.median(1e6 * (t - k) / n for t, k, n in runs)
        split[name] = rest
        row = {"side": name, "rows": args.rows, "us_per_step": whole, "network_us": net, "rest_us": rest}
        row["chars_per_s"] = args.rows * args.chars / statistics.median(t for t, _, _ in runs)
        print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    ratio = {f"{n}_rest_vs_generate": round(split[n] / split["generate"], 2) for n in ("serve_default", "serve_exact")}
    print(json.dumps({**ratio, "target_le": 1.2, "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default")}))


if __name__ == "__main__":
    main()
