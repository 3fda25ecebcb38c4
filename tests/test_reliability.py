"""Resume, interruption, crash-proof checkpoints and write failures."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.network import load_network

from helpers import TINY_TEXT, invoke

SMALL = [
    "--units",
    "8",
    "--layers",
    "1",
    "--embedding-dim",
    "4",
    "--seq-length",
    "20",
    "--batch-size",
    "8",
    "--seed",
    "3",
    "--sample-every",
    "0",
    "--no-jit",
    "--patience",
    "0",
]


def _weights(path):
    return ckpt_io.load_weights(path)


@pytest.mark.slow
def test_two_epochs_plus_resume_equals_four_straight(runner, tiny_corpus, tmp_path, op_determinism):
    a, b = tmp_path / "straight", tmp_path / "resumed"
    # plateau: the rate does not depend on the planned --epochs, which the resume raises
    for run, epochs in ((a, "4"), (b, "2")):
        r = invoke(
            runner,
            "train",
            tiny_corpus,
            "--checkpoint-dir",
            run,
            "--epochs",
            epochs,
            "--quiet",
            "--schedule",
            "plateau",
            *SMALL,
        )
        assert r.exit_code == 0, r.output
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", b, "--epochs", "4", "--resume", "--quiet")
    assert r.exit_code == 0, r.output
    wa, wb = _weights(a / "last.keras"), _weights(b / "last.keras")
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k], atol=1e-6, err_msg=k)
    ha, hb = ckpt_io.load(a / "last.keras"), ckpt_io.load(b / "last.keras")
    assert ha.epoch == hb.epoch == 4
    for key in ("val_bits_per_char", "learning_rate", "steps"):
        assert [h[key] for h in ha.history] == pytest.approx([h[key] for h in hb.history], abs=1e-6)


def test_resume_refuses_conflicting_hyperparameters(runner, trained_run, tiny_corpus):
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", trained_run, "--resume", "--units", "32")
    assert r.exit_code == 2
    assert r.stderr.startswith(
        "Error: --units 32 conflicts with the checkpoint's 16: a resumed run keeps its hyper-parameters"
    )


def test_resume_without_a_run_is_a_usage_error(runner, tiny_corpus, tmp_path):
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", tmp_path / "none", "--resume")
    assert r.exit_code == 2 and "--resume: no " in r.stderr


def test_resume_refuses_characters_outside_the_vocabulary(runner, trained_run, tmp_path):
    p = tmp_path / "new.txt"
    p.write_text(TINY_TEXT + "Zed!\n")
    before = (trained_run / "last.keras").read_bytes()
    r = invoke(runner, "train", p, "--checkpoint-dir", trained_run, "--resume")
    assert r.exit_code == 1
    assert r.stderr == (
        "Error: the corpus has 2 character(s) the checkpoint's vocabulary lacks: ! Z; "
        "resume only on text made of the same characters\n"
    )
    assert (trained_run / "last.keras").read_bytes() == before


def test_write_failure_is_reported_and_previous_checkpoint_kept(runner, tiny_corpus, tmp_path, monkeypatch):
    run = tmp_path / "run"
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", run, "--epochs", "1", "--quiet", *SMALL)
    assert r.exit_code == 0, r.output
    before = (run / "last.keras").read_bytes()

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt_io.np, "savez", full)
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", run, "--epochs", "2", "--resume", "--quiet")
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: cannot write checkpoint {run / 'last.keras'}: No space left on device; "
        f"the previous checkpoint is intact\n"
    )
    assert (run / "last.keras").read_bytes() == before
    assert sorted(p.name for p in run.iterdir()) == ["best.keras", "corpus.ids", "last.keras"]  # no temp files


def _spawn(corpus, run, *extra):
    cmd = [
        sys.executable,
        "-m",
        "charlstm",
        "train",
        str(corpus),
        "--checkpoint-dir",
        str(run),
        "--epochs",
        "1000",
        *extra,
    ]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )


def _wait_for(path: Path, proc, timeout=60):
    t0 = time.monotonic()
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() - t0 < timeout
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_writes_checkpoint_and_prints_resume_command(tiny_corpus, tmp_path, sig, code):
    run = tmp_path / "run"
    p = _spawn(tiny_corpus, run, *SMALL, "--save-every", "5")
    _wait_for(run / "last.keras", p)
    mtime = (run / "last.keras").stat().st_mtime_ns
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    assert out == ""
    assert f"interrupted: checkpoint written to {run / 'last.keras'}; resume with:" in err
    assert f"charlstm train {tiny_corpus} --checkpoint-dir {run} --resume" in err
    assert (run / "last.keras").stat().st_mtime_ns >= mtime
    load_network(run / "last.keras")


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_broken_checkpoint(tiny_corpus, tmp_path):
    run = tmp_path / "run"
    rng = random.Random(1234)
    kills = 0
    args = [*SMALL, "--save-every", "1"]  # a write every step: kills often land mid-write
    for i in range(10):
        p = _spawn(tiny_corpus, run, *(args if i == 0 else ["--resume"]))
        _wait_for(run / "last.keras", p)
        time.sleep(rng.uniform(0.0, 1.5))
        if p.poll() is None:
            p.kill()
            kills += 1
        p.communicate(timeout=60)
        for f in run.glob("*.keras"):
            if f.name.startswith("."):
                continue  # an orphaned temp file: never read, removed at the next start
            meta, net = load_network(f)
            assert meta.vocabulary == "".join(sorted(set(TINY_TEXT)))
    assert kills >= 10
    steps_before = ckpt_io.load(run / "last.keras")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "charlstm",
            "train",
            str(tiny_corpus),
            "--checkpoint-dir",
            str(run),
            "--resume",
            "--epochs",
            str(steps_before.epoch + 1),
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["epochs"] == steps_before.epoch + 1
    assert not list(run.glob(".*.tmp-*"))
