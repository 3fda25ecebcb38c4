"""The base model's release step (scripts/release_base.py) and the packaged `base` in an installed wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from charlstm import checkpoint as ckpt_io

from helpers import load_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def release_base():
    return load_script("release_base")


def test_release_drops_the_optimizer_and_stores_float16_within_the_loss_bound(tmp_path, trained_run, release_base):
    import keras

    import charlstm

    dest = tmp_path / "models" / "base.keras"
    report = release_base.release(trained_run, dest, float16=True)
    assert abs(report["nats_float16"] - report["nats_float32"]) < release_base.MAX_FLOAT16_LOSS
    assert report["held_out_chars"] > 0 and report["sha256"] == ckpt_io.sha256(trained_run / ckpt_io.BEST)
    assert dest.stat().st_size < (trained_run / ckpt_io.BEST).stat().st_size  # no Adam slots
    assert all(a.dtype == np.float16 for a in ckpt_io.load_weights(dest).values())
    assert "resume" not in ckpt_io.load(dest).extra
    with zipfile.ZipFile(dest) as z:
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
    plain = keras.saving.load_model(dest)  # plain Keras opens it, without an optimizer
    assert getattr(plain, "optimizer", None) is None
    original = charlstm.load(trained_run).generate(prime="the ", length=50, seed=2, temperature=0)
    assert charlstm.load(dest).generate(prime="the ", length=50, seed=2, temperature=0)[:8] == original[:8]


def test_a_float16_release_is_a_start_for_fine_tuning(tmp_path, trained_run, release_base, monkeypatch):
    from charlstm.sampler.network import EMBEDDINGS
    from charlstm.training import model as model_lib
    from charlstm.training import plan as runplan
    from charlstm.training.setup import RunOptions, TrainingSetup

    dest = tmp_path / "base.keras"
    release_base.release(trained_run, dest, float16=True)
    monkeypatch.setenv(ckpt_io.BASE_ENV, str(dest))
    quiet = {"log": lambda m: None}
    given = {"init_from": "base", "epochs": 1, "seed": 1}
    plan = runplan.plan_run(
        [trained_run.parent / "tiny.txt"], tmp_path / "ft", given, resume=False, overwrite=False, **quiet
    )
    setup = TrainingSetup(plan, RunOptions(progress=False, **quiet))
    start = ckpt_io.load_weights(dest)
    for name, array in model_lib.named_weights(setup.model).items():
        assert array.dtype == np.float32 and np.array_equal(array, start[name].astype(np.float32)), name
    assert EMBEDDINGS in start


def test_release_refuses_when_float16_moves_the_held_out_loss(tmp_path, trained_run, release_base, monkeypatch):
    monkeypatch.setattr(release_base, "MAX_FLOAT16_LOSS", 0.0)  # any move at all is too much
    with pytest.raises(SystemExit, match="float16 moves the held-out loss"):
        release_base.release(trained_run, tmp_path / "base.keras", float16=True)
    assert not (tmp_path / "base.keras").exists()


def test_release_refuses_a_model_over_the_size_bound(tmp_path, trained_run, release_base, monkeypatch):
    monkeypatch.setattr(release_base, "MAX_BYTES", 1000)
    with pytest.raises(SystemExit, match="over"):
        release_base.release(trained_run, tmp_path / "base.keras", float16=False)
    assert not (tmp_path / "base.keras").exists()


@pytest.mark.slow
def test_the_packaged_base_loads_from_an_installed_wheel(tmp_path, trained_run):
    """Build a wheel with a stand-in base.keras in the package data, install it (not editable)
    into a target directory, and name `base` from outside the source tree."""
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "checkpoints", "corpora", "*.ids"))
    (source / "charlstm" / "models").mkdir(exist_ok=True)
    shutil.copyfile(trained_run / ckpt_io.BEST, source / "charlstm" / "models" / "base.keras")
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, source], check=True)
    (wheel,) = wheels.glob("charlstm-*.whl")
    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", target, wheel], check=True)
    assert (target / "charlstm" / "models" / "base.keras").is_file()
    # and every page and script the commands serve or write, which live in data-only folders
    for data in ("inspect/page.js", "serve/page/index.html", "export/js/kernel.wasm", "export/js/page.js"):
        assert (target / "charlstm" / data).is_file(), data
    probe = (
        "import charlstm, sys; m = charlstm.load('base'); "
        "assert m.path.is_file() and 'site' in str(m.path), m.path; "
        "print(charlstm.__file__); print(m.generate(prime='the ', length=20, seed=1))"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "CHARLSTM_CHECKPOINTS": str(tmp_path / "none")}
    done = subprocess.run([sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(str(target / "charlstm")) and done.stdout.splitlines()[1].startswith("the ")


def test_a_run_trained_in_bfloat16_is_released_as_float32_layers(tmp_path, trained_run, release_base, monkeypatch):
    """Keras stores a mixed-precision layer's dtype policy in the model's config; the base is
    released as a float32 model holding the same weights (export and inspect's gradients load
    it), whatever precision trained it (issue 29's base trained in bfloat16 where the CPU had it)."""
    import json

    import charlstm
    from charlstm.training import tf_runtime

    from helpers import tiny_run

    monkeypatch.setattr(tf_runtime, "cpu_has_bfloat16", lambda: True)  # Keras emulates it on any CPU
    run = tmp_path / "bf16"
    charlstm.train(trained_run.parent / "tiny.txt", checkpoint_dir=run, verbose=False, **tiny_run(mixed_precision=True))
    tf_runtime.set_precision(False)
    with zipfile.ZipFile(run / ckpt_io.BEST) as z:
        assert "mixed_bfloat16" in z.read("config.json").decode()  # what the release must not ship
    dest = tmp_path / "base.keras"
    release_base.release(run, dest, float16=False)
    with zipfile.ZipFile(dest) as z:
        config = z.read("config.json").decode()
    assert "bfloat16" not in config and json.loads(config)["config"]["layers"]
    assert ckpt_io.load(dest).training.mixed_precision is True  # the record of how it was trained
    trained, released = ckpt_io.load_weights(run / ckpt_io.BEST), ckpt_io.load_weights(dest)
    assert trained.keys() == released.keys()
    assert all(np.array_equal(trained[k], released[k]) for k in trained)
    from charlstm.training import model as model_lib

    keras_weights = model_lib.named_weights(model_lib.load_keras_model(dest, compile=False))
    assert all(np.array_equal(keras_weights[k], trained[k]) for k in trained)
