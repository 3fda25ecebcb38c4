"""The Python API: what the CLI's commands are thin layers over (one implementation, not two).

    import charlstm
    run = charlstm.train("corpus.txt", max_time=60, checkpoint_dir="ck")   # TrainResult
    model = charlstm.load("checkpoints/macbeth")        # run dir (its best), .keras file, or None: latest run
    text = model.generate(prime="MACBETH.", length=200, seed=1, temperature=0.8)
    for piece in model.stream(prime="MACBETH.", length=10_000): ...
    opts = charlstm.SampleOptions.create(prime="MACBETH.", seed=1)   # checked; model.generate(opts)
    model.evaluate("held_out.txt")                      # bits/nats per char, perplexity
    model.info                                          # vocabulary, configs, history

A `Model` wraps the NumPy sampler: no TensorFlow. `train` imports it (through
charlstm.tf_runtime) only when it starts training. Errors are the same typed
`CharlstmError`s the CLI prints.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from functools import cached_property
from pathlib import Path
from typing import TextIO

from charlstm import checkpoint as ckpt_io
from charlstm.config import HYPER, MODEL_OPTIONS, RUN_CONTROLS, DeviceConfig, ModelConfig, TrainConfig
from charlstm.corpus import Vocabulary, decode, read_corpus
from charlstm.errors import UsageError
from charlstm.options import SampleOptions, check_values, random_seed

__all__ = ["Model", "SampleOptions", "load", "train"]

Warn = Callable[[str], None]


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=4)


class Model:
    """A trained checkpoint, ready to sample from and score text with (NumPy only)."""

    def __init__(self, checkpoint: ckpt_io.Checkpoint):
        self.checkpoint = checkpoint  # the metadata: configs, vocabulary, history
        self.vocabulary = Vocabulary(checkpoint.vocabulary)

    @property
    def path(self) -> Path:
        return self.checkpoint.path

    @cached_property
    def network(self):
        """The NumPy network (`charlstm.network.Network`), read from the checkpoint on first use."""
        from charlstm.network import load_network

        _, net = load_network(self.path)
        return net

    def __repr__(self) -> str:
        m = self.checkpoint.model
        return f"<charlstm.Model {self.path} {m.layers}×{m.units} {m.cell}, {len(self.vocabulary)} chars>"

    # --- generation ----------------------------------------------------------------------------

    def prepare_prime(self, prime: str | None = None, on_unknown: str = "error", warn: Warn | None = None) -> str:
        """The text generation starts from: `prime`, case-folded like training, or the stored excerpt.

        on_unknown: "error" refuses characters outside the vocabulary (VocabularyError),
        "skip" drops them with a warning (Python's warnings, or `warn(message)`).
        """
        from charlstm.generation import prepare_prime

        checked = SampleOptions.create(prime=prime, on_unknown=on_unknown)
        return prepare_prime(checked.prime, self.checkpoint, self.vocabulary, checked.on_unknown, warn or _warn)

    def stream(self, options: SampleOptions | None = None, /, *, warn: Warn | None = None, **fields) -> Iterator[str]:
        """Yield the text as it is generated: the prime first (unless echo_prime=False), then pieces.

        Takes a `SampleOptions`, or its fields as keyword arguments (prime="the ", length=200,
        seed=1, ...), or both (the keywords override). Memory stays flat for any length. The
        same seed and sample_index give the same text, whatever else is generated beside it.
        """
        from charlstm.sampling import sample_steps

        opts = _sample_options(options, fields)
        if opts.num_samples != 1:
            raise UsageError(
                f"num_samples={opts.num_samples}: stream and generate make one sample; "
                "use write() for several, or one call per sample_index",
                param="num_samples",
            )
        prime_text = self.prepare_prime(opts.prime, opts.on_unknown, warn)
        steps = sample_steps(self.network, self.vocabulary.encode(prime_text), opts, self.vocabulary.chars)

        def pieces() -> Iterator[str]:
            if opts.echo_prime:
                yield prime_text
            for (piece,) in steps:
                if piece:
                    yield piece

        return pieces()  # arguments checked now, at the call, not at the first next()

    def generate(self, options: SampleOptions | None = None, /, *, warn: Warn | None = None, **fields) -> str:
        """The prime (unless echo_prime=False) and `length` generated characters (fewer if `stop` appears).

        Options as for `stream`: temperature 0 is greedy; top_k / top_p restrict sampling to
        the likeliest characters; `stop` ends the text where it appears (it is not included).
        """
        return "".join(self.stream(options, warn=warn, **fields))

    def write(
        self,
        out: TextIO,
        options: SampleOptions | None = None,
        /,
        *,
        as_json: bool = False,
        warn: Warn | None = None,
        **fields,
    ) -> None:
        """Generate onto a text stream as `charlstm generate` does (one sample streams as it is made;
        several samples, or JSON lines, are written at the end). Options as for `stream`."""
        from charlstm.generation import stream

        opts = _sample_options(options, fields)
        prime_text = self.prepare_prime(opts.prime, opts.on_unknown, warn)
        stream(self.network, self.vocabulary, prime_text, opts, out, as_json=as_json)

    def export(self, fmt: str, out: str | os.PathLike, **options) -> Path:
        """Write this model as "web" (one offline HTML page), "js" (ES module + weights folder) or
        "saved_model" (a TensorFlow SavedModel folder) at `out`. Options: precision="float16" |
        "float32", overwrite=False, title= (`charlstm.export.export`; `charlstm export --help`)."""
        from charlstm.export import export

        return export(self.path, fmt, out, **options)

    # --- scoring and metadata ------------------------------------------------------------------

    def evaluate(self, path: str | os.PathLike | None = None, *, text: str | None = None) -> dict:
        """Bits and nats per char, perplexity of a file (or of `text=`), state carried throughout.

        Returns {"bits_per_char", "nats_per_char", "perplexity", "chars", "unknown_chars",
        "unknown"}: characters outside the vocabulary are dropped and counted, not fatal.
        The text is read like training text (UTF-8, CRLF → LF, lower-cased if the model was).
        """
        from charlstm.evaluation import evaluate_text

        if (path is None) == (text is None):
            raise UsageError("evaluate: give a file path or text=..., not both or neither")
        text = read_corpus([os.fspath(path)]) if path is not None else decode(text.encode("utf-8"), "<text>")
        return evaluate_text(self.network, self.vocabulary, text, self.checkpoint.training.lowercase)

    @property
    def info(self) -> dict:
        """Everything the checkpoint holds besides weights (what `charlstm info --json` prints):
        vocabulary, model and training configs, epoch, history, prime excerpt, plus
        `path` and `best_val_bits_per_char`."""
        data = self.checkpoint.to_json()
        data["path"] = str(self.path)
        data["best_val_bits_per_char"] = self.checkpoint.best_val_bits_per_char
        return data


def load(path: str | os.PathLike | None = None, *, lazy: bool = False) -> Model:
    """A Model from a run directory (its best checkpoint), a `.keras` checkpoint, or None (the latest run
    under ./checkpoints or $CHARLSTM_CHECKPOINTS).

    The weights are read and checked now, unless `lazy` (then at the first generate/evaluate).
    """
    model = Model(ckpt_io.load(ckpt_io.resolve(path)))
    if not lazy:
        model.network  # noqa: B018  (reads and checks the weights now)
    return model


def _sample_options(options: SampleOptions | None, fields: dict) -> SampleOptions:
    """Checked options from a SampleOptions and/or keyword fields, with the seed drawn if none was given."""
    if options is None:
        return SampleOptions.create(**fields).resolved()
    if not isinstance(options, SampleOptions):
        raise UsageError(
            f"{options!r}: pass a SampleOptions, or the options as keyword arguments (prime=..., length=...)"
        )
    return options.replace(**fields).resolved()


# --- training ---------------------------------------------------------------------------------

DEVICE_OPTIONS = tuple(f.name for f in dataclasses.fields(DeviceConfig))
TRAIN_OPTIONS = MODEL_OPTIONS + HYPER + RUN_CONTROLS + DEVICE_OPTIONS


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train(
    *corpus: str | os.PathLike,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
    verbose: bool = True,
    log=None,
    tensorboard: str | os.PathLike | None = None,
    **options,
):
    """Train on the corpus files ('-' for stdin; none: Macbeth, fetched on first use).

    `options` are ModelConfig, TrainConfig and DeviceConfig fields (units=512, max_time=60,
    device="cpu", ...), checked before anything is read or TensorFlow is loaded;
    with `resume=True` only run controls (epochs, max_time, patience, ...) may differ
    from the stored run. Returns a `TrainResult`; checkpoints go to `checkpoint_dir`
    (default: checkpoints/<first corpus file's name>).
    """
    from charlstm import checkpoint as ckpt_io
    from charlstm import fetch
    from charlstm import resume as resume_rules
    from charlstm.corpus import corpus_name
    from charlstm.idfile import encode_corpus
    from charlstm.training import Corpus, RunOptions
    from charlstm.training import train as run_training

    unknown = sorted(set(options) - set(TRAIN_OPTIONS))
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(unknown)}", param=unknown[0])
    check_values(options, ModelConfig, TrainConfig, DeviceConfig)
    devices = DeviceConfig(**{k: options.pop(k) for k in DEVICE_OPTIONS if k in options})
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
            options["seed"] = random_seed()
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
    # Streamed into a memory-mapped id file: the corpus never sits in memory as text.
    encoded = encode_corpus(paths, _cache_path(run_dir), lowercase=lowercase, vocabulary=vocabulary, seed=seed)
    data = Corpus(encoded.ids, encoded.vocab, encoded.excerpt, release=encoded.release_pages)
    corpus_info = {"names": [("<stdin>" if c == "-" else c) for c in paths], "chars": encoded.chars}
    run_options = RunOptions(
        device=devices.device,
        strategy=devices.strategy,
        log=log,
        progress=verbose,
        tensorboard=Path(tensorboard) if tensorboard else None,
        corpus_info=corpus_info,
        collective_timeout=devices.collective_timeout,
    )
    return run_training(
        data, model_config, train_config, run_dir, resume=resume, options=run_options, options_given=options
    )


def _cache_path(run_dir: Path) -> Path:
    """Where the encoded corpus lives: the run directory, except for a multi-worker run's
    non-chief workers, which write nothing there (a temp folder of their own instead)."""
    from charlstm.tf_runtime import chief_task

    if chief_task():
        return run_dir / "corpus.ids"
    import hashlib
    import tempfile

    key = hashlib.sha256(f"{run_dir.resolve()}|{os.environ.get('TF_CONFIG')}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"charlstm-worker-{key}" / "corpus.ids"
