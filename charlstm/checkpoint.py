"""Self-contained checkpoints: one `.keras` file holds everything.

A checkpoint is the Keras-native zip written by `model.save` (so plain
`keras.saving.load_model` opens it) with two more members:

- `charlstm.json`: format and charlstm versions, vocabulary, model and training
  configs, epoch, loss history, RNG state and a prime excerpt;
- `charlstm_weights.npz`: the network's arrays by name (`rnn_1/kernel`, ...), so
  the NumPy sampler reads them without TensorFlow. Loaded with allow_pickle=False.

Writes go to a temporary name in the same directory, are fsynced, then renamed,
so `best.keras` and `last.keras` are never half-written. Nothing is pickled and
the Keras model is loaded in safe mode with an allow-list of layer classes.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from charlstm import __version__
from charlstm.config import ModelConfig, TrainConfig, from_dict
from charlstm.errors import CheckpointError

FORMAT = "charlstm-checkpoint"
FORMAT_VERSION = 1
META_NAME = "charlstm.json"
WEIGHTS_NAME = "charlstm_weights.npz"
BEST, LAST = "best.keras", "last.keras"
# Layer classes a charlstm model is made of; anything else (Lambda above all) is refused.
ALLOWED_LAYERS = {"InputLayer", "Embedding", "LSTM", "GRU", "SimpleRNN", "RNN", "Dropout", "Dense"}
ALLOWED_CELLS = {"PeepholeLSTMCell", "CIFGCell"}


@dataclass
class Checkpoint:
    """What a checkpoint holds besides the Keras model itself."""

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


def resolve(spec: str | os.PathLike | None, prefer: str = BEST) -> Path:
    """A checkpoint file from -c: a file, a run directory (its best), or the latest run."""
    if spec is None:
        root = default_root()
        runs = [p.parent for p in root.glob(f"*/{LAST}")] + [p.parent for p in root.glob(f"*/{BEST}")]
        if not runs:
            raise CheckpointError(
                f"no checkpoints under {root}/: train one first (charlstm train CORPUS) "
                f"or point to one with -c"
            )
        latest = max(set(runs), key=lambda d: max(f.stat().st_mtime for f in d.glob("*.keras")))
        return resolve(latest, prefer)
    path = Path(spec)
    if path.is_dir():
        for name in (prefer, BEST, LAST):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path}: no {BEST} or {LAST} in this directory; is it a training run?")
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint file or directory")
    return path


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
            f"{path}: not a readable checkpoint: not a charlstm checkpoint, or truncated or "
            f"corrupted ({e})"
        ) from None


def load(path: str | os.PathLike) -> Checkpoint:
    """Read and check a checkpoint's metadata."""
    path = Path(path)
    with _open_zip(path) as z:
        if META_NAME not in z.namelist():
            hint = " (a plain Keras model, not a charlstm checkpoint)" if "config.json" in z.namelist() else ""
            raise CheckpointError(f"{path}: not a charlstm checkpoint{hint}")
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
        known = {"format", "format_version", "charlstm_version", "vocabulary", "model",
                 "training", "epoch", "history", "prime_excerpt"}
        ckpt = Checkpoint(
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


def load_keras_model(path: str | os.PathLike, compile: bool = True):
    """The Keras model, loaded in safe mode after the layer allow-list check."""
    from charlstm import cells  # noqa: F401  (registers the custom cells)
    from charlstm.tf_runtime import keras as get_keras

    path = Path(path)
    load(path)
    check_keras_config(path)
    keras = get_keras()
    try:
        return keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as e:  # Keras raises many types for a damaged file
        raise CheckpointError(f"{path}: cannot load the Keras model ({type(e).__name__}: {e})".splitlines()[0]) from None


# --- writing -------------------------------------------------------------------------------

def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(model, ckpt: Checkpoint, path: Path, weights: dict[str, np.ndarray]) -> Path:
    """Write model + metadata to `path` atomically: temp file, fsync, rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras")
    try:
        model.save(tmp)
        buf = io.BytesIO()
        np.savez(buf, **weights)
        with zipfile.ZipFile(tmp, "a") as z:
            z.writestr(META_NAME, json.dumps(ckpt.to_json(), indent=1))
            z.writestr(WEIGHTS_NAME, buf.getvalue())
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise CheckpointError(
            f"cannot write checkpoint {path}: {e.strerror or e}; the previous checkpoint is intact"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def copy(src: Path, dst: Path) -> Path:
    """Atomic copy (best := last after an improving epoch)."""
    tmp = dst.with_name(f".{dst.stem}.tmp-{os.getpid()}.keras")
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dst)
        _fsync_dir(dst.parent)
    except OSError as e:
        raise CheckpointError(
            f"cannot write checkpoint {dst}: {e.strerror or e}; the previous checkpoint is intact"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def check_writable(directory: Path) -> None:
    """Fail before training, not after the first epoch, if checkpoints cannot be written.

    Also removes temporary files a killed run left behind (a run owns its directory).
    """
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob(".*.tmp-*.keras"):
            stale.unlink(missing_ok=True)
        probe = directory / f".write-test-{os.getpid()}"
        with open(probe, "wb") as f:
            f.write(b"ok")
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as e:
        raise CheckpointError(
            f"checkpoint directory {directory} is not writable ({e.strerror or e}); "
            f"choose another with --checkpoint-dir"
        ) from None
