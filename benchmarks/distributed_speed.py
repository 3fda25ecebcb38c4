"""One process with 2 threads against 2 workers with 1 thread each, on loopback.

    python benchmarks/distributed_speed.py [--budget 60] [--corpus tinyshakespeare.txt]

Both train the default model on the same global batches (--batch-size 64: each worker
takes 32 rows) for --budget seconds; reported: training chars/s of each, and the cost
of one all-reduce of the model's gradients (1.2M float32 ≈ 4.7 MB; the step does two:
charlstm's own sum before clipping, then the Keras optimizer's), timed alone between
the two workers. Run it alone: it needs both cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPORA, ROOT, train_cmd  # beside this file

sys.path.insert(0, str(ROOT / "tests"))  # the loopback cluster launcher the distributed tests use
from cluster import loopback, tf_config  # noqa: E402


def env(threads: int, **extra) -> dict:
    e = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    return {
        **e,
        "TF_NUM_INTRAOP_THREADS": str(threads),
        "TF_NUM_INTEROP_THREADS": str(threads),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


def allreduce_child(index: int, addresses: list[str], n: int, reps: int) -> None:
    os.environ["TF_CONFIG"] = tf_config(addresses, index)
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    value = strategy.experimental_distribute_values_from_function(lambda ctx: tf.ones([n]))

    @tf.function
    def reduce(v):
        return strategy.run(
            lambda x: tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(x)),
            args=(v,),
        )

    reduce(value)  # warm-up: tracing and the collective's set-up
    t0 = time.perf_counter()
    for _ in range(reps):
        out = reduce(value)
    float(strategy.experimental_local_results(out)[0][0])
    if index == 0:
        print(json.dumps({"ms": (time.perf_counter() - t0) / reps * 1000}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=60)
    ap.add_argument("--corpus", default=str(CORPORA / "tinyshakespeare.txt"))
    ap.add_argument("--allreduce-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--addresses", default="", help=argparse.SUPPRESS)
    ap.add_argument("--floats", type=int, default=1_200_000)
    args = ap.parse_args()
    if args.allreduce_child is not None:
        allreduce_child(args.allreduce_child, args.addresses.split(","), args.floats, 50)
        return
    corpus = Path(args.corpus)
    print(
        f"# distributed_speed, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {args.budget:.0f} s, "
        f"{corpus.name}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        one = json.loads(
            subprocess.run(
                train_cmd(corpus, args.budget, tmp / "one"), env=env(2), check=True, capture_output=True, text=True
            ).stdout
        )
        addresses = loopback(2)
        procs = [
            subprocess.Popen(
                train_cmd(corpus, args.budget, tmp / f"w{i}", "--strategy", "multi-worker"),
                env=env(1, TF_CONFIG=tf_config(addresses, i)),
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        outs = [p.communicate()[0] for p in procs]
        two = json.loads(outs[0])
        addresses = loopback(2)
        kids = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--allreduce-child",
                    str(i),
                    "--addresses",
                    ",".join(addresses),
                    "--floats",
                    str(args.floats),
                ],
                env=env(1),
                stdout=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        ms = json.loads(kids[0].communicate()[0])["ms"]
        kids[1].wait()
    print("\n| | 1 process × 2 threads | 2 workers × 1 thread (loopback) | ratio |")
    print("|---|---|---|---|")
    print(
        f"| training chars/s | {one['train_chars_per_s']:,.0f} | {two['train_chars_per_s']:,.0f} | "
        f"{two['train_chars_per_s'] / one['train_chars_per_s']:.2f}× |"
    )
    print(
        f"| best val bits/char after {args.budget:.0f} s | {one['val_bits_per_char']:.3f} | "
        f"{two['val_bits_per_char']:.3f} | |"
    )
    print(
        f"\none all-reduce of {args.floats:,} float32 ({args.floats * 4 / 1e6:.1f} MB) between 2 workers: "
        f"{ms:.1f} ms (a step does two)"
    )


if __name__ == "__main__":
    main()
