"""Self-contained checkpoints: one `.keras` file holds everything.

A checkpoint is the Keras-native zip written by `model.save` (so plain
`keras.saving.load_model` opens it) with more members:

- `charlstm.json` (`CheckpointMeta`): format and charlstm versions, vocabulary,
  model and training configs, epoch, loss history, a prime excerpt and where the
  run is (`runstate.RunState`). No RNG state: data order and dropout masks are
  functions of (seed, epoch, step);
- `charlstm_weights.npz`: the network's arrays by name (`rnn_1/kernel`, ...), so
  the NumPy sampler reads them without TensorFlow. Loaded with allow_pickle=False;
- `charlstm_carry.npz`, only in a mid-epoch checkpoint of a run that carries state
  across windows: the carried state of every row, so a resume continues exactly.

Writes go through `charlstm.files.atomic_write` (temporary name in the same
directory, fsync, rename), so `best.keras` and `last.keras` are never half-written. Nothing is pickled and
the Keras model is loaded in safe mode with an allow-list of layer classes.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.resources
import io
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charlstm import __version__, files
from charlstm.config import ModelConfig, TrainConfig, from_dict
from charlstm.errors import CheckpointError
from charlstm.files import atomic_write

FORMAT = "charlstm-checkpoint"
FORMAT_VERSION = 1
META_NAME = "charlstm.json"
WEIGHTS_NAME = "charlstm_weights.npz"
CARRIED_STATE_NAME = "charlstm_carry.npz"  # mid-epoch checkpoints of carried-state runs: the state of every row
BEST, LAST = "best.keras", "last.keras"
# Layer classes a charlstm model is made of; anything else (Lambda above all) is refused.
ALLOWED_LAYERS = {"InputLayer", "Embedding", "LSTM", "GRU", "SimpleRNN", "RNN", "Dropout", "Dense"}
ALLOWED_CELLS = {"PeepholeLSTMCell", "CIFGCell"}
STALE_TEMPS = f".*{files.TEMP_MARK}*.keras"  # what files.atomic_write leaves if killed mid-write


@dataclass
class CheckpointMeta:
    """A checkpoint's metadata (`charlstm.json`): what it holds besides the Keras model and the arrays."""

    path: Path
    vocabulary: str  # sorted distinct characters; id = index
    model: ModelConfig
    training: TrainConfig
    epoch: int  # epochs completed
    history: list = field(default_factory=list)  # one dict per epoch
    prime_excerpt: str = ""  # a bit of training text to start from when no prime is given
    extra: dict = field(default_factory=dict)  # resume state, corpus description, ...
    charlstm_version: str = __version__

    def to_json(self) -> dict:
        from dataclasses import asdict

        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "charlstm_version": self.charlstm_version,
            "vocabulary": self.vocabulary,
            "model": asdict(self.model),
            "training": asdict(self.training),
            "epoch": self.epoch,
            "history": self.history,
            "prime_excerpt": self.prime_excerpt,
            **self.extra,
        }

    @property
    def best_val_bits_per_char(self) -> float | None:
        vals = [h["val_bits_per_char"] for h in self.history if h.get("val_bits_per_char") is not None]
        return min(vals) if vals else None


# --- locating ------------------------------------------------------------------------------


def default_root() -> Path:
    return Path(os.environ.get("CHARLSTM_CHECKPOINTS", "checkpoints"))


BASE = "base"  # the name of the model shipped inside the package: -c base, --init-from base
BASE_FILE = "base.keras"  # charlstm/models/base.keras, package data (scripts/release_base.py writes it)
# Test-only: a stand-in base model file, so tests never need the real one in the package.
BASE_ENV = "CHARLSTM_BASE_MODEL"
_resources = contextlib.ExitStack()  # keeps an extracted package resource alive (zip imports) until exit
atexit.register(_resources.close)


def base_model() -> Path | None:
    """The bundled base model's file, or None when this build carries none."""
    if os.environ.get(BASE_ENV):
        path = Path(os.environ[BASE_ENV])
        return path if path.is_file() else None
    ref = importlib.resources.files("charlstm").joinpath("models", BASE_FILE)
    if not ref.is_file():
        return None
    return _resources.enter_context(importlib.resources.as_file(ref))  # a plain path for an installed wheel


def base_or_error() -> Path:
    path = base_model()
    if path is None:
        raise CheckpointError(
            "this build carries no base model: train your own (charlstm train TEXT) "
            "and name its run directory or checkpoint file instead of 'base'"
        )
    return path


def resolve(spec: str | os.PathLike | None, prefer: str = BEST, *, base_fallback=None) -> Path:
    """A checkpoint file from -c: `base` (the bundled model), a file, a run directory (its best),
    or None: the latest run under ./checkpoints. With `base_fallback(message)` given, None
    with no run there means the base model, and the message says so (`charlstm generate`)."""
    if spec is None:
        root = default_root()
        runs = [p.parent for p in root.glob(f"*/{LAST}")] + [p.parent for p in root.glob(f"*/{BEST}")]
        if not runs and base_fallback is not None and base_model() is not None:
            base_fallback(
                f"no run under {root}/: generating from the bundled base model; "
                f"train your own with: charlstm train YOUR_TEXT.txt --init-from base"
            )
            return base_or_error()
        if not runs:
            raise CheckpointError(
                f"no checkpoints under {root}/: train one first (charlstm train CORPUS) or point to one with -c"
            )
        latest = max(set(runs), key=lambda d: max(f.stat().st_mtime for f in d.glob("*.keras")))
        return resolve(latest, prefer)
    if os.fspath(spec) == BASE:  # the name wins over a file or folder called base: say ./base for that
        return base_or_error()
    path = Path(spec)
    if path.is_dir():
        for name in (prefer, BEST, LAST):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path}: no {BEST} or {LAST} in this directory; is it a training run?")
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file or directory")
    return path


def display_name(path: Path) -> str:
    """What a checkpoint file is called in page titles, labels and the server's model id: the run
    folder's name for a run's best.keras or last.keras, else the file's stem (the bundled model: base)."""
    return path.parent.name if path.name in (BEST, LAST) and path.parent.name else path.stem


def describe_corpus(record: dict) -> str:
    """A checkpoint's corpus record for people: a training run's file names, or a release's corpus
    name and sha256 (a released base records no path of the machine that trained it)."""
    chars = f"{record.get('chars', 0):,} chars"
    if record.get("names"):
        return f"{', '.join(record['names'])} ({chars})"
    if record.get("name"):
        digest = record.get("sha256")
        return f"{record['name']} ({chars}" + (f", sha256 {digest[:16]}…)" if digest else ")")
    return f"- ({chars})"


def sha256(path: Path) -> str:
    """The file's sha256 (what a fine-tuned checkpoint records of its start)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- reading (no TensorFlow) ---------------------------------------------------------------


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except PermissionError:
        raise CheckpointError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise CheckpointError(
            f"{path}: not a readable checkpoint: not a charlstm checkpoint, or truncated or corrupted ({e})"
        ) from None


def load(path: str | os.PathLike) -> CheckpointMeta:
    """Read and check a checkpoint's metadata."""
    path = Path(path)
    with _open_zip(path) as z:
        if META_NAME not in z.namelist():
            if "config.json" in z.namelist():
                raise CheckpointError(
                    f"{path}: a plain Keras model, not a charlstm checkpoint (train one with charlstm train)"
                )
            raise CheckpointError(f"{path}: not a charlstm checkpoint")
        try:
            meta = json.loads(z.read(META_NAME).decode("utf-8"))
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise CheckpointError(f"{path}: corrupted checkpoint metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a charlstm checkpoint")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {version} is newer than this charlstm understands "
            f"({FORMAT_VERSION}); upgrade charlstm (written by {meta.get('charlstm_version')})"
        )
    try:
        known = {
            "format",
            "format_version",
            "charlstm_version",
            "vocabulary",
            "model",
            "training",
            "epoch",
            "history",
            "prime_excerpt",
        }
        ckpt = CheckpointMeta(
            path=path,
            vocabulary=str(meta["vocabulary"]),
            model=from_dict(ModelConfig, meta["model"]),
            training=from_dict(TrainConfig, meta["training"]),
            epoch=int(meta["epoch"]),
            history=list(meta.get("history", [])),
            prime_excerpt=str(meta.get("prime_excerpt", "")),
            extra={k: v for k, v in meta.items() if k not in known},
            charlstm_version=str(meta.get("charlstm_version")),
        )
        ckpt.model.validate()
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: checkpoint metadata is incomplete ({e})") from None
    except Exception as e:  # UsageError from validate: impossible stored values
        raise CheckpointError(f"{path}: checkpoint metadata is invalid ({e})") from None
    return ckpt


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The named weight arrays, for the NumPy sampler."""
    path = Path(path)
    with _open_zip(path) as z:
        try:
            data = z.read(WEIGHTS_NAME)
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        except KeyError:
            raise CheckpointError(f"{path}: checkpoint has no {WEIGHTS_NAME}") from None
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise CheckpointError(f"{path}: corrupted weights in checkpoint ({e})") from None


def load_carried_state(path: str | os.PathLike) -> list[list[np.ndarray]] | None:
    """The carried state saved with a mid-epoch checkpoint (per layer, (rows, units) arrays), or None."""
    path = Path(path)
    with _open_zip(path) as z:
        if CARRIED_STATE_NAME not in z.namelist():
            return None
        try:
            with np.load(io.BytesIO(z.read(CARRIED_STATE_NAME)), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
            raise CheckpointError(f"{path}: corrupted carried state in checkpoint ({e})") from None
    arrays = {k: _from_raw_bfloat16(a) for k, a in arrays.items()}
    layers = sorted({int(k.split("/")[0][5:]) for k in arrays})
    return [[arrays[f"layer{i}/{j}"] for j in range(sum(k.startswith(f"layer{i}/") for k in arrays))] for i in layers]


def _from_raw_bfloat16(array: np.ndarray) -> np.ndarray:
    """float32 from a bfloat16 state that builds before 2026-12-06 saved as raw 2-byte values
    (dtype V2: npz has no bfloat16) in --mixed-precision runs: a bfloat16 is a float32's top 16 bits."""
    if array.dtype.kind != "V" or array.dtype.itemsize != 2:
        return array
    return (array.view(np.uint16).astype(np.uint32) << 16).view(np.float32)


def check_keras_config(path: Path) -> None:
    """Refuse a model whose config names a layer outside charlstm's allow-list."""
    with _open_zip(path) as z:
        try:
            config = json.loads(z.read("config.json"))
        except (KeyError, ValueError, zipfile.BadZipFile, OSError) as e:
            raise CheckpointError(f"{path}: missing or corrupted Keras config ({e})") from None

    def refuse(what):
        raise CheckpointError(
            f"{path}: refuses to load {what}: a charlstm checkpoint holds only "
            f"{', '.join(sorted(ALLOWED_LAYERS))} layers (code-carrying layers are never loaded)"
        )

    if not isinstance(config, dict) or config.get("class_name") != "Functional":
        refuse(f"model class {config.get('class_name') if isinstance(config, dict) else '?'!r}")
    for layer in config.get("config", {}).get("layers", []):
        cls = layer.get("class_name")
        if cls not in ALLOWED_LAYERS:
            refuse(f"layer {cls!r}")
        if cls == "RNN":
            cell = layer.get("config", {}).get("cell", {}).get("class_name")
            if cell not in ALLOWED_CELLS:
                refuse(f"cell {cell!r}")


# --- writing -------------------------------------------------------------------------------


def _write_failed(path: Path, e: OSError) -> CheckpointError:
    return CheckpointError(f"cannot write checkpoint {path}: {e.strerror or e}; the previous checkpoint is intact")


def save(
    model,
    ckpt: CheckpointMeta,
    path: Path,
    weights: dict[str, np.ndarray],
    carried_state: list[list[np.ndarray]] | None = None,
) -> Path:
    """Write model + metadata to `path` atomically (files.atomic_write: temp file, fsync, rename).

    `carried_state` is the state carried across windows at a mid-epoch checkpoint, per
    layer a list of (rows, units) arrays, so that resuming continues exactly.
    """
    path = Path(path)

    def write(tmp: Path) -> None:
        model.save(tmp)
        buf = io.BytesIO()
        np.savez(buf, **weights)
        with zipfile.ZipFile(tmp, "a") as z:
            z.writestr(META_NAME, json.dumps(ckpt.to_json(), indent=1))
            z.writestr(WEIGHTS_NAME, buf.getvalue())
            if carried_state is not None:
                buf = io.BytesIO()
                layers = enumerate(carried_state)
                np.savez(buf, **{f"layer{i}/{j}": a for i, layer in layers for j, a in enumerate(layer)})
                z.writestr(CARRIED_STATE_NAME, buf.getvalue())

    try:
        return atomic_write(path, write)
    except OSError as e:
        raise _write_failed(path, e) from None


def copy(src: Path, dst: Path) -> Path:
    """Atomic copy (best := last after an improving epoch)."""
    try:
        return atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))
    except OSError as e:
        raise _write_failed(dst, e) from None


def update_extra(path: Path, **extra) -> Path:
    """Rewrite a checkpoint with `extra` merged into its metadata, every other member copied
    unchanged (a run's end-of-run score, `final`, added to best.keras and last.keras)."""
    path = Path(path)
    meta = load(path).to_json() | extra

    def write(tmp: Path) -> None:
        with _open_zip(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
            for item in src.infolist():
                if item.filename != META_NAME:
                    dst.writestr(item, src.read(item.filename))
            dst.writestr(META_NAME, json.dumps(meta, indent=1))

    try:
        return atomic_write(path, write)
    except OSError as e:
        raise _write_failed(path, e) from None


def remove_stale_temps(directory: Path) -> None:
    """Delete the temporary checkpoints a killed run left behind (a run owns its directory)."""
    try:
        files.remove_stale_temps(directory, STALE_TEMPS)
    except OSError as e:
        raise CheckpointError(
            f"cannot clean up {directory} ({e.strerror or e}); remove its {STALE_TEMPS} "
            f"files by hand or choose another --checkpoint-dir"
        ) from None


def check_writable(directory: Path) -> None:
    """Fail before training, not after the first epoch, if checkpoints cannot be written.

    Creates the directory and writes (then deletes) a probe file; deletes nothing else
    (`remove_stale_temps` does that).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / f".write-test-{os.getpid()}", b"ok")
        (directory / f".write-test-{os.getpid()}").unlink()
    except OSError as e:
        raise CheckpointError(
            f"checkpoint directory {directory} is not writable ({e.strerror or e}); "
            f"choose another with --checkpoint-dir"
        ) from None
