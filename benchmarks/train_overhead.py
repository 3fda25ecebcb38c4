"""Where a budgeted run's wall-clock goes: training steps against validation, samples, checkpoints, set-up.

    python benchmarks/train_overhead.py [--budget 60] [--corpus ../shared/corpora/tinyshakespeare.txt]
                                        [--sample-every 1] [-- extra charlstm train options as key=value]

One `charlstm.train` run in this process (reads ../shared/corpora, beside the repository),
its loop's parts wrapped with timers: set-up (TensorFlow, batches, the model, the first
log lines), the training steps, validation during the run, the end-of-run scoring of the
whole held-out split, samples and checkpoint writes. Prints each part's seconds and share
of the wall-clock, and of the budget. Issue 44's target: everything but training steps at
most 3% of a 10-minute budget. Run it alone: it times the two cores.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import CORPORA, ROOT  # beside this file

sys.path.insert(0, str(ROOT))


def timed(table: dict, key: str, fn):
    def wrapper(*args, **kwargs):
        t0 = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            table[key] += time.monotonic() - t0

    return wrapper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budget", type=float, default=60.0, help="--max-time of the run, seconds")
    ap.add_argument("--corpus", type=Path, default=CORPORA / "tinyshakespeare.txt")
    ap.add_argument("--sample-every", type=int, default=1)
    ap.add_argument("options", nargs="*", help="more charlstm.train options, key=value (units=300)")
    args = ap.parse_args()
    extra = {k: ast.literal_eval(v) for k, v in (o.split("=", 1) for o in args.options)}

    from charlstm.training import loop, plan, setup

    seconds: dict[str, float] = defaultdict(float)
    # set-up: the plan (corpus encoded) and TrainingSetup (TensorFlow, batches, model)
    plan.plan_run = timed(seconds, "plan (corpus, split)", plan.plan_run)
    setup_init = setup.TrainingSetup.__init__
    setup.TrainingSetup.__init__ = timed(seconds, "set-up (TensorFlow, model)", setup_init)
    run_cls = loop.TrainingRun
    run_cls._save = timed(seconds, "checkpoints", run_cls._save)
    run_cls._sample = timed(seconds, "samples", run_cls._sample)
    if hasattr(run_cls, "_final_score"):
        run_cls._final_score = timed(seconds, "the whole tail scored at the end", run_cls._final_score)
    original_epoch = run_cls._end_epoch

    def end_epoch(self, *a, **k):  # validation is the engine's evaluate inside _end_epoch
        evaluate = self.setup.engine.evaluate
        self.setup.engine.evaluate = timed(seconds, "validation during the run", evaluate)
        try:
            return original_epoch(self, *a, **k)
        finally:
            self.setup.engine.evaluate = evaluate

    run_cls._end_epoch = end_epoch

    import charlstm
    from charlstm.training import sizing

    probe_before = sizing.probe_chars_per_s()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        result = charlstm.train(
            str(args.corpus),
            checkpoint_dir=Path(tmp) / "run",
            max_time=args.budget,
            seed=1,
            sample_every=args.sample_every,
            verbose=False,
            **extra,
        )
    wall = time.monotonic() - t0
    steps = result.history and sum(h.get("seconds", 0.0) for h in result.history)
    print(
        f"{args.corpus.name}, --max-time {args.budget:g}: wall {wall:.1f} s, {result.epochs:.2f} epochs, "
        f"{result.train_chars_per_s:,.0f} chars/s, final {result.val_bits_per_char:.4f} bits/char"
    )
    probe = (probe_before + sizing.probe_chars_per_s()) / 2
    efficiency = sizing.PROBE_EFFICIENCY * result.train_chars_per_s / probe
    print(
        f"the card-speed probe: ~{probe:,.0f} chars/s (before and after); a 2×300 run's measured speed / the "
        f"probe's matmul estimate = {efficiency:.2f} (sizing.PROBE_EFFICIENCY is {sizing.PROBE_EFFICIENCY})"
    )
    rows = [("training steps", steps), *sorted(seconds.items(), key=lambda kv: -kv[1])]
    other = wall - sum(v for _, v in rows)
    rows.append(("other (loop, progress, TF import before set-up)", other))
    print("| part | seconds | share of the wall-clock | share of the budget |")
    print("|---|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s:.2f} | {100 * s / wall:.1f}% | {100 * s / args.budget:.1f}% |")
    print(
        f"| everything but training steps | {wall - steps:.2f} | {100 * (wall - steps) / wall:.1f}% | "
        f"{100 * (wall - steps) / args.budget:.1f}% |"
    )


if __name__ == "__main__":
    main()
