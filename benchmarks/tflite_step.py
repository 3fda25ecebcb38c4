"""Does the SavedModel's `step` signature convert to TFLite with this TensorFlow, and does it match?

    python benchmarks/tflite_step.py -c CHECKPOINT [--steps 200]

Exports the checkpoint as a SavedModel (charlstm export --format saved_model), converts its
`step` signature with `tf.lite.TFLiteConverter.from_saved_model(..., signature_keys=["step"])`,
runs it in the TFLite interpreter from the zero state over the checkpoint's prime excerpt, and
prints the ops of the converted model and the largest difference from the NumPy sampler's
probabilities; or the converter's or interpreter's error. A measurement, not a shipped format.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-c", "--checkpoint", required=True)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    import numpy as np

    import charlstm
    from charlstm.sampler.network import load_network
    from charlstm.training.tf_runtime import tensorflow

    tf = tensorflow()
    model = charlstm.load(args.checkpoint)
    ids = np.array(model.vocabulary.encode(model.prepare_prime(None) * 50)[: args.steps], np.int32)
    _, net = load_network(model.path)
    ref = net.sequence_probs(ids[None])[0]  # (steps, vocab)
    with tempfile.TemporaryDirectory() as tmp:
        sm = model.export("saved_model", Path(tmp) / "sm")
        print(f"TensorFlow {tf.__version__}; {model!r}")
        try:
            flat = tf.lite.TFLiteConverter.from_saved_model(str(sm), signature_keys=["step"]).convert()
            interpreter = tf.lite.Interpreter(model_content=flat)
            step = interpreter.get_signature_runner("step")
            state = np.zeros([1, net.config.units * net.config.layers * len(net.zero_state(1)[0])], np.float32)
            worst = 0.0
            for t, i in enumerate(ids):
                out = step(ids=np.array([i], np.int32), state=state)
                state = out["state"]
                worst = max(worst, float(np.abs(out["probs"][0] - ref[t]).max()))
        except Exception as e:  # the measurement is the error itself
            print(f"TFLite: failed: {type(e).__name__}: {str(e).strip().splitlines()[-1]}")
            return
    ops = sorted({d["op_name"] for d in interpreter._get_ops_details()})
    print(f"TFLite: converted, {len(flat):,} bytes; ops: {', '.join(ops)}")
    print(f"max |p_tflite - p_numpy| over {len(ids)} steps: {worst:.2e}")


if __name__ == "__main__":
    main()
