"""Shared test data and helpers (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

# ../shared/corpora beside the checkout (or beside a worktree's parent folder)
SHARED = next(
    (p / "shared" / "corpora" for p in Path(__file__).resolve().parents[2:4] if (p / "shared" / "corpora").is_dir()),
    Path(__file__).resolve().parents[2] / "shared" / "corpora",
)

TINY_TEXT = ("the cat sat on the mat.\nthe dog sat on the log.\na cat and a dog met on a mat by a log.\n") * 40

TINY_TRAIN_ARGS = [
    "--units",
    "16",
    "--layers",
    "1",
    "--embedding-dim",
    "8",
    "--seq-length",
    "20",
    "--batch-size",
    "16",
    "--epochs",
    "2",
    "--seed",
    "7",
    "--sample-every",
    "0",
    "--no-jit",
]


def invoke(runner, *args, input=None):
    """Run the CLI in-process with CliRunner; every argument is str()-ed (Paths welcome)."""
    from charlstm.cli import main

    return runner.invoke(main, [str(a) for a in args], input=input)
