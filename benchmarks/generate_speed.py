"""Generation speed: the tutorial's way against charlstm's sampler, same checkpoint, one run.

The tutorial re-runs the whole 50-char window through `model.predict` for every
character and takes the argmax. charlstm feeds the prime once and then takes one
NumPy step per character with the carried state (no TensorFlow at all).

    python benchmarks/generate_speed.py [--checkpoint CKPT]

Without --checkpoint it trains the default 2×300 model on Macbeth for 20 s first
(speed does not depend on how well the model is trained). Prints chars/s for one
stream, for --num-samples 32, the time from command start to the first generated
character on stdout, the peak RSS of a 1,000,000-char generation, and the ratios.

It also prints the one-stream step against its matvec-only ceiling: the time of
just the recurrent layers' matrix-vector products per step (h U for layer 1, whose
input projection is a table lookup; x W and h U for each further layer: three for
2 layers), with the step's own shapes, dtype (float32), (1, units) row layout and
preallocated `out=` buffers. Ceiling and sampler run interleaved in chunks of
steps, so a machine shared with other work slows both alike.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MACBETH = ROOT.parent / "shared" / "corpora" / "macbeth.txt"
sys.path.insert(0, str(ROOT))


def charlstm_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "charlstm", *map(str, args)]


def make_checkpoint(workdir: Path) -> Path:
    run = workdir / "run"
    subprocess.run(
        charlstm_cmd(
            "train", MACBETH, "--max-time", 20, "--checkpoint-dir", run, "--quiet", "--sample-every", 0, "--seed", 1
        ),
        check=True,
        cwd=ROOT,
    )
    return run / "best.keras"


def tutorial_chars_per_s(ckpt: Path, n_chars: int) -> float:
    """Window re-run per char: model.predict on the last 50 ids, argmax of the last position."""
    import numpy as np

    from charlstm.checkpoint import load
    from charlstm.training.model import load_keras_model

    meta = load(ckpt)
    model = load_keras_model(ckpt, compile=False)
    pattern = list(range(50))
    pattern = [i % len(meta.vocabulary) for i in pattern]
    model.predict(np.array([pattern], "int32"), verbose=0)  # warm-up (tracing)
    t0 = time.perf_counter()
    for _ in range(n_chars):
        probs = model.predict(np.array([pattern], "int32"), verbose=0)  # (1, 50, vocab)
        pattern = pattern[1:] + [int(np.argmax(probs[0, -1]))]
    return n_chars / (time.perf_counter() - t0)


def sampler_chars_per_s(ckpt: Path, length: int, num_samples: int) -> float:
    from charlstm.options import SampleOptions
    from charlstm.sampler.network import load_network
    from charlstm.sampler.sampling import sample_steps
    from charlstm.text.corpus import Vocabulary

    meta, net = load_network(ckpt)
    vocab = Vocabulary(meta.vocabulary)
    opts = SampleOptions(length=length, seed=1, num_samples=num_samples)
    prime = vocab.encode(meta.prime_excerpt)
    t0 = time.perf_counter()
    for _ in sample_steps(net, prime, opts, vocab.chars):
        pass
    return length * num_samples / (time.perf_counter() - t0)


def stream_vs_ceiling(ckpt: Path, length: int, chunk: int = 1000) -> tuple[float, float]:
    """(µs per one-stream step, µs of just its recurrent matvecs), timed in alternating chunks."""
    import numpy as np

    from charlstm.options import SampleOptions
    from charlstm.sampler.network import load_network
    from charlstm.sampler.sampling import sample_steps
    from charlstm.text.corpus import Vocabulary

    meta, net = load_network(ckpt)
    vocab = Vocabulary(meta.vocabulary)
    steps = sample_steps(net, vocab.encode(meta.prime_excerpt), SampleOptions(length=length, seed=1), vocab.chars)
    first, *rest = net.cells  # the step objects: fused LSTM (U_h, W_h) or reference cells (U, W)
    mats = [first.U_h if hasattr(first, "U_h") else first.U]
    for layer in rest:
        mats += [layer.W_h, layer.U_h] if hasattr(layer, "W_h") else [layer.W, layer.U]
    h = np.random.default_rng(0).normal(0, 0.5, (1, first.units)).astype(np.float32)  # (1, units) like the step's h
    outs = [np.empty((1, m.shape[1]), np.float32) for m in mats]  # (1, G*units)
    pairs = list(zip(mats, outs))
    ours = ceiling = 0.0
    for _ in range(length // chunk):
        t0 = time.perf_counter()
        for _ in range(chunk):
            for m, out in pairs:
                np.matmul(h, m, out=out)
        t1 = time.perf_counter()
        for _ in itertools.islice(steps, chunk):
            pass
        t2 = time.perf_counter()
        ceiling, ours = ceiling + t1 - t0, ours + t2 - t1
    n = (length // chunk) * chunk
    return ours / n * 1e6, ceiling / n * 1e6


def first_char_seconds(ckpt: Path, repeats: int = 5) -> float:
    """Command start to the first generated byte on stdout (best of `repeats`)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = subprocess.Popen(
            charlstm_cmd("generate", "-c", ckpt, "--no-echo-prime", "--seed", 1, "--length", 2000),
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        p.stdout.read(1)
        best = min(best, time.perf_counter() - t0)
        p.stdout.read()
        p.wait()
    return best


def peak_rss_mb(ckpt: Path, length: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    p = subprocess.Popen(
        charlstm_cmd("generate", "-c", ckpt, "--seed", 1, "--length", length), stdout=subprocess.DEVNULL, cwd=ROOT
    )
    _, status, usage = os.wait4(p.pid, 0)
    assert status == 0, status
    return usage.ru_maxrss / 1024, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description="charlstm generation speed vs the tutorial's")
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--tutorial-chars", type=int, default=100)
    ap.add_argument("--length", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or make_checkpoint(Path(tmp))
        from charlstm.checkpoint import load

        m = load(ckpt).model
        print(
            f"# generation speed, {m.layers}×{m.units} {m.cell}, {platform.node()} "
            f"({os.cpu_count()} cores), {time.strftime('%Y-%m-%d')}"
        )
        # Child processes first: a child forked after this process imported TensorFlow
        # would report the parent's RSS as its peak (ru_maxrss survives exec).
        rss, secs = peak_rss_mb(ckpt, 1_000_000)
        first = first_char_seconds(ckpt)
        step_us, ceiling_us = stream_vs_ceiling(ckpt, args.length)
        one = 1e6 / step_us
        batch = sampler_chars_per_s(ckpt, args.length // 8, 32)
        tut = tutorial_chars_per_s(ckpt, args.tutorial_chars)
    print("| measure | tutorial (window re-run, predict) | charlstm | ratio |")
    print("|---|---|---|---|")
    print(f"| one stream, chars/s | {tut:,.1f} | {one:,.0f} | {one / tut:,.0f}× |")
    print(f"| --num-samples 32, chars/s (aggregate) | {tut:,.1f} | {batch:,.0f} | {batch / tut:,.0f}× |")
    print(f"| command start → first generated char | | {first:.3f} s | |")
    print(f"| 1,000,000-char generation: peak RSS / wall time | | {rss:,.0f} MB / {secs:.1f} s | |")
    print()
    print("| one stream vs its matvec-only ceiling | µs per step | steps/s |")
    print("|---|---|---|")
    print(
        f"| recurrent matvecs only ({2 * m.layers - 1} per step, float32, out=) "
        f"| {ceiling_us:.1f} | {1e6 / ceiling_us:,.0f} |"
    )
    print(f"| charlstm one-stream step (sampling included) | {step_us:.1f} | {1e6 / step_us:,.0f} |")
    print(f"| charlstm as a share of the ceiling | {100 * ceiling_us / step_us:.0f}% | |")


if __name__ == "__main__":
    main()
