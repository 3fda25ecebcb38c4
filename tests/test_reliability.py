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
from charlstm import files
from charlstm.sampler.network import load_network

from helpers import TINY_TEXT, invoke, tiny_args

SMALL = tiny_args(epochs=None, seed=3, patience=0)  # every call gives its --epochs


def _weights(path):
    return ckpt_io.load_weights(path)


@pytest.mark.slow
def test_two_epochs_plus_resume_equals_four_straight(runner, tiny_corpus, tmp_path, op_determinism):
    a, b = tmp_path / "straight", tmp_path / "resumed"
    # plateau: the rate does not depend on the planned --epochs, which the resume raises
    for run, epochs in ((a, 4), (b, 2)):
        args = tiny_args(epochs=epochs, seed=3, patience=0, schedule="plateau", quiet=True)  # SMALL, with --epochs
        r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", run, *args)
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


def _writing(run: Path, temp_mark: str, last: dict) -> bool:
    """Is a checkpoint write under way in `run`? Its temporary file (`temp_mark` in the
    name) exists, or a checkpoint changed in place since the last look (same inode, new size
    or mtime), which only a non-atomic writer does. `last` holds the previous look."""
    for entry in os.scandir(run):
        if not entry.name.endswith(".keras"):
            continue
        if temp_mark in entry.name:
            return True
        try:
            st = entry.stat()
        except FileNotFoundError:  # renamed over meanwhile
            continue
        before, last[entry.name] = last.get(entry.name), (st.st_ino, st.st_size, st.st_mtime_ns)
        if before and before[0] == st.st_ino and before != last[entry.name]:
            return True
    return False


def _kill_during_a_write(proc, run: Path, delay: float, timeout=120):
    """SIGKILL `proc` `delay` seconds after it is first seen writing a checkpoint."""
    temp_mark, last, t0 = f"{files.TEMP_MARK}{proc.pid}", {}, time.monotonic()
    while not _writing(run, temp_mark, last):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() - t0 < timeout, "no checkpoint write seen"
        time.sleep(0.001)
    time.sleep(delay)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.slow
def test_sigkill_during_checkpoint_writes_never_leaves_a_broken_checkpoint(tiny_corpus, tmp_path):
    """Kills land inside writes (the write's temporary file outlives the process); the
    checkpoints there still load, and the next run removes the orphaned temporaries."""
    run = tmp_path / "run"
    rng = random.Random(1234)
    mid_write = 0
    args = [*SMALL, "--save-every", "1"]  # a write every step (36-400 ms each on 2 busy cores)
    # Six rounds (each a fresh process: ~8 s of start-up on 2 cores), at least three of them
    # killed inside a write; ten rounds cost 80 s of the suite's ~10 minutes
    for i in range(6):
        p = _spawn(tiny_corpus, run, *(args if i == 0 else ["--resume"]))
        _wait_for(run / "last.keras", p)  # round 0: a checkpoint exists before the write we kill
        _kill_during_a_write(p, run, rng.uniform(0.0, 0.01))
        temps = list(run.glob(ckpt_io.STALE_TEMPS))
        assert all(f"{files.TEMP_MARK}{p.pid}" in t.name for t in temps), temps  # earlier ones removed
        mid_write += bool(temps)
        for f in run.glob("*.keras"):
            if f.name.startswith("."):
                continue  # the interrupted write's temp file: never read
            meta, net = load_network(f)
            assert meta.vocabulary == "".join(sorted(set(TINY_TEXT)))
    assert mid_write >= 3, mid_write
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
