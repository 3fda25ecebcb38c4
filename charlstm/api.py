"""The Python API: what the CLI's commands are thin layers over (one implementation, not two).

    import charlstm
    run = charlstm.train("corpus.txt", max_time=60, checkpoint_dir="ck")   # TrainResult
    charlstm.train("lyrics.txt", init_from="base", max_time=60)   # fine-tune: "base" or any checkpoint
    model = charlstm.load("checkpoints/macbeth")        # run dir (its best), .keras file, or None: latest run
    text = model.generate(prime="MACBETH.", length=200, seed=1, temperature=0.8)
    for piece in model.stream(prime="MACBETH.", length=10_000): ...
    opts = charlstm.SampleOptions.create(prime="MACBETH.", seed=1)   # checked; model.generate(opts)
    model.evaluate("held_out.txt")                      # bits/nats per char, perplexity
    charlstm.train("names.txt", items=True, max_time=60)   # one line, one item
    model.items(50, novel=True, unique=True, seed=1)    # 50 new names: Item(text, logprob, in_training)
    model.evaluate("test_names.txt", items=True)        # each item from the start state
    model.info                                          # vocabulary, configs, history

A `Model` wraps the NumPy sampler: no TensorFlow. `train` imports it (through
charlstm.training.tf_runtime) only when it starts training. Errors are the same typed
`CharlstmError`s the CLI prints.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TextIO

from charlstm import checkpoint as ckpt_io
from charlstm.config import HYPER, MODEL_OPTIONS, RUN_CONTROLS, DeviceConfig, ModelConfig, TrainConfig
from charlstm.errors import UsageError
from charlstm.options import SampleOptions, check_values
from charlstm.sampler.generation import Sampler
from charlstm.sampler.items import Item
from charlstm.text.corpus import decode, read_corpus

__all__ = ["Item", "Model", "SampleOptions", "load", "train"]

Warn = Callable[[str], None]


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=4)


class Model(Sampler):
    """A trained checkpoint, ready to sample from and score text with (NumPy only).

    Its checkpoint, vocabulary, network and `request` (a prime made into a request:
    the one place a prime is read) are `generation.Sampler`'s, what the server runs on.
    """

    def __repr__(self) -> str:
        m = self.checkpoint.model
        return f"<charlstm.Model {self.path} {m.layers}×{m.units} {m.cell}, {len(self.vocabulary)} chars>"

    # --- generation ----------------------------------------------------------------------------

    def stream(self, options: SampleOptions | None = None, /, *, warn: Warn | None = None, **fields) -> Iterator[str]:
        """Yield the text as it is generated: the prime first (unless echo_prime=False), then pieces.

        Takes a `SampleOptions`, or its fields as keyword arguments (prime="the ", length=200,
        seed=1, ...), or both (the keywords override). Memory stays flat for any length. The
        same seed and sample_index give the same text, whatever else is generated beside it.
        """
        from charlstm.sampler.sampling import sample_steps

        opts = _sample_options(options, fields)
        if opts.num_samples != 1:
            raise UsageError(
                f"num_samples={opts.num_samples}: stream and generate make one sample; "
                "use write() for several, or one call per sample_index",
                param="num_samples",
            )
        request = self.request(opts, warn or _warn)
        steps = sample_steps(self.network, request, self.vocabulary.chars)

        def pieces() -> Iterator[str]:
            if opts.echo_prime:
                yield request.prime_text
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
        from charlstm.sampler.generation import stream

        request = self.request(_sample_options(options, fields), warn or _warn)
        stream(self.network, self.vocabulary.chars, request, out, as_json=as_json)

    def items(
        self,
        n: int,
        options: SampleOptions | None = None,
        /,
        *,
        novel: bool = False,
        unique: bool = False,
        warn: Warn | None = None,
        **fields,
    ) -> list[Item]:
        """`n` whole items (an `Item`: text, logprob, in_training each), drawn as one batch from the start
        state: `novel` keeps only items not in the training list, `unique` drops repeats. Options as for
        `stream` (prime: the start of every item; seed, temperature, top_k, top_p). Fewer than `n` when
        the draws run out (at most 10·n, and 1,000): `warn` says so."""
        return self._draw(n, options, novel, unique, warn, fields).items

    def write_items(self, out: TextIO, n: int, options=None, /, *, novel=False, unique=False, as_json=False, **kw):
        """`charlstm generate --items N`: one item per line (or one JSON object per line) on `out`."""
        import json

        warn, note = kw.pop("warn", None), kw.pop("note", None)
        drawn = self._draw(n, options, novel, unique, warn, kw)
        for item in drawn.items:
            out.write((json.dumps(item.to_json(), ensure_ascii=False) if as_json else item.text) + "\n")
        out.flush()
        if note is not None and drawn.novel_fraction is not None and self.item_record is not None:
            note(f"{len(drawn.items):,} items from {drawn.draws:,} draws, {drawn.novel_fraction:.1%} of them new")

    def _draw(self, n, options, novel, unique, warn, fields):
        from charlstm.options import ItemOptions

        checked = ItemOptions(items=n, novel=novel, unique=unique)
        drawn = self.draw_items(_sample_options(options, fields), checked.items, novel=novel, unique=unique, warn=warn)
        shortfall = drawn.shortfall(novel, unique)
        if shortfall:
            (warn or _warn)(shortfall)
        return drawn

    def export(self, fmt: str, out: str | os.PathLike, **options) -> Path:
        """Write this model as "web" (one offline HTML page), "js" (ES module + weights folder),
        "saved_model" (a TensorFlow SavedModel folder) or "tflite" (its one-character step as a TFLite
        model, in a folder) at `out`. Options: precision="float16" | "float32" (web and js),
        overwrite=False, title= (`charlstm.export.export`; `charlstm export --help`)."""
        from charlstm.export import export

        return export(self.path, fmt, out, **options)

    # --- scoring and metadata ------------------------------------------------------------------

    def evaluate(
        self, path: str | os.PathLike | None = None, *, text: str | None = None, items=False, per_item=False
    ) -> dict:
        """Bits and nats per char, perplexity of a file (or of `text=`), state carried throughout.

        Returns {"bits_per_char", "nats_per_char", "perplexity", "chars", "unknown_chars",
        "unknown"}: characters outside the vocabulary are dropped and counted, not fatal.
        The text is read like training text (UTF-8, CRLF → LF, lower-cased if the model was).
        With `items=True`, each line is an item scored from the start state, its end symbol included
        (makemore's test loss): {"nats_per_char", "bits_per_char", "perplexity", "chars" (the items'
        characters and end symbols), "items", "nats_per_item", "unknown_items"}, and with
        `per_item=True` "per_item": [{"text", "nats", "chars"}] in the file's order.
        """
        from charlstm.sampler.evaluation import evaluate_text
        from charlstm.sampler.items import evaluate_items

        if (path is None) == (text is None):
            raise UsageError("evaluate: give a file path or text=..., not both or neither")
        text = read_corpus([os.fspath(path)]) if path is not None else decode(text.encode("utf-8"), "<text>")
        lowercase = self.checkpoint.training.lowercase
        if items:
            return evaluate_items(self.network, self.vocabulary, text, lowercase, per_item=per_item)
        return evaluate_text(self.network, self.vocabulary, text, lowercase)

    @property
    def info(self) -> dict:
        """Everything the checkpoint holds besides weights (what `charlstm info --json` prints):
        vocabulary, model and training configs, epoch, history, prime excerpt, plus
        `path` and `best_val_bits_per_char`."""
        data = self.checkpoint.to_json()
        data["path"] = str(self.path)
        data["best_val_bits_per_char"] = self.checkpoint.best_val_bits_per_char
        return data


def describe(info: dict) -> str:
    """`Model.info` as the lines `charlstm info` prints."""
    from charlstm.text.corpus import describe_chars

    m, t, best = info["model"], info["training"], info["best_val_bits_per_char"]
    lines = [
        f"checkpoint:   {info['path']}",
        f"format:       {info['format']} v{info['format_version']} (charlstm {info['charlstm_version']})",
        f"model:        {m['layers']}×{m['units']} {m['cell']}, embedding {m['embedding_dim']}, dropout {m['dropout']}"
        + (f", input dropout {m['input_dropout']}" if m.get("input_dropout") else ""),
        f"vocabulary:   {len(info['vocabulary'])} chars: {describe_chars(info['vocabulary'], 60)}",
        f"training:     seq {t['seq_length']}, batch {t['batch_size']}, lr {t['learning_rate']}, "
        f"clip {t['clip_norm']}{', weight decay ' + str(t['weight_decay']) if t.get('weight_decay') else ''}, "
        f"seed {t['seed']}{', lowercase' if t['lowercase'] else ''}",
        f"epochs:       {info['epoch']}",
        f"best val:     {best:.4f} bits/char" if best is not None else "best val:     -",
    ]
    start = info.get("init_from")
    if start:
        lines.append(f"started from: {start.get('name')} ({start.get('path')}, sha256 {start.get('sha256')})")
        if start.get("text_loss") is not None:
            lines.append(f"              which scored {start['text_loss']:.3f} nats/char on the text's start")
    if info.get("items"):
        how = "the list stored" if "items" in info["items"] else "64-bit hashes of the list stored"
        lines.append(f"items:        one a line, {info['items']['count']:,} in the training list ({how})")
    sizing = info.get("sizing")
    if sizing:
        lines.append(f"sized by:     --max-time: {sizing.get('reason')}")
    final = info.get("final")
    if final:
        lines.append(
            f"final val:    {final['val_bits_per_char']:.4f} bits/char, the best weights (epoch {final.get('epoch')}) "
            f"on the whole held-out tail ({final.get('val_chars', 0):,} chars)"
        )
    corpus = info.get("corpus") or {}
    if corpus:
        lines.append(f"corpus:       {ckpt_io.describe_corpus(corpus)}")
    return "\n".join(lines)


def describe_score(result: dict) -> str:
    """`Model.evaluate`'s result as the lines `charlstm eval` prints (with --per-item: one TSV line an item first)."""
    if "items" not in result:
        unknown = f" ({result['unknown_chars']:,} unknown chars skipped)" if result["unknown_chars"] else ""
        return (
            f"{result['bits_per_char']:.4f} bits/char, perplexity {result['perplexity']:.3f} "
            f"over {result['chars']:,} chars{unknown}"
        )
    lines = [f"{it['nats']:.4f}\t{it['chars']}\t{it['text']}" for it in result.get("per_item", [])]
    unknown = f"; {result['unknown_items']:,} items with unknown chars left out" if result["unknown_items"] else ""
    lines.append(
        f"{result['nats_per_char']:.4f} nats/char, {result['bits_per_char']:.4f} bits/char over "
        f"{result['items']:,} items ({result['chars']:,} chars, end symbols included){unknown}"
    )
    return "\n".join(lines)


def load(path: str | os.PathLike | None = None, *, lazy: bool = False, base_fallback: Warn | None = None) -> Model:
    """A Model from "base" (the bundled base model), a run directory (its best checkpoint), a `.keras`
    checkpoint, or None (the latest run under ./checkpoints or $CHARLSTM_CHECKPOINTS).

    With `base_fallback(message)`, None with no run there loads the base model and says so.
    The weights are read and checked now, unless `lazy` (then at the first generate/evaluate).
    """
    model = Model(ckpt_io.load(ckpt_io.resolve(path, base_fallback=base_fallback)))
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
    device="cpu", init_from="base", ...), checked before anything is read or TensorFlow is loaded;
    with `resume=True` only run controls (epochs, max_time, patience, ...) may differ
    from the stored run. With `max_time` and none of units, layers, dropout, init_from, the
    budget chooses those three (`charlstm.training.sizing`). Returns a `TrainResult` (its
    `val_bits_per_char`: the best weights on the whole held-out text); checkpoints go to
    `checkpoint_dir` (default: checkpoints/<first corpus file's name>): best.keras, the final
    model, and last.keras, where the run is.
    """
    from charlstm.training.loop import RunOptions, TrainingRun
    from charlstm.training.plan import plan_run

    unknown = sorted(set(options) - set(TRAIN_OPTIONS))
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(unknown)}", param=unknown[0])
    check_values(options, ModelConfig, TrainConfig, DeviceConfig)
    devices = DeviceConfig(**{k: options.pop(k) for k in DEVICE_OPTIONS if k in options})
    log = log or (_stderr if verbose else (lambda msg: None))
    plan = plan_run(corpus, checkpoint_dir, options, resume=resume, overwrite=overwrite, log=log)
    run_options = RunOptions(devices, log, progress=verbose, tensorboard=Path(tensorboard) if tensorboard else None)
    return TrainingRun(plan, run_options).run()
