"""`charlstm inspect` as one library call: checkpoint + text in, HTML page (and raw data) out."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm.errors import CharlstmError, CorpusError, UsageError
from charlstm.files import atomic_write
from charlstm.inspect import detectors
from charlstm.sampler.network import load_network
from charlstm.text.corpus import Vocabulary, decode, read_bytes, read_corpus
from charlstm.text.usertext import prepare_text


@dataclass
class InspectOptions:
    checkpoints: list[str] = field(default_factory=list)  # -c; the first is inspected, all get a gradient curve
    text_file: str | None = None  # a file, "-" for stdin, None: the checkpoint's held-out-like text
    out: str = "report.html"  # the HTML page
    chars: int = 2000  # at most this many characters are run and shown
    layer: int | None = None  # show only this layer (1-based) in the heatmaps and text view
    units: str | None = None  # "0-49,120": show only these units
    json_path: str | None = None  # findings as JSON here, arrays beside it as .npz
    detectors: list[str] = field(default_factory=list)  # NAME=REGEX
    on_unknown: str = "error"  # or "skip"
    gradients: bool = True  # the TensorFlow view
    max_k: int = 100  # gradient view: characters back
    live: bool = True  # the CLI embeds the network (export.web.live_assets) so the page runs typed text


def parse_units(spec: str | None, n: int) -> list[int]:
    """'0-9,17' -> [0..9, 17]; every unit checked against the layer width n."""
    if spec is None:
        return list(range(n))
    out = []
    for part in spec.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise UsageError(f"--units {spec!r}: write unit numbers and ranges like 0-49,120") from None
        if not 0 <= a <= b < n:
            raise UsageError(f"--units {part.strip()} is out of range: this model's layers have units 0 to {n - 1}")
        out += range(a, b + 1)
    return sorted(set(out))


def check_out_path(path: str, flag: str = "--out") -> Path:
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: folder {parent} does not exist; create it first or choose another path")
    if p.is_dir():
        raise UsageError(f"{flag} {path}: is a directory; give a file name such as report.html")
    return p


def corpus_files(record: dict) -> list[str]:
    """A checkpoint's training corpus files: a run's recorded names, or for a release (which records
    a name and sha256, no path) `corpora/NAME.txt` ($CHARLSTM_CORPORA) when its sha256 is the one recorded."""
    if record.get("names"):
        return list(record["names"])
    name, digest = record.get("name"), record.get("sha256")
    if name and digest:
        from charlstm.catalog import fetch, registries

        path = fetch.default_dir() / f"{name}.txt"
        if path.is_file() and registries.sha256_of(path.read_bytes()) == digest:
            return [str(path)]
    return []


def default_text(ckpt) -> tuple[str, str]:
    """The held-out tail of the training corpus when its files are still there, else the prime excerpt."""
    names = corpus_files(ckpt.extra.get("corpus") or {})
    if names and all(n != "<stdin>" and Path(n).is_file() for n in names):
        try:
            text = read_corpus(list(names), ckpt.training.lowercase)
        except CorpusError:
            text = ""
        if text:
            start = int(len(text) * (1 - ckpt.training.val_fraction))
            return text[start:], f"held-out part of {', '.join(names)}"
    return ckpt.prime_excerpt, "the checkpoint's stored prime excerpt"


def load_text(opts: InspectOptions, ckpt, vocab: Vocabulary, warn: Callable[[str], None]) -> tuple[str, str]:
    if opts.text_file is None:
        text, source = default_text(ckpt)
    else:
        source = "<stdin>" if opts.text_file == "-" else opts.text_file
        text = decode(read_bytes(opts.text_file), source)
    if not text:
        raise CorpusError(f"{source}: the text is empty; give a file with some text to inspect")
    return prepare_text(text, vocab, ckpt.training.lowercase, opts.on_unknown, warn=warn).text, source


def inspect(opts: InspectOptions, warn: Callable[[str], None] = lambda m: None, live: dict | None = None) -> dict:
    """Do everything `charlstm inspect` does; returns the findings written to --json.

    `live`: the embedded network (charlstm.export.web.live_assets) for the page's live view; None: no live view.
    """
    from charlstm.inspect import report

    out_path = check_out_path(opts.out)
    json_path = check_out_path(opts.json_path, "--json") if opts.json_path else None
    user = [detectors.parse_detector(s) for s in opts.detectors]
    paths = [ckpt_io.resolve(c) for c in (opts.checkpoints or [None])]
    ckpt, net = load_network(paths[0])
    for extra in paths[1:]:
        load_network(extra)  # refuse a foreign compared checkpoint before any work
    m = ckpt.model
    if opts.layer is not None and not 1 <= opts.layer <= m.layers:
        raise UsageError(f"--layer {opts.layer} is out of range: this model has layers 1 to {m.layers}")
    units = parse_units(opts.units, m.units)
    vocab = Vocabulary(ckpt.vocabulary)
    text, source = load_text(opts, ckpt, vocab, warn)
    total = len(text)
    if total > opts.chars:
        text = text[: opts.chars]
        warn(f"inspecting the first {opts.chars:,} of {total:,} characters (--chars)")
    if len(text) < 2:
        raise CorpusError(f"{source}: needs at least 2 characters (one to read, one to predict)")
    trace = net.trace(vocab.encode(text))
    signals = detectors.compute(text, user)
    findings = {
        "checkpoint": str(ckpt.path),
        "text_source": source,
        "chars": len(text),
        "chars_available": total,
        "bits_per_char": float(trace.surprise_bits.mean()),
        "detectors": {k: [f.as_dict() for f in v] for k, v in detectors.best_units(signals, trace.layers).items()},
        "forget_at_sentence_end": detectors.forget_at_sentence_end(text, trace.layers),
        "saturation": [
            {g: {k: v for k, v in s.items() if k.startswith("share")} for g, s in layer.items()}
            for layer in detectors.saturation(trace.layers)
        ],
    }
    curves = _gradients(paths, text, opts, warn) if opts.gradients else []
    findings["gradients"] = [c.as_dict() for c in curves]
    page = report.render(
        ckpt,
        text,
        trace,
        signals,
        findings,
        curves,
        layers=[opts.layer] if opts.layer else list(range(1, m.layers + 1)),
        units=units,
        live=live,
    )
    if json_path:
        _write_json(json_path, findings, trace)
    _write(out_path, page.encode("utf-8"))
    return findings


def _gradients(paths, text, opts, warn) -> list:
    from charlstm.inspect.gradients import measure

    curves = []
    for path in paths:
        c = ckpt_io.load(path)
        v = Vocabulary(c.vocabulary)
        t = prepare_text(text, v, c.training.lowercase, on_unknown="skip", allow_empty=True).text
        if len(t) < 3:
            warn(f"{path}: too little of the text is in its vocabulary for the gradient view")
            continue
        label = f"{c.model.cell} {c.model.layers}×{c.model.units} · {ckpt_io.display_name(path)}"
        curves.append(measure(path, v.encode(t), label, max_k=opts.max_k))
    return curves


def _write_json(path: Path, findings: dict, trace) -> None:
    arrays = {f"layer{li}_{k}": v for li, rec in enumerate(trace.layers, start=1) for k, v in rec.items()}
    arrays["ids"], arrays["probs"] = trace.ids, trace.probs
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    npz = path.with_suffix(".npz")
    findings["arrays"] = str(npz)
    _write(npz, buf.getvalue())
    _write(path, json.dumps(findings, indent=1).encode("utf-8"))


def _write(path: Path, data: bytes) -> None:
    """`files.atomic_write`: a reader never sees half a page."""
    try:
        atomic_write(path, data)
    except OSError as e:
        raise CharlstmError(f"cannot write {path}: {e.strerror or e}") from None
