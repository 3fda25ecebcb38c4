"""Any global batch on any replica count (issue 17): the engine pads a batch to a
multiple of the replicas and computes what one device computes; a failed step is
reported as a lost worker only when it is one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPLICAS = (1, 2, 3, 4)


@pytest.fixture(scope="module")
def property_runs(request, tmp_path_factory):
    """Every replica count's process started at once: each runs TensorFlow on one thread
    (replica_property.main), so on 2 cores the four overlap (measured on a Zen 2 VM, 2026-12-04:
    108 s one after another, 77 s at once). Output goes to files: a pipe nobody
    reads yet could fill and stall a child. Only the counts this session selected are started."""
    items = [i for i in request.session.items if i.module is request.module and hasattr(i, "callspec")]
    selected = {i.callspec.params["replicas"] for i in items if "replicas" in i.callspec.params}
    logs = tmp_path_factory.mktemp("replicas")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = {}
    for n in sorted(selected):
        out, err = (open(logs / f"{n}.{kind}", "w+") for kind in ("out", "err"))
        cmd = [sys.executable, str(ROOT / "tests" / "replica_property.py"), str(n)]
        runs[n] = (subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True), out, err)
    yield runs
    for proc, out, err in runs.values():
        proc.kill()
        proc.wait()
        out.close()
        err.close()


@pytest.mark.slow
@pytest.mark.parametrize("replicas", REPLICAS)
def test_an_epoch_and_an_evaluation_on_mirrored_replicas_equal_one_device(replicas, property_runs):
    """hypothesis over (text length, global batch, layout), in a process per replica count:
    TensorFlow splits the CPU into logical devices only before it initialises."""
    proc, out, err = property_runs[replicas]
    proc.wait(timeout=1500)
    out.seek(0)
    err.seek(0)
    assert proc.returncode == 0 and out.read().strip().endswith("ok"), err.read()[-4000:]


def _error(kind: str, message: str):
    from charlstm.training.tf_runtime import tensorflow

    return getattr(tensorflow().errors, kind)(None, None, message)


SHAPES = (
    "Graph execution error:\n\nDetected at node rnn_1_1/while/lstm_cell_1/Add defined at (most recent call last):\n"
    '  File "x.py", line 4, in f\n\nIncompatible shapes: [29,128] vs. [28,128]\n'
    "\t [[{{node rnn_1_1/while/lstm_cell_1/Add}}]] [Op:__inference__train_1234]"
)


@pytest.mark.parametrize("kind", ["UnavailableError", "DeadlineExceededError", "CancelledError", "AbortedError"])
def test_a_collective_failure_on_several_workers_advises_resume(kind, tmp_path):
    from charlstm.training.step import step_failure

    message = (
        "Graph execution error:\n\nCollective ops is aborted by: cluster check alive failed, "
        "/job:worker/task:1 is down\nThe error could be from a previous operation. Restart your program to reset.\n"
        "\t [[{{node CollectiveReduceV2}}]] [Op:__inference__train_88]"
    )
    e = step_failure(_error(kind, message), multi_worker=True, run_dir=tmp_path)
    assert str(e) == (
        f"a worker stopped answering or failed ({kind} in a collective: Collective ops is aborted by: cluster check "
        f"alive failed, /job:worker/task:1 is down (at CollectiveReduceV2)); the chief's last checkpoint in "
        f"{tmp_path} is intact: restart every worker with --resume"
    )


@pytest.mark.parametrize("multi_worker", [True, False])
def test_any_other_step_error_says_what_it_is_and_not_to_resume(multi_worker, tmp_path):
    from charlstm.training.step import step_failure

    e = step_failure(_error("InvalidArgumentError", SHAPES), multi_worker=multi_worker, run_dir=tmp_path)
    assert str(e) == (
        "the training step failed (InvalidArgumentError: Incompatible shapes: [29,128] vs. [28,128] "
        "(at rnn_1_1/while/lstm_cell_1/Add)); resuming would fail the same way: please report it as a bug"
    )
    assert "\n" not in str(e)


def test_a_lost_peer_error_on_one_process_is_not_a_lost_worker(tmp_path):
    from charlstm.training.step import step_failure

    e = step_failure(_error("UnavailableError", "socket closed"), multi_worker=False, run_dir=tmp_path)
    assert str(e).startswith("the training step failed (UnavailableError: socket closed)") and "--resume" not in str(e)


def test_out_of_memory_says_what_to_shrink(tmp_path):
    from charlstm.training.step import step_failure

    e = step_failure(_error("ResourceExhaustedError", "OOM when allocating"), multi_worker=True, run_dir=tmp_path)
    assert "--resume" not in str(e) and "use a smaller --batch-size" in str(e)
