"""Shared fixtures: a tiny corpus written on the fly, and one tiny trained run (helpers.py: data).

Models here are tiny (one layer of 16 units) so the whole suite stays within
minutes on 2 cores; real corpora appear only in the e2e tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import TINY_TEXT, TINY_TRAIN_ARGS

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Default checkpoint and corpus folders inside the test's tmp dir, and no base model
    (a bundled one would change what `generate` with no run does): a test that wants one
    points CHARLSTM_BASE_MODEL at a stand-in (tests/test_finetune.py)."""
    monkeypatch.setenv("CHARLSTM_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("CHARLSTM_CORPORA", str(tmp_path / "corpora"))
    monkeypatch.setenv("CHARLSTM_BASE_MODEL", str(tmp_path / "no-base-model.keras"))


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
    result = CliRunner().invoke(
        main, ["train", str(corpus), "--checkpoint-dir", str(d / "ckpt"), "--quiet", *TINY_TRAIN_ARGS]
    )
    assert result.exit_code == 0, result.output
    return d / "ckpt"


@pytest.fixture
def op_determinism():
    """TensorFlow's deterministic ops for one test, switched back off after it.

    `tf.config.experimental.enable_op_determinism()` sets a process-wide flag and TF
    has no public way back; `tensorflow.python.framework.config.disable_op_determinism`
    (what the public one wraps: `_pywrap_determinism.enable(False)`) is the way back.
    """
    from tensorflow.python.framework import config as tf_config

    from charlstm.tf_runtime import tensorflow

    tf = tensorflow()
    was = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield tf
    if not was:
        tf_config.disable_op_determinism()
