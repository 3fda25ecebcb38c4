"""`charlstm export`: a trained model where Python is not.

    web          one self-contained HTML page that generates in the browser, offline (web.py)
    js           an ES module, its WebAssembly kernel and a weights file, for a web developer's own site
    saved_model  a TensorFlow SavedModel (serving_default: ids -> probs; step: one char + state) (saved_model.py)
    tflite       the SavedModel's `step` as a TFLite model (step.tflite + vocabulary.json in a folder)

Every format reads the network through `arrays.network_arrays` and is written atomically:
a file through `charlstm.files.atomic_write`, a folder built under a temporary name beside
the target and renamed into place, so an interrupted export leaves nothing behind.
web and js never import TensorFlow; saved_model and tflite import it through `charlstm.training.tf_runtime`.
"""

from __future__ import annotations

import os
from pathlib import Path

from charlstm import checkpoint as ckpt_io
from charlstm.errors import CharlstmError, UsageError
from charlstm.files import atomic_folder, atomic_write

FORMATS = ("web", "js", "saved_model", "tflite")
PRECISIONS = ("float16", "float32")


def _check(fmt: str, out: Path, precision: str, overwrite: bool) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}: choose float16 or float32")
    if fmt in ("saved_model", "tflite") and precision != "float32":
        raise UsageError(f"a {fmt} export holds float32 weights: leave out --precision or give float32")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such folder; create it first")
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise UsageError(f"{out} exists: pass --overwrite to replace it")
    if out.is_dir() and fmt == "web":
        raise UsageError(f"{out} is a folder: the web export is one HTML file")


def export(
    checkpoint: str | os.PathLike | None,
    fmt: str,
    out: str | os.PathLike,
    precision: str | None = None,
    overwrite: bool = False,
    title: str | None = None,
) -> Path:
    """Write checkpoint (a run folder, a .keras file, or None: the latest run) as `fmt` at `out`.

    precision: the web/js weights' float16 (default: half the size, probabilities within
    1e-3 of float32's) or float32 (exact); saved_model and tflite are always float32.
    """
    out = Path(out)
    precision = precision or ("float16" if fmt in ("web", "js") else "float32")
    _check(fmt, out, precision, overwrite)
    from charlstm.export.arrays import network_arrays

    ckpt, net = network_arrays(ckpt_io.resolve(checkpoint))
    try:
        if fmt == "web":
            from charlstm.export.web import page

            atomic_write(out, page(net, precision, title or f"charlstm: {ckpt_io.display_name(ckpt.path)}"))
        elif fmt == "js":
            from charlstm.export.web import write_module

            atomic_folder(out, lambda d: write_module(net, precision, d))
        elif fmt == "saved_model":
            from charlstm.export.saved_model import write_saved_model

            atomic_folder(out, lambda d: write_saved_model(net, d))
        else:
            from charlstm.export.saved_model import write_tflite

            atomic_folder(out, lambda d: write_tflite(net, d))
    except OSError as e:
        raise CharlstmError(f"{out}: cannot write the export ({e.strerror or e})") from None
    return out
