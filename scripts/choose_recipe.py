"""Choose the base's recipe on the panel of unseen text (issue 42), not on the corpus's own tail.

    python scripts/choose_recipe.py OUT_DIR [--budget 1800] [--dropout 0,0.1,0.2,0.3] [--weight-decay 0]
                                    [--learning-rate 5e-3] [--seed 1] [--corpus corpora/english.txt]

For each dropout and weight decay (every pair): `charlstm train CORPUS` for --budget seconds
(`--weight-decay` is AdamW's decoupled decay, 0 plain Adam; the default 2x300, batch 64,
the recipe's peak rate decayed over the budget, float32, as
scripts/train_base.sh runs) into OUT_DIR/dropout-D (OUT_DIR/dropout-D-wd-W with weight decay),
then that run's best checkpoint scored, base alone, on every text of the panel
(`charlstm/catalog/panel.py`, nats/char) and their mean. The recipe of the long run is the
configuration with the lowest panel mean; the corpus's own
held-out loss is printed beside it, for comparison only (the 2026-12-06 base's recipe was
chosen on it, and lost on every unseen kind of text).

Resumable across stops, one configuration at a time: a configuration whose
OUT_DIR/dropout-D/summary.json exists is not trained again (a stopped one is trained
afresh), and OUT_DIR/results.json is rewritten after each. Weight decay 0.1 is what made a
2x300 stop memorising a list of names (issue 43, benchmarks/RESULTS.md run 20); whether a
38M-char corpus, which the base underfits at dropout 0, wants any is what this measures.
Needs both cores: ~(budget + 1 minute) a configuration.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def train(corpus: Path, run_dir: Path, dropout: float, weight_decay: float, args: argparse.Namespace) -> dict:
    """One short run; its summary (train's --json output), also written to run_dir/summary.json."""
    # float32: bfloat16 is no rule (1.15x the chars/s on a Zen 4 with AVX512_BF16, RESULTS run 10;
    # 0.52x on the Intel Xeon with AVX512_BF16 and no AMX of machine G, RESULTS run 21)
    cmd = [sys.executable, "-m", "charlstm", "train", str(corpus), "--checkpoint-dir", str(run_dir)]
    cmd += ["--overwrite", "--json", "--quiet", "--sample-every", "0", "--patience", "0", "--no-mixed-precision"]
    cmd += ["--seed", str(args.seed), "--dropout", str(dropout), "--learning-rate", str(args.learning_rate)]
    cmd += ["--weight-decay", str(weight_decay)]
    cmd += ["--max-time", str(args.budget)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip()[-500:]
        sys.exit(f"training dropout {dropout}, weight decay {weight_decay} failed: {why}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def panel_scores(model: Path, texts: dict[str, str]) -> dict[str, float]:
    """kind -> nats/char of `model` alone on each panel text, and "mean"."""
    import charlstm

    m = charlstm.load(str(model))
    out = {kind: m.evaluate(text=text)["nats_per_char"] for kind, text in texts.items()}
    out["mean"] = sum(out.values()) / len(texts)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--budget", type=float, default=1800, help="seconds of training per configuration")
    ap.add_argument("--dropout", default="0,0.1,0.2,0.3", help="comma-separated values to try")
    ap.add_argument("--weight-decay", default="0", help="comma-separated values to try with each dropout")
    ap.add_argument("--learning-rate", type=float, default=5e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", type=Path, default=ROOT / "corpora" / "english.txt")
    args = ap.parse_args(argv)
    import tempfile

    from charlstm.catalog import panel
    from charlstm.checkpoint import BEST

    if not args.corpus.is_file():
        sys.exit(f"{args.corpus}: no corpus; run `charlstm corpus fetch english` first")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        texts = panel.load(Path(tmp))
    results_path = args.out_dir / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    decays = [float(w) for w in args.weight_decay.split(",") if w]
    for dropout in [float(d) for d in args.dropout.split(",") if d]:
        for weight_decay in decays:
            key = f"dropout-{dropout:g}" + (f"-wd-{weight_decay:g}" if weight_decay else "")
            run_dir = args.out_dir / key
            summary_path = run_dir / "summary.json"
            summary = json.loads(summary_path.read_text()) if summary_path.exists() else None
            if summary is None:
                summary = train(args.corpus, run_dir, dropout, weight_decay, args)
            if key not in results:
                scores = panel_scores(run_dir / BEST, texts)
                results[key] = {"dropout": dropout, "weight_decay": weight_decay, "summary": summary, "panel": scores}
                results_path.write_text(json.dumps(results, indent=1) + "\n")
    ranked = sorted(results.values(), key=lambda r: r["panel"]["mean"])
    kinds = [k for k in ranked[0]["panel"] if k != "mean"]
    print("| dropout | weight decay | panel mean | " + " | ".join(kinds) + " | corpus held-out (bits/char) |")
    print("|---|---|---|" + "---|" * len(kinds) + "---|")
    for r in ranked:
        held = r["summary"].get("val_bits_per_char")
        cells = " | ".join(f"{r['panel'][k]:.4f}" for k in kinds)
        print(
            f"| {r['dropout']:g} | {r.get('weight_decay', 0.0):g} | {r['panel']['mean']:.4f} | {cells} | "
            f"{held if held is None else f'{held:.4f}'} |"
        )


if __name__ == "__main__":
    main()
