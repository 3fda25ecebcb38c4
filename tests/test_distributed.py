"""tf.distribute: mirrored replicas and two workers on loopback compute exactly what
one device computes (dropout included), only the chief writes, a dead worker ends the
run with one clear line. Each run is its own process: TensorFlow fixes its devices and
collectives at start-up."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cluster import loopback, tf_config

from helpers import TINY_TEXT

pytestmark = pytest.mark.slow
WORKER = Path(__file__).with_name("distributed_worker.py")
ROOT = Path(__file__).resolve().parents[1]
OPTIONS = {
    "units": 8,
    "layers": 2,
    "embedding_dim": 4,
    "seq_length": 20,
    "batch_size": 8,
    "epochs": 2,
    "seed": 3,
    "sample_every": 0,
    "dropout": 0.2,
    "warmup_steps": 5,
}


def env(**extra):
    e = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
    e.pop("TF_CONFIG", None)
    return {**e, **extra}


def worker(tmp_path, name, strategy, cpus=1, extra_env=None):
    spec = {
        "corpus": str(tmp_path / "tiny.txt"),
        "run_dir": str(tmp_path / name),
        "out": str(tmp_path / f"{name}.npz"),
        "strategy": strategy,
        "cpus": cpus,
        "options": OPTIONS,
        "timeout": 30,
    }
    return subprocess.Popen(
        [sys.executable, str(WORKER), json.dumps(spec)],
        env=env(**(extra_env or {})),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def max_diff(a, b):
    wa, wb = np.load(a), np.load(b)
    assert set(wa.files) == set(wb.files)
    return max(float(np.abs(wa[k] - wb[k]).max()) for k in wa.files)


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "tiny.txt").write_text(TINY_TEXT)
    return tmp_path


@pytest.fixture
def one_device(corpus):
    finish(worker(corpus, "one", "one"))
    return corpus / "one.npz"


def test_mirrored_over_two_logical_cpus_equals_one_device(corpus, one_device):
    finish(worker(corpus, "mirrored", "mirrored", cpus=2))
    assert max_diff(one_device, corpus / "mirrored.npz") < 1e-5


def test_two_workers_equal_one_process_and_only_the_chief_writes(corpus, one_device, runner):
    from helpers import invoke

    cluster = loopback(2)
    procs = [worker(corpus, f"w{i}", "multi-worker", extra_env={"TF_CONFIG": tf_config(cluster, i)}) for i in range(2)]
    for p in procs:
        assert finish(p)["stopped"] == "epochs"
    assert max_diff(corpus / "w0.npz", corpus / "w1.npz") < 1e-5
    assert max_diff(one_device, corpus / "w0.npz") < 1e-5
    assert not (corpus / "w1").exists()  # the other worker wrote nothing into its run directory
    assert {p.name for p in (corpus / "w0").iterdir()} == {"best.keras", "last.keras"}
    # the chief's checkpoint generates and resumes like any other
    r = invoke(runner, "generate", "-c", corpus / "w0", "--length", "20", "--seed", "1")
    assert r.exit_code == 0 and len(r.stdout) > 20
    r = invoke(
        runner, "train", corpus / "tiny.txt", "--checkpoint-dir", corpus / "w0", "--resume", "--epochs", "3", "--quiet"
    )
    assert r.exit_code == 0, r.stderr


def test_a_killed_worker_stops_the_other_with_one_clear_line(corpus):
    cluster = loopback(2)
    args = [
        sys.executable,
        "-m",
        "charlstm",
        "train",
        str(corpus / "tiny.txt"),
        "--units",
        "8",
        "--layers",
        "1",
        "--seq-length",
        "20",
        "--batch-size",
        "8",
        "--epochs",
        "100000",
        "--seed",
        "1",
        "--sample-every",
        "0",
        "--quiet",
        "--strategy",
        "multi-worker",
        "--collective-timeout",
        "10",
    ]
    procs = [
        subprocess.Popen(
            args + ["--checkpoint-dir", str(corpus / f"k{i}")],
            cwd=corpus,
            env=env(TF_CONFIG=tf_config(cluster, i)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 120
        while not (corpus / "k0" / "last.keras").exists():  # training is under way on both
            assert time.monotonic() < deadline and procs[0].poll() is None, procs[0].communicate()[1][-2000:]
            time.sleep(0.2)
        procs[1].send_signal(signal.SIGKILL)
        _, err = procs[0].communicate(timeout=90)  # a hang (no detection) fails here
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert procs[0].returncode == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("Error: a worker stopped answering or failed"), err[-2000:]
    assert "restart every worker with --resume" in last
    # Detected by TensorFlow's collectives as a lost peer: the dead task found unreachable
    # (Unavailable, within seconds on loopback: "The tasks have crashed") or the collective
    # timed out (DeadlineExceeded, after --collective-timeout); not some other error in the step.
    assert re.search(r"\((UnavailableError|DeadlineExceededError) in a collective: ", last), last
    from charlstm.sampler.network import load_network

    load_network(corpus / "k0" / "last.keras")  # the chief's last checkpoint stays loadable


def train_cli(corpus, run_dir, *extra, **env_extra):
    """`charlstm train` as the issue ran it, one thread per process (so one process's sums
    run in the order two workers' do)."""
    args = ["--units", "32", "--layers", "1", "--epochs", "2", "--seed", "7", "--quiet", *extra]
    return subprocess.Popen(
        [sys.executable, "-m", "charlstm", "train", str(corpus), "--checkpoint-dir", str(run_dir), *args],
        env=env(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", **env_extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_workers_train_an_epoch_with_an_odd_last_batch_as_one_process_does(tmp_path, macbeth):
    """Issue 17: 60,000 chars of Macbeth at the default batch leave an epoch's last batch
    with an odd number of rows; both workers finish and the chief's weights are one process's."""
    from charlstm import checkpoint as ckpt_io
    from charlstm.config import TrainConfig
    from charlstm.text.corpus import read_corpus
    from charlstm.training import dataset

    text = macbeth.read_bytes()[:60_000]
    small = tmp_path / "small.txt"
    small.write_bytes(text)
    c = TrainConfig()  # the defaults the command line leaves in place
    train_ids, _ = dataset.split(np.zeros(len(read_corpus([small]))), c.val_fraction, c.seq_length)
    assert dataset.windows_per_epoch(len(train_ids), c.seq_length) % c.batch_size % 2 == 1  # every epoch's last batch
    cluster = loopback(2)
    procs = [
        train_cli(small, tmp_path / f"w{i}", "--strategy", "multi-worker", TF_CONFIG=tf_config(cluster, i))
        for i in range(2)
    ]
    procs.append(train_cli(small, tmp_path / "one"))
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-3000:]
    chief, one = (
        ckpt_io.load_weights(tmp_path / "w0" / "last.keras"),
        ckpt_io.load_weights(tmp_path / "one" / "last.keras"),
    )
    assert ckpt_io.load(tmp_path / "w0" / "last.keras").epoch == 2
    assert set(chief) == set(one)
    assert max(float(np.abs(chief[k] - one[k]).max()) for k in one) < 1e-5
