"""Training speed, quality and memory: charlstm against the classic tutorial, one run.

    python benchmarks/train_speed.py [--budget 300] [--tiny-budget 180] [--memory]

1. The tutorial (benchmarks/baseline_tutorial.py) and `charlstm train` each train
   on lowercased Macbeth for the same wall-clock budget, in their own process.
   For each: target chars/s (a target is one predicted character), held-out
   bits/char on the last 10%, peak RSS; then the ratios.
2. Both sides' training FLOP per target and achieved GFLOP/s against a large fp32
   matmul's GFLOP/s measured in this run (the machine's ceiling), and what ratio
   the ceiling allows at all: the tutorial already runs at some fraction of it, so
   charlstm's ratio can be at most (ceiling / its FLOP per char) / tutorial chars/s.
3. Throughput at --peak-batch (default 256) for --peak-budget seconds: the
   default batch (64) learns fastest per second, larger batches run faster.
4. tinyshakespeare with nanoGPT's split (first 90% train, last 10% val, case
   kept) for --tiny-budget seconds: best validation nats/char, both as training
   measures it (50-char windows from a zero state) and with the state carried
   across the whole held-out text (`charlstm eval`, char-rnn's convention).
5. With --memory: peak RSS of training on a 100 MB corpus (shakespeare.txt
   repeated) and the time to encode 100 MB of text to ids.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import CORPORA, ROOT, train_cmd  # beside this file

sys.path.insert(0, str(ROOT))


def run(cmd: list[str]) -> tuple[str, float, float]:
    """stdout, wall seconds and peak RSS (MB) of a child process."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    if status != 0:
        raise SystemExit(f"failed ({status}): {' '.join(cmd)}")
    return out, time.monotonic() - t0, usage.ru_maxrss / 1024


def charlstm_train(corpus: Path, budget: float, run_dir: Path, *extra) -> dict:
    cmd = train_cmd(corpus, budget, run_dir, *extra)
    out, wall, rss = run(cmd)
    summary = json.loads(out)
    from charlstm.checkpoint import load

    meta = load(run_dir / "last.keras")
    hist = meta.history
    steady = [h for h in hist[1:] if h["seconds"] > 0] or hist  # epoch 1 includes tracing
    steady_cps = sum(h["chars"] for h in steady) / sum(h["seconds"] for h in steady)
    best = min(h["val_bits_per_char"] for h in hist)
    return {
        "summary": summary,
        "meta": meta,
        "wall": wall,
        "peak_rss_mb": rss,
        "target_chars_per_s": steady_cps,
        "val_bits_per_char": best,
        "val_nats_per_char": best * math.log(2),
        "epochs": summary["epochs"],
    }


def tutorial_flops_per_target(vocab_size: int, seq: int = 50, units: int = 300) -> float:
    """The tutorial runs all 50 steps of both layers for each single predicted char."""
    fwd = seq * 2 * ((1 + units) + (units + units)) * 4 * units + 2 * units * vocab_size
    return 3 * fwd


def train_flops_per_char(m) -> float:
    """Forward multiply-adds ×2, ×3 for forward + backward (the usual estimate)."""
    gates = {"lstm": 4, "peephole": 4, "cifg": 3, "gru": 3, "rnn": 1}[m.cell]
    fwd, width = 0, m.embedding_dim
    for _ in range(m.layers):
        fwd += 2 * (width + m.units) * gates * m.units
        width = m.units
    fwd += 2 * m.units * m.vocab_size
    return 3 * fwd


def matmul_gflops() -> float:
    """In a child process: this one stays TensorFlow-free, so the RSS it reports for
    its later children is theirs (ru_maxrss survives fork + exec)."""
    out, _, _ = run([sys.executable, __file__, "--matmul"])
    return float(out)


def _matmul_gflops(n: int = 2048, seconds: float = 5.0) -> float:
    from charlstm.training.tf_runtime import tensorflow

    tf = tensorflow("cpu")
    a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
    f = tf.function(lambda a, b: tf.matmul(a, b))
    f(a, b).numpy()
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        c = f(a, b)
        reps += 1
    c.numpy()
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def encode_seconds(mb: int = 100) -> tuple[float, int]:
    from charlstm.text.corpus import Vocabulary

    text = (CORPORA / "shakespeare.txt").read_text() * math.ceil(mb * 1e6 / 4_784_817)
    t0 = time.perf_counter()
    ids = Vocabulary.from_text(text).encode(text)
    return time.perf_counter() - t0, ids.itemsize


def macbeth_table(base, ours, peak) -> None:
    m = ours["meta"].model
    flops = train_flops_per_char(m)
    ceiling = matmul_gflops()
    achieved = ours["target_chars_per_s"] * flops / 1e9

    print("\n| lowercased Macbeth, same budget | tutorial | charlstm | ratio |")
    print("|---|---|---|---|")
    if base:
        print(
            f"| target chars/s | {base['target_chars_per_s']:,.0f} | {ours['target_chars_per_s']:,.0f} | "
            f"{ours['target_chars_per_s'] / base['target_chars_per_s']:,.0f}× |"
        )
        if peak:
            ratio = peak["target_chars_per_s"] / base["target_chars_per_s"]
            print(
                f"| target chars/s, charlstm at batch {peak['batch']} | {base['target_chars_per_s']:,.0f} | "
                f"{peak['target_chars_per_s']:,.0f} | {ratio:,.0f}× |"
            )
        print(
            f"| held-out bits/char (nats) | {base['val_bits_per_char']:.3f} ({base['val_nats_per_char']:.3f}) | "
            f"{ours['val_bits_per_char']:.3f} ({ours['val_nats_per_char']:.3f}) | "
            f"{ours['val_bits_per_char'] / base['val_bits_per_char']:.2f}× |"
        )
        print(
            f"| peak RSS | {base['peak_rss_mb']:,.0f} MB | {ours['peak_rss_mb']:,.0f} MB | "
            f"{ours['peak_rss_mb'] / base['peak_rss_mb']:.2f}× |"
        )
    else:
        print(f"| target chars/s | - | {ours['target_chars_per_s']:,.0f} | |")
        bpc, nats = ours["val_bits_per_char"], ours["val_nats_per_char"]
        print(f"| held-out bits/char (nats) | - | {bpc:.3f} ({nats:.3f}) | |")
        print(f"| peak RSS | - | {ours['peak_rss_mb']:,.0f} MB | |")
    print(
        f"\ncharlstm model: {m.layers}×{m.units} {m.cell}, batch {ours['meta'].training.batch_size}, "
        f"{ours['epochs']:.1f} epochs in the budget; {flops / 1e6:.2f} MFLOP per trained char"
    )
    print(f"fp32 matmul ceiling (2048², tf.matmul): {ceiling:,.0f} GFLOP/s")
    print(
        f"charlstm achieved {achieved:,.0f} GFLOP/s ({achieved / ceiling:.0%} of the ceiling)"
        + (
            f"; at batch {peak['batch']} {peak['target_chars_per_s'] * flops / 1e9:,.0f} GFLOP/s "
            f"({peak['target_chars_per_s'] * flops / 1e9 / ceiling:.0%})"
            if peak
            else ""
        )
    )
    if base:
        tflops = tutorial_flops_per_target(m.vocab_size)
        t_achieved = base["target_chars_per_s"] * tflops / 1e9
        bound = ceiling * 1e9 / flops
        print(
            f"tutorial: {tflops / 1e6:.0f} MFLOP per target ({tflops / flops:.0f}× charlstm's), achieved "
            f"{t_achieved:,.0f} GFLOP/s ({t_achieved / ceiling:.0%} of the ceiling)"
        )
        print(
            f"bound: charlstm's model at 100% of the ceiling would train {bound:,.0f} chars/s = "
            f"{bound / base['target_chars_per_s']:,.0f}× the tutorial measured here"
        )


def held_out_carried(run_dir: Path, corpus: Path, val_fraction: float = 0.1) -> float:
    """Nats/char on the held-out tail with the state carried throughout (`charlstm eval`)."""
    from charlstm import checkpoint as ckpt_io
    from charlstm.sampler.evaluation import evaluate_text
    from charlstm.sampler.network import load_network
    from charlstm.text.corpus import Vocabulary, read_corpus

    ckpt, net = load_network(run_dir / ckpt_io.BEST)
    text = read_corpus([str(corpus)], ckpt.training.lowercase)
    tail = text[len(text) - int(round(len(text) * val_fraction)) :]
    return evaluate_text(net, Vocabulary(ckpt.vocabulary), tail)["nats_per_char"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=300, help="seconds per Macbeth run")
    ap.add_argument("--tiny-budget", type=float, default=180, help="seconds on tinyshakespeare (0 = skip)")
    ap.add_argument("--memory", action="store_true", help="also the 100 MB corpus memory run")
    ap.add_argument("--peak-batch", type=int, default=256, help="batch size of the throughput run")
    ap.add_argument("--peak-budget", type=float, default=90, help="seconds of the throughput run (0 = skip)")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--skip-macbeth", action="store_true", help="only the tinyshakespeare/memory parts")
    ap.add_argument("--matmul", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.matmul:
        print(_matmul_gflops())
        return
    print(
        f"# train_speed on {platform.node()} ({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}, "
        f"budget {args.budget:.0f} s",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        macbeth = CORPORA / "macbeth.txt"
        base = None
        if args.skip_macbeth:
            pass
        elif not args.skip_baseline:
            out, _, rss = run(
                [
                    sys.executable,
                    str(ROOT / "benchmarks" / "baseline_tutorial.py"),
                    str(macbeth),
                    "--budget",
                    str(args.budget),
                ]
            )
            base = json.loads(out)
            base["peak_rss_mb"] = rss
        if not args.skip_macbeth:
            ours = charlstm_train(macbeth, args.budget, tmp / "macbeth", "--lowercase")
            peak = None
            if args.peak_budget:
                peak = charlstm_train(
                    macbeth,
                    args.peak_budget,
                    tmp / "peak",
                    "--lowercase",
                    "--batch-size",
                    args.peak_batch,
                    "--patience",
                    0,
                )
                peak["batch"] = args.peak_batch
            macbeth_table(base, ours, peak)

        if args.tiny_budget:
            tiny = charlstm_train(
                CORPORA / "tinyshakespeare.txt",
                args.tiny_budget,
                tmp / "tiny",
                "--val-fraction",
                0.1,
            )
            carried = held_out_carried(tmp / "tiny", CORPORA / "tinyshakespeare.txt")
            print(
                f"\ntinyshakespeare (nanoGPT split), {args.tiny_budget:.0f} s: best val "
                f"{tiny['val_nats_per_char']:.3f} nats/char ({tiny['val_bits_per_char']:.3f} bits/char) "
                f"in 50-char windows, {carried:.3f} nats/char with the state carried; "
                f"{tiny['epochs']:.2f} epochs, {tiny['target_chars_per_s']:,.0f} chars/s"
            )

        if args.memory:
            big = tmp / "big.txt"
            data = (CORPORA / "shakespeare.txt").read_bytes()
            with open(big, "wb") as f:
                for _ in range(math.ceil(100e6 / len(data))):
                    f.write(data)
            mem = charlstm_train(big, 60, tmp / "big")
            secs, itemsize = encode_seconds(100)  # after the child: its text would inflate their RSS
            print(
                f"\n100 MB corpus: encoding to ids {secs:.2f} s ({itemsize} byte/char); "
                f"training peak RSS {mem['peak_rss_mb']:,.0f} MB"
            )


if __name__ == "__main__":
    main()
