"""Import TensorFlow and Keras on demand, quietly, on the device the user chose.

Kept apart so that `charlstm --help`, `generate`, `eval` and `info` (and `import
charlstm`, `charlstm.load`) never pay the ~4 s TensorFlow import: only training,
resume and code that builds or loads a Keras model come through here.
"""

from __future__ import annotations

import os
import sys
import tempfile

from charlstm.errors import DeviceError

_state: dict = {}


def _quiet_import():
    """Import tensorflow with its C++ start-up chatter (oneDNN, CUDA probing) kept off stderr.

    TF 2.21 logs those lines through absl before any log level applies, so the only
    way to hide them is to point fd 2 elsewhere during the import. If the import
    fails, what it printed is replayed so nothing useful is lost.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if os.environ.get("CHARLSTM_TF_LOGS"):
        import tensorflow as tf

        return tf
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf

            if not os.environ.get("TF_CONFIG"):
                # Device set-up logs (cuInit on GPU-less hosts) too. Not for multi-worker:
                # collective ops must be configured before the runtime starts.
                tf.config.list_logical_devices()
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return tf


def tensorflow(device: str = "auto"):
    """The tensorflow module, with GPUs hidden for --device cpu and required for gpu."""
    if "tf" not in _state:
        if device == "cpu":
            # Hiding GPUs before import also skips CUDA initialisation entirely.
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        tf = _quiet_import()
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
        tf.get_logger().setLevel("ERROR")
        _state["tf"] = tf
    tf = _state["tf"]
    if device == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise DeviceError(
            "--device gpu: TensorFlow sees no GPU (install the gpu extra, "
            "pip install 'charlstm[gpu]', and check nvidia-smi); use --device cpu or auto"
        )
    return tf


def keras(device: str = "auto"):
    tensorflow(device)
    import keras as k

    return k


def strategy(name: str = "auto", device: str = "auto", collective_timeout: float | None = None):
    """The tf.distribute strategy for --strategy NAME.

    auto: multi-worker when TF_CONFIG is set, mirrored when several GPUs are
    visible, otherwise TensorFlow's default one-device strategy. `mirrored` runs
    one replica per visible GPU (or per logical CPU device, which tests configure).
    Multi-worker collectives give up after `collective_timeout` seconds, so a dead
    or missing worker ends the run with an error instead of a hang.
    """
    tf = tensorflow(device)
    if name == "auto":
        if os.environ.get("TF_CONFIG"):
            name = "multi-worker"
        elif device != "cpu" and len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "one"
    if name == "one":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") if device != "cpu" else []
        devices = devices or tf.config.list_logical_devices("CPU")
        if len(devices) < 2:
            raise DeviceError(
                "--strategy mirrored needs several devices and TensorFlow sees one; use --strategy one (or auto)"
            )
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi-worker":
        if not os.environ.get("TF_CONFIG"):
            raise DeviceError(
                "--strategy multi-worker needs TF_CONFIG describing the cluster and this "
                "worker's task (see the README's 'Training on several machines')"
            )
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    raise DeviceError(f"unknown strategy {name!r}")


def chief_task() -> bool:
    """From TF_CONFIG alone (no TensorFlow): is this process the chief, or the only one?"""
    import json

    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True
    try:
        config = json.loads(raw)
        task, cluster = config.get("task", {}), config.get("cluster", {})
        kind, index = task.get("type"), int(task.get("index", 0))
    except (ValueError, TypeError, AttributeError):
        raise DeviceError("TF_CONFIG is not valid JSON with a 'cluster' and a 'task'") from None
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)


def is_chief(strategy) -> bool:
    """The worker that writes checkpoints and logs: the `chief` task, else worker 0."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def set_precision(mixed: bool, device: str = "auto") -> str:
    """Keras's global dtype policy for new layers: mixed_float16 on a GPU, mixed_bfloat16
    on a CPU with bfloat16 arithmetic; anything else is an error, not a slow emulation."""
    keras_mod = keras(device)
    if not mixed:
        keras_mod.mixed_precision.set_global_policy("float32")
        return "float32"
    tf = tensorflow(device)
    if device != "cpu" and tf.config.list_physical_devices("GPU"):
        policy = "mixed_float16"
    elif cpu_has_bfloat16():
        policy = "mixed_bfloat16"
    else:
        raise DeviceError(
            "--mixed-precision: no GPU, and this CPU has no bfloat16 arithmetic "
            "(AVX512_BF16 or AMX); train in float32 (--no-mixed-precision, which a resumed run may also switch to)"
        )
    keras_mod.mixed_precision.set_global_policy(policy)
    return policy


def cpu_has_bfloat16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return any(flag in flags for flag in ("avx512_bf16", "amx_bf16"))
