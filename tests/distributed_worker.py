"""A training process for the distributed tests: charlstm's training loop under a
given strategy, the final weights of this process dumped to an .npz file.

    python tests/distributed_worker.py '{"corpus": ..., "run_dir": ..., "out": ...,
        "strategy": "one|mirrored|multi-worker", "cpus": 1, "options": {...}}'

TF_CONFIG (multi-worker) comes from the environment. With cpus > 1 the CPU is split
into that many logical devices first (mirrored over CPUs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(spec: dict) -> int:
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    if spec.get("cpus", 1) > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * spec["cpus"])
    from charlstm.config import ModelConfig, TrainConfig
    from charlstm.text.corpus import read_corpus
    from charlstm.training import model as model_lib
    from charlstm.training.loop import RunOptions, TrainingRun
    from charlstm.training.plan import new_run

    from helpers import prepare

    opts = spec["options"]
    model_config = ModelConfig(vocab_size=0, **{k: v for k, v in opts.items() if k in ModelConfig.__annotations__})
    config = TrainConfig(**{k: v for k, v in opts.items() if k in TrainConfig.__annotations__})
    corpus = prepare(read_corpus([spec["corpus"]]), config.seed)
    run = TrainingRun(
        new_run(corpus, model_config, config, Path(spec["run_dir"])),
        RunOptions(
            strategy=spec["strategy"], progress=False, log=lambda m: None, collective_timeout=spec.get("timeout", 20)
        ),
    )
    result = run.run()
    np.savez(spec["out"], **model_lib.named_weights(run.model))
    print(json.dumps({"stopped": result.stopped, "epochs": result.epochs}))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
