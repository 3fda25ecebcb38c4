"""The GPU path that cannot fall back silently, and mixed precision.

GPU tests are marked `gpu` and skip where TensorFlow sees no GPU; the rest run anywhere.
"""

import io
import json
import zipfile

import numpy as np
import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.config import ModelConfig
from charlstm.errors import UsageError

from helpers import TINY_TRAIN_ARGS, invoke, tiny_args


def _gpus():
    from charlstm.training.tf_runtime import tensorflow

    return tensorflow().config.list_physical_devices("GPU")


def test_cudnn_is_required_of_every_recurrent_layer_and_not_saved(tmp_path):
    from charlstm.training import model as model_lib

    model = model_lib.build(ModelConfig(vocab_size=7, units=4, layers=2, embedding_dim=3))
    model_lib.require_cudnn(model, "lstm")
    assert [layer.use_cudnn for layer in model_lib.parts(model)[1]] == [True, True]
    path = tmp_path / "m.keras"
    model.save(path)
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    saved = [layer["config"] for layer in config["config"]["layers"] if layer["class_name"] == "LSTM"]
    assert len(saved) == 2 and not any("use_cudnn" in c for c in saved)  # loads on a CPU-only machine


@pytest.mark.parametrize("cell", ["peephole", "cifg", "rnn"])
def test_gpu_refuses_cells_without_a_cudnn_kernel(cell):
    from charlstm.training import model as model_lib

    model = model_lib.build(ModelConfig(vocab_size=7, cell=cell, units=4, layers=1, embedding_dim=3))
    with pytest.raises(UsageError, match=f"--device gpu needs a cuDNN kernel and the {cell} cell has none"):
        model_lib.require_cudnn(model, cell)


def test_device_gpu_without_a_gpu_is_one_line(runner, tiny_corpus, tmp_path):
    if _gpus():
        pytest.skip("a GPU is present")
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", tmp_path / "run", "--device", "gpu", *TINY_TRAIN_ARGS)
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: --device gpu: TensorFlow sees no GPU") and r.stderr.count("\n") == 1


def test_mixed_precision_trains_where_the_hardware_has_it_and_says_why_not_elsewhere(runner, tiny_corpus, tmp_path):
    from charlstm.training.tf_runtime import cpu_has_bfloat16

    run = tmp_path / "run"
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", run, "--mixed-precision", "--quiet", *TINY_TRAIN_ARGS)
    if not (cpu_has_bfloat16() or _gpus()):
        assert r.exit_code == 1
        assert r.stderr == (
            "Error: --mixed-precision: no GPU, and this CPU has no bfloat16 arithmetic "
            "(AVX512_BF16 or AMX); train in float32 (--no-mixed-precision, which a resumed run may also switch to)\n"
        )
        return
    assert r.exit_code == 0, r.stderr
    meta = ckpt_io.load(run / "best.keras")
    assert meta.training.mixed_precision is True
    weights = ckpt_io.load_weights(run / "best.keras")
    assert all(w.dtype == np.float32 for w in weights.values())  # variables stay float32
    r = invoke(runner, "generate", "-c", run, "--length", "30", "--seed", "1")  # the NumPy sampler reads it
    assert r.exit_code == 0 and len(r.stdout) > 30
    from charlstm.training import model as model_lib
    from charlstm.training.tf_runtime import keras

    keras().mixed_precision.set_global_policy("float32")
    model = model_lib.load_keras_model(run / "best.keras", compile=False)  # loads on a CPU-only machine
    probs = np.asarray(model(np.zeros((1, 5), "int32")), np.float32)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-2)


@pytest.mark.gpu
def test_a_resumed_run_keeps_its_precision_unless_told_and_may_switch_it(runner, tiny_corpus, tmp_path):
    """Precision is a run control: the weights and Adam's slots are float32 either way, so a run
    trained in bfloat16 continues in float32 on a machine without it (issue 29's base model
    trains across sessions on different machines), and a float32 run may switch bfloat16 on."""
    from charlstm.config import TrainConfig
    from charlstm.training.resume import resumed_config
    from charlstm.training.tf_runtime import cpu_has_bfloat16

    trained_bf16 = TrainConfig(mixed_precision=True)
    stored = ckpt_io.CheckpointMeta(tmp_path, "ab", ModelConfig(vocab_size=2), trained_bf16, epoch=1)
    assert resumed_config(stored, {}).mixed_precision is True  # not asked: kept
    assert resumed_config(stored, {"mixed_precision": False}).mixed_precision is False
    with pytest.raises(UsageError, match="--units"):  # a model option is still refused
        resumed_config(stored, {"units": 7})

    run, start = tmp_path / "run", ["--mixed-precision"] if (cpu_has_bfloat16() or _gpus()) else []
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", run, "--quiet", *start, *tiny_args(epochs=1))
    assert r.exit_code == 0, r.stderr
    assert ckpt_io.load(run / "last.keras").training.mixed_precision is bool(start)
    r = invoke(
        runner,
        "train",
        tiny_corpus,
        "--checkpoint-dir",
        run,
        "--resume",
        "--quiet",
        "--epochs",
        "2",
        "--no-mixed-precision",
    )
    assert r.exit_code == 0, r.stderr
    meta = ckpt_io.load(run / "last.keras")
    assert (meta.epoch, meta.training.mixed_precision) == (2, False)


def test_gpu_trains_with_cudnn_and_mixed_precision(runner, tiny_corpus, tmp_path):
    if not _gpus():
        pytest.skip("no GPU visible to TensorFlow")
    for flags in ([], ["--mixed-precision"]):
        run = tmp_path / f"run{len(flags)}"
        r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", run, *flags, *tiny_args(device="gpu", quiet=True))
        assert r.exit_code == 0, r.stderr
        assert invoke(runner, "generate", "-c", run, "--length", "20", "--seed", "1").exit_code == 0


def test_a_bfloat16_run_stopped_mid_epoch_resumes_with_its_carried_state(tmp_path, monkeypatch):
    """The state carried across windows is saved in float32 (npz has no bfloat16: it stored raw
    2-byte values, which TensorFlow then refused on resume), and such older files still load."""
    import charlstm
    from charlstm.training import tf_runtime

    from helpers import TINY_TEXT, tiny_run

    monkeypatch.setattr(tf_runtime, "cpu_has_bfloat16", lambda: True)  # Keras emulates it on any CPU
    corpus = tmp_path / "text.txt"
    corpus.write_text(TINY_TEXT * 50, encoding="utf-8")  # 170 steps an epoch: the budget ends mid-epoch
    run = tmp_path / "run"
    opts = tiny_run(mixed_precision=True, carry_state=True, max_time=1.0)
    try:
        charlstm.train(corpus, checkpoint_dir=run, verbose=False, **opts)
        with zipfile.ZipFile(run / ckpt_io.LAST) as z:
            stored = np.load(io.BytesIO(z.read(ckpt_io.CARRIED_STATE_NAME)))
            assert stored.files and all(stored[k].dtype == np.float32 for k in stored.files)  # as written
        before = ckpt_io.load(run / ckpt_io.LAST).extra["resume"]["global_step"]
        charlstm.train(corpus, checkpoint_dir=run, resume=True, verbose=False, max_time=1.0)
        assert ckpt_io.load(run / ckpt_io.LAST).extra["resume"]["global_step"] > before
    finally:
        tf_runtime.set_precision(False)

    raw = np.array([[1.5, -2.0, 256.0, 1e-3]], np.float32)
    bits = (raw.view(np.uint32) >> 16).astype(np.uint16).view("V2")  # what an older run wrote
    older = tmp_path / "older.keras"
    with zipfile.ZipFile(run / ckpt_io.LAST) as zin, zipfile.ZipFile(older, "w") as zout:
        for name in zin.namelist():
            carry = name == ckpt_io.CARRIED_STATE_NAME
            zout.writestr(name, _npz({"layer0/0": bits, "layer0/1": bits}) if carry else zin.read(name))
    old = ckpt_io.load_carried_state(older)
    bf16 = (raw.view(np.uint32) & 0xFFFF0000).view(np.float32)  # raw rounded towards zero to bfloat16
    assert old[0][0].dtype == np.float32 and np.array_equal(old[0][0], bf16)


def _npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()
