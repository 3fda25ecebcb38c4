"""Package a trained run's best checkpoint as the bundled base model (`-c base`, `--init-from base`).

    python scripts/release_base.py RUN_DIR [--float16] [--dest charlstm/models/base.keras]

1. reads RUN_DIR's best checkpoint's weights into a fresh float32 Keras model (whatever
   precision trained them) without the optimizer: Adam's two slots per weight (2/3 of a
   training checkpoint's weights) are dropped;
2. with --float16, rounds every weight to float16 (the NumPy copy is stored as float16, the
   Keras copy as the rounded float32 values, which compress) and measures the held-out loss
   before and after with what `charlstm eval` runs (`Model.evaluate`), on the run's own
   held-out text (the last --val-fraction of its recorded corpus, as training split it);
   it refuses when the loss moves by 0.002 nats/char or more;
3. records the training corpus by name, size and sha256 (`corpus_record`: "english" when it is
   the pinned `charlstm corpus fetch english` build), never by the path it had on the machine
   that trained it;
4. picks the default prime again from the corpus with today's `prime_excerpt` and the run's
   seed (a run keeps the prime its first checkpoint stored, which may predate the rule: the
   run behind the 2026-12-08 base stored a man page's `ls -l` listing);
5. writes DEST atomically, every member deflated, and refuses a file over 10 MB.

`--rewrite-corpus-record CORPUS_FILE DEST` rewrites only an already released file's corpus
record (its `charlstm.json`), every other member's bytes unchanged: how the 2026-12-06 base
lost the trainer's path without being released again.

Commit a new base model rarely: each version stays in the history. The package carries
it as package data (pyproject.toml) and `charlstm.checkpoint.base_model` finds it with
importlib.resources, so it works from an installed wheel.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "charlstm" / "models" / "base.keras"
MAX_BYTES = 10 * 1024 * 1024  # the bound: the package stays small
MAX_FLOAT16_LOSS = 0.002  # nats/char the float16 rounding may cost on the held-out text


def held_out_text(ckpt) -> str:
    """The run's held-out slice, as training split it: the tail of its recorded corpus."""
    from charlstm.text.idfile import encode_corpus
    from charlstm.training import dataset

    names = (ckpt.extra.get("corpus") or {}).get("names") or []
    if not names or "<stdin>" in names:
        sys.exit(f"{ckpt.path}: its corpus files are not recorded (or were stdin): cannot measure the held-out loss")
    t = ckpt.training
    with tempfile.TemporaryDirectory() as tmp:
        encoded = encode_corpus(names, Path(tmp) / "corpus.ids", lowercase=t.lowercase, vocabulary=ckpt.vocabulary)
        _, val = dataset.split(encoded.ids, t.val_fraction, t.seq_length)
        return encoded.vocab.decode(val[: t.val_max_chars])


def default_prime(ckpt) -> str:
    """The prime `prime_excerpt` picks today from the run's recorded corpus with its seed; the
    stored one when the corpus is not recorded (stdin) or not on this machine."""
    from charlstm.text.corpus import EXCERPT_SPAN, prime_excerpt, read_corpus

    names = (ckpt.extra.get("corpus") or {}).get("names") or []
    if not names or "<stdin>" in names or not all(Path(n).is_file() for n in names):
        return ckpt.prime_excerpt
    return prime_excerpt(read_corpus(names, ckpt.training.lowercase)[:EXCERPT_SPAN], ckpt.training.seed)


def corpus_record(paths: list[str], chars: int) -> dict:
    """The corpus as a release names it: `name` (a pinned corpus's name, else the file's stem), `chars`,
    and the `sha256` of its bytes (files concatenated in order); no path."""
    from charlstm.catalog import english, registries

    if not paths or "<stdin>" in paths:
        return {"name": "<stdin>" if paths else None, "chars": chars, "sha256": None}
    data = b"".join(Path(p).read_bytes() for p in paths)
    digest = registries.sha256_of(data)
    pinned = {english.corpus(n)[1]: n for n in ("english", "english-classic")}
    name = pinned.get(digest) or "+".join(Path(p).stem for p in paths)
    return {"name": name, "chars": chars, "sha256": digest}


def rewrite_corpus_record(dest: Path, corpus: Path) -> dict:
    """`dest` with its metadata's corpus record made from `corpus` (which must be the size it records);
    every other member is copied byte for byte (the weights are untouched)."""
    import json

    from charlstm import checkpoint as ckpt_io
    from charlstm.files import atomic_write
    from charlstm.text.corpus import read_corpus

    with zipfile.ZipFile(dest) as z:
        meta = json.loads(z.read(ckpt_io.META_NAME).decode("utf-8"))
    chars = (meta.get("corpus") or {}).get("chars")
    if chars != len(read_corpus([str(corpus)])):
        sys.exit(f"{corpus} is not the corpus {dest} records ({chars} chars)")
    meta["corpus"] = corpus_record([str(corpus)], chars)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(dest) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                data = zin.read(item.filename)
                if item.filename == ckpt_io.META_NAME:
                    data = json.dumps(meta, indent=1).encode("utf-8")
                zout.writestr(item.filename, data)

    atomic_write(dest, write)
    return meta["corpus"]


def write_deflated(src: Path, dest: Path) -> None:
    """`src`'s members into `dest`, deflated, atomically (a float16-rounded float32 halves)."""
    from charlstm.files import atomic_write

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                zout.writestr(item.filename, zin.read(item.filename))

    atomic_write(dest, write)


def release(run_dir: Path, dest: Path, float16: bool) -> dict:
    """Write the base model to `dest`; returns what was measured."""
    import charlstm
    from charlstm import checkpoint as ckpt_io
    from charlstm.files import atomic_write
    from charlstm.training import model as model_lib
    from charlstm.training import tf_runtime

    source = ckpt_io.resolve(run_dir, ckpt_io.BEST)
    meta = ckpt_io.load(source)
    weights = ckpt_io.load_weights(source)  # the checkpoint's named float32 arrays, no optimizer slots
    # A fresh float32 model holds them: a run trained with --mixed-precision stores layers whose
    # dtype policy is mixed_bfloat16, which `export` (SavedModel, TFLite) and inspect's gradients
    # would then compute in, slowly emulated on a CPU without bfloat16. No optimizer: no slots saved.
    tf_runtime.set_precision(False)
    model = model_lib.build(meta.model)
    model_lib.assign_weights(model, weights)
    report = {"source": str(source), "sha256": ckpt_io.sha256(source), "float16": float16}
    if float16:
        rounded = {k: v.astype(np.float16) for k, v in weights.items()}
        model_lib.assign_weights(model, {k: v.astype(np.float32) for k, v in rounded.items()})
        weights = rounded
    extra = {k: v for k, v in meta.extra.items() if k != "resume"}  # not a run to resume
    recorded = extra.get("corpus") or {}
    extra["corpus"] = corpus_record(recorded.get("names") or [], recorded.get("chars", 0))
    meta = dataclasses.replace(meta, prime_excerpt=default_prime(meta))
    report["prime"] = meta.prime_excerpt
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "base.keras"
        ckpt_io.save(model, dataclasses.replace(meta, path=staged, extra=extra), staged, weights)
        if float16:
            text = held_out_text(meta)
            before = charlstm.load(source).evaluate(text=text)["nats_per_char"]
            after = charlstm.load(staged).evaluate(text=text)["nats_per_char"]
            report.update(held_out_chars=len(text), nats_float32=before, nats_float16=after)
            if abs(after - before) >= MAX_FLOAT16_LOSS:
                moved = f"{after - before:+.4f} nats/char"
                sys.exit(f"float16 moves the held-out loss by {moved}: release without --float16")
        compressed = Path(tmp) / "deflated.keras"
        write_deflated(staged, compressed)
        size = compressed.stat().st_size
        if size > MAX_BYTES:
            sys.exit(f"the base model is {size / 2**20:.1f} MB, over {MAX_BYTES / 2**20:.0f} MB: try --float16")
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, compressed.read_bytes())
    report.update(bytes=dest.stat().st_size, dest=str(dest))
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--rewrite-corpus-record"]:
        if len(argv) != 3:
            sys.exit("usage: release_base.py --rewrite-corpus-record CORPUS_FILE DEST")
        import json

        print(json.dumps(rewrite_corpus_record(Path(argv[2]), Path(argv[1])), indent=1))
        return
    parser.add_argument("run_dir", type=Path, help="a training run's directory (its best checkpoint is released)")
    parser.add_argument("--float16", action="store_true", help="store float16 weights (held-out loss checked)")
    parser.add_argument("--dest", type=Path, default=DEST, help=f"where to write it [default: {DEST}]")
    args = parser.parse_args(argv)
    import json

    print(json.dumps(release(args.run_dir, args.dest, args.float16), indent=1))


if __name__ == "__main__":
    main()
