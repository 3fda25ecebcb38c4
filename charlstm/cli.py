"""The `charlstm` command line: a thin click layer over the library.

Only click is imported at module level; each command imports what it needs, so
`charlstm --help` answers at once and `generate` never loads TensorFlow.
stdout carries only the product (text or JSON); everything else goes to stderr.
Exit codes: 0 ok, 1 failure, 2 usage error, 130/143 interrupted by SIGINT/SIGTERM.
"""

from __future__ import annotations

import json
import os
import shlex
import sys

import click
from click.core import ParameterSource

from charlstm import __version__
from charlstm.clitypes import options
from charlstm.config import DeviceConfig, ModelConfig, TrainConfig  # plain dataclasses: no TensorFlow
from charlstm.options import ON_UNKNOWN, ItemOptions, SampleOptions
from charlstm.serve.settings import Settings as ServeSettings

ITEMS_BY_DEFAULT = 10  # what `generate` prints from an item model without --items

CHECKPOINT_HELP = (
    "Checkpoint file, a training run's directory (its best checkpoint), or base (the bundled model); "
    "default: the most recent run under ./checkpoints."
)


class Group(click.Group):
    """Renders every error as one line on stderr with the right exit code, no traceback."""

    def main(self, args=None, prog_name=None, **extra):
        extra.pop("standalone_mode", None)
        try:
            rv = super().main(args=args, prog_name=prog_name, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.UsageError as e:
            hint = f" (see '{e.ctx.command_path} --help')" if e.ctx else ""
            click.echo(f"Error: {e.format_message()}{hint}", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            click.echo(f"Error: {e.format_message()}", err=True)
            sys.exit(e.exit_code)
        sys.exit(rv if isinstance(rv, int) else 0)


def _quiet_broken_pipe():
    """The reader went away (`| head`): stop writing, exit 0, and silence the final flush."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def library_errors(fn):
    """Turn CharlstmError into click's exceptions (exit 1, or 2 for usage errors)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from charlstm.errors import CharlstmError

        try:
            return fn(*args, **kwargs)
        except CharlstmError as e:
            if e.exit_code == 2:
                raise click.UsageError(str(e), click.get_current_context()) from None
            raise click.ClickException(str(e)) from None

    return wrapper


@click.group(name="charlstm", cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="charlstm")
def main():
    """Train character-level LSTM language models on any text, and generate from them.

    \b
      charlstm train corpus.txt            # writes checkpoints/corpus/{best,last}.keras
      charlstm generate --prime "TEXT" --seed 1
      charlstm eval held_out.txt --json
    """


# --- train ----------------------------------------------------------------------------------


@main.command()
@click.argument("corpus", nargs=-1, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@options(ModelConfig)
@options(TrainConfig)
@click.option(
    "--checkpoint-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write checkpoints [default: checkpoints/<corpus name>].",
)
@click.option("--resume", is_flag=True, help="Continue the run in --checkpoint-dir from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Start a new run even if --checkpoint-dir already holds one.")
@options(DeviceConfig)
@click.option(
    "--tensorboard",
    type=click.Path(file_okay=False),
    default=None,
    metavar="DIR",
    help="Write per-epoch scalars for TensorBoard here.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress or logs on stderr.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout at the end.")
@click.pass_context
@library_errors
def train(ctx, corpus, checkpoint_dir, resume, overwrite, tensorboard, quiet, as_json, **opts):
    """Train on CORPUS files (or - for stdin; default: Macbeth, fetched on first use)."""
    from charlstm import api

    def log(msg):
        if not quiet:
            click.echo(msg, err=True)

    # Only what the user typed: defaults equal the dataclasses', and a resumed run keeps its own.
    given = {k: v for k, v in opts.items() if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    result = api.train(
        *corpus,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        overwrite=overwrite,
        verbose=not quiet,
        log=log,
        tensorboard=tensorboard,
        **given,
    )
    run_dir = result.checkpoint.parent
    if result.signal is not None:
        import signal as _signal

        code = 130 if result.signal == _signal.SIGINT else 143
        click.echo(
            f"interrupted: checkpoint written to {run_dir / 'last.keras'}; resume with:\n"
            f"  charlstm train {shlex.join(corpus)} --checkpoint-dir {shlex.quote(str(run_dir))} "
            f"--resume",
            err=True,
        )
        ctx.exit(code)
    if as_json:
        click.echo(json.dumps(result.summary()))
    else:
        bpc = f"{result.val_bits_per_char:.3f}" if result.val_bits_per_char is not None else "-"
        log(
            f"done ({result.stopped}): {result.epochs:.2f} epochs, best val {bpc} bits/char, "
            f"{result.train_chars_per_s:,.0f} chars/s; best checkpoint {result.checkpoint}"
        )


# --- generate -------------------------------------------------------------------------------


@main.command()
@click.option("-c", "--checkpoint", "checkpoint", default=None, metavar="PATH", help=CHECKPOINT_HELP)
@options(SampleOptions)
@options(ItemOptions)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON object per sample (per item: text, logprob, in_training)."
)
@library_errors
def generate(checkpoint, as_json, items, novel, unique, **fields):
    """Continue a prime text from a checkpoint (none and no run: the bundled base model), streaming to stdout."""
    from charlstm import api

    listed = ItemOptions(items=items, novel=novel, unique=unique)  # --novel without --items: refused first
    model = api.load(checkpoint, base_fallback=lambda m: click.echo(m, err=True))
    if fields["prime"] == "-":
        from charlstm.text.corpus import decode

        fields["prime"] = decode(sys.stdin.buffer.read(), "<stdin>")
    opts, warn = SampleOptions.create(**fields), lambda m: click.echo(f"warning: {m}", err=True)
    try:
        if listed.items is None and model.is_item_model:  # a stream would drift after its first item
            click.echo(f"an item model: {ITEMS_BY_DEFAULT} items (--items N for another number)", err=True)
            items = ITEMS_BY_DEFAULT
        if items is not None:
            kw = {"novel": novel, "unique": unique, "as_json": as_json, "warn": warn}
            return model.write_items(sys.stdout, items, opts, **kw, note=lambda m: click.echo(m, err=True))
        model.write(sys.stdout, opts, as_json=as_json, warn=warn)
    except BrokenPipeError:  # `| head`: the reader has all it wants; that is success
        _quiet_broken_pipe()


# --- info / eval / corpus -------------------------------------------------------------------


@main.command()
@click.option("-c", "--checkpoint", "checkpoint", default=None, metavar="PATH", help=CHECKPOINT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
@library_errors
def info(checkpoint, as_json):
    """Show what a checkpoint holds."""
    from charlstm import api

    data = api.load(checkpoint, lazy=True).info
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(api.describe(data))


@main.command(name="eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("-c", "--checkpoint", "checkpoint", default=None, metavar="PATH", help=CHECKPOINT_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--items", is_flag=True, help="Each line is an item, scored from the start state with its end symbol.")
@click.option("--per-item", is_flag=True, help="With --items: each item's nats too (TSV lines, or a JSON list).")
@library_errors
def evaluate(file, checkpoint, as_json, items, per_item):
    """Bits per char and perplexity of FILE under a checkpoint (state carried throughout, or --items)."""
    from charlstm import api

    if per_item and not items:
        raise click.UsageError("--per-item goes with --items")
    result = api.load(checkpoint).evaluate(file, items=items, per_item=per_item)
    click.echo(json.dumps(result, ensure_ascii=False) if as_json else api.describe_score(result))


@main.group()
def corpus():
    """Fetch the bundled public-domain corpora."""


@corpus.command(name="fetch")
@click.argument("name", type=click.Choice(["macbeth", "shakespeare", "english", "english-classic", "names"]))
@click.option("--dest", type=click.Path(file_okay=False), default=None, help="Folder [default: ./corpora].")
@library_errors
def corpus_fetch(name, dest):
    """Download NAME into ./corpora (if not there yet) and print its path."""
    from pathlib import Path

    from charlstm.catalog import fetch

    click.echo(str(fetch.fetch(name, Path(dest) if dest else None)))


# --- inspect --------------------------------------------------------------------------------


@main.command()
@click.argument("text_file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "-c",
    "--checkpoint",
    "checkpoints",
    multiple=True,
    metavar="PATH",
    help=CHECKPOINT_HELP + " Repeat to compare gradient curves.",
)
@click.option(
    "--compare",
    "compare",
    multiple=True,
    metavar="PATH",
    help="Another checkpoint whose gradient curve joins the chart.",
)
@click.option(
    "--out", default="report.html", show_default=True, metavar="FILE", help="The HTML page to write (atomically)."
)
@click.option(
    "--chars",
    type=click.IntRange(2, 1_000_000),
    default=2000,
    show_default=True,
    help="Inspect at most this many characters (a 2×300 model's page: 7.9 MB at 2000, 4.4 MB with --no-live).",
)
@click.option("--layer", type=int, default=None, help="Show only this layer (1-based) in the text view and heatmaps.")
@click.option("--units", default=None, metavar="LIST", help="Show only these units, e.g. 0-49,120.")
@click.option(
    "--json",
    "json_path",
    default=None,
    metavar="FILE",
    help="Also write the findings as JSON to FILE and the arrays beside it (.npz).",
)
@click.option(
    "--detector",
    "detectors",
    multiple=True,
    metavar="NAME=REGEX",
    help="An extra detector: on inside regex matches. Repeatable.",
)
@click.option(
    "--on-unknown",
    type=click.Choice(ON_UNKNOWN),
    default="error",
    show_default=True,
    help="Text characters outside the vocabulary (skip drops them, with a count).",
)
@click.option(
    "--gradients/--no-gradients",
    default=True,
    show_default=True,
    help="Measure the vanishing gradient (loads TensorFlow; without it a page takes about a second).",
)
@click.option(
    "--live/--no-live",
    default=True,
    show_default=True,
    help="Embed the network (float16) so the page runs any typed text itself; --no-live: the recorded text only.",
)
@library_errors
def inspect(checkpoints, compare, detectors, **fields):
    """Write one self-contained HTML page showing a checkpoint's cell states, gates and gradients.

    TEXT_FILE is the text to run ('-' reads stdin); default: the held-out part of the
    training corpus named in the checkpoint, else its stored excerpt.
    """
    from charlstm.inspect.run import InspectOptions
    from charlstm.inspect.run import inspect as run_inspect

    opts = InspectOptions(checkpoints=[*checkpoints, *compare], detectors=list(detectors), **fields)
    live = None
    if opts.live:
        from charlstm.checkpoint import resolve
        from charlstm.export.web import live_assets

        live = live_assets(resolve(opts.checkpoints[0] if opts.checkpoints else None))
    run_inspect(opts, warn=lambda m: click.echo(f"warning: {m}", err=True), live=live)
    click.echo(f"wrote {opts.out}", err=True)


# --- serve ---------------------------------------------------------------------------------


@main.command()
@click.option("-c", "--checkpoint", "checkpoint", default=None, metavar="PATH", help=CHECKPOINT_HELP)
@options(ServeSettings)
@click.option(
    "--api-key",
    default=None,
    envvar="CHARLSTM_API_KEY",
    help="Require 'Authorization: Bearer KEY' on /v1/* [env: CHARLSTM_API_KEY].",
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Let pages from ORIGIN call the API (repeatable; none: no CORS).",
)
@library_errors
def serve(checkpoint, **fields):
    """Serve the model over an OpenAI-compatible completions API, with a page to play with at /."""
    from charlstm import api

    try:
        from charlstm.serve.run import serve as run_server
    except ImportError as e:
        raise click.UsageError(
            f"serve needs the serve extra ({e.name} is missing): pip install 'charlstm[serve]'"
        ) from None
    model = api.load(checkpoint)
    settings = ServeSettings(**{**fields, "cors_origins": tuple(fields["cors_origins"])})
    run_server(model, settings, warn=lambda m: click.echo(f"warning: {m}", err=True))


# --- export ---------------------------------------------------------------------------------


@main.command(name="export")
@click.option("-c", "--checkpoint", default=None, help=CHECKPOINT_HELP)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["web", "js", "saved_model", "tflite"]),
    required=True,
    help="web: one offline HTML page; js: an ES module + weights folder; saved_model: a TensorFlow SavedModel "
    "folder; tflite: its step signature as step.tflite + vocabulary.json in a folder.",
)
@click.option("--out", required=True, help="The file (web) or folder (js, saved_model, tflite) to write.")
@click.option(
    "--precision",
    type=click.Choice(["float16", "float32"]),
    default=None,
    help="Weights of web/js: float16 (default, half the size) or float32 (exact). saved_model and tflite are float32.",
)
@click.option("--title", default=None, help="The web page's title; default: the run's folder name.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@library_errors
def export_command(checkpoint, fmt, out, precision, title, overwrite):
    """Write a trained model to run without Python (web, js), in TensorFlow Serving (saved_model) or TFLite."""
    from charlstm.export import export

    export(checkpoint, fmt, out, precision=precision, overwrite=overwrite, title=title)
    click.echo(f"wrote {out}", err=True)
