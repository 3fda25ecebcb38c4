"""What the benchmarks share: where things are, and one `charlstm train` child process.

Every benchmark trains in child processes (so each run's RSS and thread pool are
its own, and TensorFlow never loads in the parent); they all build the command here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository
# the public-domain corpora beside it (never copied in), or beside a worktree's parent folder
CORPORA = next(
    (p / "shared" / "corpora" for p in ROOT.parents[:2] if (p / "shared" / "corpora").is_dir()),
    ROOT.parent / "shared" / "corpora",
)


def train_cmd(corpus: Path, budget: float, run_dir: Path, *extra, seed: int = 1) -> list[str]:
    """`charlstm train CORPUS` for `budget` seconds into a fresh `run_dir`, its summary as JSON
    on stdout, no progress bar and no samples during training (they are not training time)."""
    return [
        sys.executable,
        "-m",
        "charlstm",
        "train",
        str(corpus),
        "--max-time",
        str(budget),
        "--seed",
        str(seed),
        "--checkpoint-dir",
        str(run_dir),
        "--json",
        "--quiet",
        "--sample-every",
        "0",
        "--overwrite",
        *map(str, extra),
    ]


def run_json(cmd: list[str], cwd: Path) -> tuple[dict, float]:
    """The last stdout line of a child as JSON, and its wall seconds (a failed child ends the benchmark)."""
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1]), time.monotonic() - t0
