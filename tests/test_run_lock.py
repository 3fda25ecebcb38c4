"""One process trains into a run directory at a time (files.DirectoryLock, taken in plan.plan_run).

Two `charlstm train` into one folder would each rewrite `last.keras`, and the second would
read it while the first still writes: it happened to the base model's run (issue 29), a
`--resume` started while the stopped run was still validating before its last write.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from charlstm.files import DirectoryLock

from helpers import invoke, tiny_run


def test_a_directory_lock_excludes_a_second_holder_until_released(tmp_path):
    first, second = DirectoryLock(tmp_path), DirectoryLock(tmp_path)
    assert first.acquire()
    assert not second.acquire()  # flock is per open descriptor: refused even in the same process
    first.release()
    assert second.acquire()
    second.release()


def test_the_lock_goes_with_its_process_however_it_ends(tmp_path):
    holder = "import sys, time; from charlstm.files import DirectoryLock as L; lock = L(sys.argv[1]); "
    holder += "assert lock.acquire(); print('held', flush=True); time.sleep(120)"
    p = subprocess.Popen([sys.executable, "-c", holder, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "held\n"
        assert not DirectoryLock(tmp_path).acquire()
    finally:
        p.kill()  # SIGKILL: no clean-up runs
        p.wait()
    lock = DirectoryLock(tmp_path)
    assert lock.acquire()  # nothing left behind to remove by hand
    lock.release()
    assert sorted(tmp_path.iterdir()) == []  # and no lock file was ever written


def test_training_into_a_run_in_use_is_refused_and_writes_nothing(runner, trained_run, tiny_corpus, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    busy = DirectoryLock(run)
    assert busy.acquire()  # what a training process holds while it trains into `run`
    for how in ("--resume", "--overwrite"):
        r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", run, how, "--quiet", "--epochs", "3")
        assert r.exit_code == 1, r.output
        assert f"{run} is in use by another charlstm train" in r.stderr and r.stderr.count("\n") == 1
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    busy.release()
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", run, "--resume", "--quiet", "--epochs", "3")
    assert r.exit_code == 0, r.output  # the same command once the other process has gone


def test_a_finished_run_lets_the_next_one_in(tmp_path, tiny_corpus):
    """A run releases its lock when it returns: a library user may train on in one process."""
    import charlstm

    run = tmp_path / "run"
    charlstm.train(tiny_corpus, checkpoint_dir=run, verbose=False, **tiny_run())
    lock = DirectoryLock(run)
    assert lock.acquire()
    lock.release()
