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

            tf.config.list_logical_devices()  # device set-up logs (cuInit on GPU-less hosts) too
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


def strategy(device: str = "auto"):
    """The tf.distribute strategy: mirrored over every visible GPU when there are several.

    One device needs no strategy (the default one is free); on a multi-GPU machine
    Keras's fit splits each batch across replicas and all-reduces the gradients.
    """
    tf = tensorflow(device)
    gpus = tf.config.list_logical_devices("GPU")
    if device != "cpu" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
