"""Checkpoint loading refuses what it should, with one clear message."""

import json
import shutil
import zipfile

import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.errors import CheckpointError

from helpers import invoke


def _rewrite(src, dst, replace: dict):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if item.filename in replace:
                if replace[item.filename] is not None:
                    zout.writestr(item.filename, replace[item.filename])
            else:
                zout.writestr(item, zin.read(item.filename))


def test_truncated_checkpoint_is_a_clear_error(trained_run, tmp_path, runner):
    bad = tmp_path / "trunc.keras"
    bad.write_bytes((trained_run / "best.keras").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        ckpt_io.load(bad)
    r = invoke(runner, "generate", "-c", bad)
    assert r.exit_code == 1 and r.stderr.startswith(f"Error: {bad}: not a readable checkpoint")


def test_newer_format_is_refused(trained_run, tmp_path):
    meta = json.loads(zipfile.ZipFile(trained_run / "best.keras").read("charlstm.json"))
    meta["format_version"] = ckpt_io.FORMAT_VERSION + 1
    newer = tmp_path / "newer.keras"
    _rewrite(trained_run / "best.keras", newer, {"charlstm.json": json.dumps(meta)})
    with pytest.raises(CheckpointError, match="is newer than this charlstm understands.*upgrade charlstm"):
        ckpt_io.load(newer)


def test_plain_keras_model_is_not_a_charlstm_checkpoint(trained_run, tmp_path, runner):
    foreign = tmp_path / "other.keras"
    _rewrite(trained_run / "best.keras", foreign, {"charlstm.json": None, "charlstm_weights.npz": None})
    r = invoke(runner, "info", "-c", foreign)
    assert r.exit_code == 1
    assert r.stderr == (
        f"Error: {foreign}: a plain Keras model, not a charlstm checkpoint (train one with charlstm train)\n"
    )


def test_lambda_layer_is_refused(trained_run, tmp_path):
    import keras

    from charlstm.training import model as model_lib

    inp = keras.Input((None,), dtype="int32")
    out = keras.layers.Lambda(lambda x: x * 2)(keras.layers.Embedding(5, 3)(inp))
    evil = tmp_path / "evil.keras"
    keras.Model(inp, out).save(evil)
    shutil.copy(evil, tmp_path / "evil2.keras")
    meta = zipfile.ZipFile(trained_run / "best.keras").read("charlstm.json")
    with zipfile.ZipFile(evil, "a") as z:
        z.writestr("charlstm.json", meta)
    with pytest.raises(CheckpointError, match="refuses to load layer 'Lambda'"):
        model_lib.load_keras_model(evil)


def test_resolve_prefers_best_in_a_run_dir(trained_run):
    assert ckpt_io.resolve(trained_run) == trained_run / "best.keras"
    assert ckpt_io.resolve(trained_run / "last.keras") == trained_run / "last.keras"


def test_unwritable_checkpoint_dir_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CheckpointError, match="is not writable"):
        ckpt_io.check_writable(blocker / "sub")


def test_a_checkpoint_is_named_by_its_run_or_else_its_file(tmp_path):
    """One name in the export page's title, inspect's labels and the server's model id."""
    assert ckpt_io.display_name(tmp_path / "macbeth" / "best.keras") == "macbeth"
    assert ckpt_io.display_name(tmp_path / "macbeth" / "last.keras") == "macbeth"
    assert ckpt_io.display_name(tmp_path / "models" / "base.keras") == "base"  # not its package folder
    assert ckpt_io.display_name(tmp_path / "epoch3.keras") == "epoch3"
