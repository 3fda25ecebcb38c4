"""Shared fixtures: a tiny corpus written on the fly, and one tiny trained run.

Models here are tiny (one layer of 16 units) so the whole suite stays within
minutes on 2 cores; real corpora appear only in the e2e tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"

TINY_TEXT = (
    "the cat sat on the mat.\nthe dog sat on the log.\n"
    "a cat and a dog met on a mat by a log.\n"
) * 40

TINY_TRAIN_ARGS = [
    "--units", "16", "--layers", "1", "--embedding-dim", "8", "--seq-length", "20",
    "--batch-size", "16", "--epochs", "2", "--seed", "7", "--sample-every", "0", "--no-jit",
]


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Default checkpoint and corpus folders inside the test's tmp dir."""
    monkeypatch.setenv("CHARLSTM_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("CHARLSTM_CORPORA", str(tmp_path / "corpora"))


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    p = tmp_path / "tiny.txt"
    p.write_text(TINY_TEXT, encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A run directory with best.keras and last.keras from a 2-epoch tiny training."""
    from charlstm.cli import main

    d = tmp_path_factory.mktemp("run")
    corpus = d / "tiny.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    result = CliRunner().invoke(main, ["train", str(corpus), "--checkpoint-dir", str(d / "ckpt"),
                                       "--quiet", *TINY_TRAIN_ARGS])
    assert result.exit_code == 0, result.output
    return d / "ckpt"


def invoke(runner, *args, input=None):
    from charlstm.cli import main

    return runner.invoke(main, [str(a) for a in args], input=input)
