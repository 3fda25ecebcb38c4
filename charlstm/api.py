"""charlstm as a library: what `import charlstm` offers, and what the CLI calls.

    import charlstm
    run = charlstm.train("corpus.txt", max_time=60, checkpoint_dir="ck")   # TrainResult

The CLI is a thin layer over these functions: one implementation, not two.
Errors are the same typed `CharlstmError`s the CLI shows as one line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from charlstm.config import HYPER, MODEL_OPTIONS, RUN_CONTROLS, ModelConfig, TrainConfig
from charlstm.errors import UsageError

TRAIN_OPTIONS = MODEL_OPTIONS + HYPER + RUN_CONTROLS


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train(*corpus: str | os.PathLike, checkpoint_dir: str | os.PathLike | None = None, resume: bool = False,
          overwrite: bool = False, verbose: bool = True, log=None, device: str = "auto",
          strategy: str = "auto", tensorboard: str | os.PathLike | None = None,
          collective_timeout: float = 300.0, **options):
    """Train on the corpus files ('-' for stdin; none: Macbeth, fetched on first use).

    `options` are ModelConfig and TrainConfig fields (units=512, max_time=60, ...);
    with `resume=True` only run controls (epochs, max_time, patience, ...) may differ
    from the stored run. Returns a `TrainResult`; checkpoints go to `checkpoint_dir`
    (default: checkpoints/<first corpus file's name>).
    """
    from charlstm import checkpoint as ckpt_io
    from charlstm import fetch
    from charlstm import resume as resume_rules
    from charlstm.corpus import corpus_name, read_corpus
    from charlstm.training import RunOptions, prepare
    from charlstm.training import train as run_training

    unknown = sorted(set(options) - set(TRAIN_OPTIONS))
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(unknown)}")
    log = log or (_stderr if verbose else (lambda msg: None))
    paths = [str(p) for p in corpus]
    if not paths:
        paths = [str(fetch.fetch("macbeth"))]
        log(f"no corpus given: training on {paths[0]}")
    if paths.count("-") > 1:
        raise UsageError("stdin ('-') can be given only once")
    run_dir = Path(checkpoint_dir) if checkpoint_dir else ckpt_io.default_root() / corpus_name(paths)
    if options.get("seed") is None:
        options.pop("seed", None)
        if not resume:
            options["seed"] = int.from_bytes(os.urandom(4), "little")
    if resume:
        stored = resume_rules.stored_run(run_dir)
        resume_rules.resumed_config(stored, options)  # refuse conflicts before reading the corpus
        lowercase, vocabulary, seed = stored.training.lowercase, stored.vocabulary, stored.training.seed
        model_config = train_config = None
    else:
        resume_rules.check_new_run(run_dir, overwrite)
        model_config = ModelConfig(vocab_size=0, **{k: v for k, v in options.items() if k in MODEL_OPTIONS})
        train_config = TrainConfig(**{k: v for k, v in options.items() if k not in MODEL_OPTIONS})
        lowercase, vocabulary, seed = train_config.lowercase, None, train_config.seed
    text = read_corpus(paths, lowercase)
    data = prepare(text, seed, vocabulary)
    corpus_info = {"names": [("<stdin>" if c == "-" else c) for c in paths], "chars": len(text)}
    del text  # training holds the 1-byte ids; a 100 MB string would sit unused beside them
    run_options = RunOptions(device=device, strategy=strategy, log=log, progress=verbose,
                             tensorboard=Path(tensorboard) if tensorboard else None,
                             corpus_info=corpus_info, collective_timeout=collective_timeout)
    return run_training(data, model_config, train_config, run_dir, resume=resume, options=run_options,
                        options_given=options)
