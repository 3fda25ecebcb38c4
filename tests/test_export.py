"""`charlstm export`: the JavaScript network against NumPy in Node, the SavedModel in a fresh
process, the weights file, the kernel's source, and every bad input.

Node tests need Debian's nodejs (installed by .ci/run; without it they fail in CI, skip elsewhere);
the WebAssembly test needs wabt's wat2wasm. The browser side is tests/test_export_browser.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import charlstm
from charlstm.config import CELLS
from charlstm.errors import UsageError
from charlstm.export import binary
from charlstm.export.arrays import network_arrays
from charlstm.sampler.equations import softmax
from charlstm.sampler.network import load_network
from charlstm.sampler.sampling import pick

from helpers import TINY_TEXT, invoke, unavailable

JS = Path(charlstm.__file__).parent / "export" / "js"
DRIVERS = Path(__file__).parent / "js"
TEXT = TINY_TEXT[:2000]  # probabilities are compared at every position of this text


def node() -> str:
    exe = shutil.which("node") or shutil.which("nodejs")
    if not exe:
        unavailable("no node: install Debian's nodejs (.ci/run does) to run the JavaScript against NumPy")
    return exe


def numpy_probs(run: Path, text: str) -> np.ndarray:
    """The NumPy sampler's next-char probabilities after each char of `text`: (time, vocab)."""
    _, net = load_network(run / "best.keras")
    ids = charlstm.load(run).vocabulary.encode(text)
    return net.sequence_probs(np.array([ids]))[0]


def run_node(folder: Path, kernel: str, tmp_path: Path) -> dict:
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    args = [node(), DRIVERS / "export_driver.mjs", folder, kernel, tmp_path / "text.txt", "the ", "300"]
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_javascript_matches_numpy_in_node(cell_runs, tmp_path, cell):
    run = cell_runs[cell]
    ref = numpy_probs(run, TEXT)
    greedy = charlstm.load(run).generate(prime="the ", length=300, temperature=0)
    for precision, tolerance in (("float32", 1e-4), ("float16", 1e-3)):
        out = tmp_path / precision
        charlstm.load(run).export("js", out, precision=precision)
        for kernel, name in (("js", "js"), ("wasm", "wasm-simd")):
            got = run_node(out, kernel, tmp_path)
            assert got["kernel"] == name
            probs = np.array(got["probs"]).reshape(ref.shape)
            assert np.abs(probs - ref).max() < tolerance, (precision, kernel)
            assert got["seeded"][0] == got["seeded"][1]  # same seed, same text
            if precision == "float32":
                assert got["greedy"] == greedy, kernel


@pytest.mark.parametrize("cell", CELLS)
def test_traced_step_matches_numpy_trace(cell_runs, tmp_path, cell):
    """The JS step that records every gate (inspect's live view) equals NumPy's Network.trace, names and
    order included, in float32 and float16, JS and WebAssembly products; a restored state resumes exactly."""
    run = cell_runs[cell]
    text = TEXT[:300]
    _, net = load_network(run / "best.keras")
    ref = net.trace(np.array(charlstm.load(run).vocabulary.encode(text)))
    (tmp_path / "text.txt").write_text(text, encoding="utf-8")
    split = 120
    for precision, tolerance in (("float32", 1e-5), ("float16", 2e-3)):
        out = tmp_path / precision
        charlstm.load(run).export("js", out, precision=precision)
        for kernel in ("js", "wasm"):
            args = [node(), DRIVERS / "trace_driver.mjs", out, kernel, tmp_path / "text.txt", split]
            done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            got = json.loads(done.stdout)
            assert [list(layer) for layer in ref.layers] == [got["names"]] * len(ref.layers)
            for want, have in zip(ref.layers, got["layers"], strict=True):
                for name, arr in want.items():
                    err = np.abs(np.array(have[name]).reshape(arr.shape) - arr).max()
                    assert err < tolerance, (precision, kernel, name, err)
            probs = np.array(got["probs"]).reshape(ref.probs.shape)
            assert np.abs(probs - ref.probs).max() < tolerance, (precision, kernel)
            assert np.array_equal(np.array(got["resumed"]).reshape(-1, probs.shape[1]), probs[split:])


def test_pick_matches_numpy(tmp_path):
    """The sampler's rules: same logits and uniform, same id as sampling.pick (greedy, temperature, top-k, top-p)."""
    rng = np.random.default_rng(5)
    cases = []
    for _ in range(300):
        logits = (rng.normal(size=12) * 3).astype(np.float32)
        logits[rng.integers(12)] = logits.max()  # ties: both pick the first
        cases.append(
            {
                "logits": logits.tolist(),
                "u": float(rng.random()),
                "temperature": float(rng.choice([0.0, 0.3, 1.0, 2.5])),
                "top_k": int(rng.choice([1, 3, 12])) if rng.random() < 0.5 else None,
                "top_p": float(rng.choice([0.2, 0.9, 1.0])) if rng.random() < 0.5 else None,
            }
        )
    done = subprocess.run(
        [node(), str(DRIVERS / "pick_driver.mjs"), str(JS / "charlstm.mjs")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    want = [
        int(pick(np.array([c["logits"]], np.float32), np.array([c["u"]]), c["temperature"], c["top_k"], c["top_p"])[0])
        for c in cases
    ]
    assert json.loads(done.stdout) == want


def test_javascript_files_parse():
    for name in ("charlstm.mjs", "page.js"):
        done = subprocess.run([node(), "--check", str(JS / name)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_checked_in_kernel_is_its_source_assembled(tmp_path):
    wat2wasm = shutil.which("wat2wasm")
    if not wat2wasm:
        unavailable("no wat2wasm: install Debian's wabt (.ci/run does)")
    subprocess.run([wat2wasm, str(JS / "kernel.wat"), "-o", str(tmp_path / "k.wasm")], check=True)
    assert (tmp_path / "k.wasm").read_bytes() == (JS / "kernel.wasm").read_bytes(), "run `make wasm` and commit"


def test_weights_file_round_trip(trained_run):
    _, net = network_arrays(trained_run / "best.keras")
    for precision in ("float32", "float16"):
        header, arrays = binary.decode(binary.encode(net, precision))
        assert header["cell"] == net.cell and header["vocabulary"] == net.vocabulary
        assert arrays.keys() == net.arrays.keys()
        for name, a in net.arrays.items():
            np.testing.assert_array_equal(arrays[name], a.astype(precision).astype(np.float32))


def test_exported_arrays_rebuild_the_network(trained_run):
    """The folded table and the output layer give the NumPy network's first probabilities exactly."""
    _, arr = network_arrays(trained_run / "best.keras")
    _, net = load_network(trained_run / "best.keras")
    ids = np.arange(len(arr.vocabulary))
    logits, _ = net.step(ids, net.zero_state(len(ids)))
    # one LSTM step from zero state: h = o * tanh(i * g), all from the table row
    z = arr.arrays["layer1/table"][ids]
    zi, _, zg, zo = np.split(z, 4, axis=-1)
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    h = sig(zo) * np.tanh(sig(zi) * np.tanh(zg))
    mine = h @ arr.arrays["output/kernel"] + arr.arrays["output/bias"]
    np.testing.assert_allclose(softmax(mine), softmax(logits), atol=1e-6)


def test_web_and_js_never_import_tensorflow(trained_run, tmp_path):
    code = (
        "import sys, charlstm; m = charlstm.load(sys.argv[1]);"
        "m.export('web', sys.argv[2] + '/p.html'); m.export('js', sys.argv[2] + '/js');"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow imported'"
    )
    done = subprocess.run([sys.executable, "-c", code, str(trained_run), str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.html").stat().st_size > 1000 and (tmp_path / "js" / "model.bin").is_file()


def run_fresh(script: str, jobs: list[tuple[Path, list[int], Path]], folder: Path) -> None:
    """Run `script` JOBS.json in one new Python without PYTHONPATH (it must not import charlstm):
    each job is [export, ids.npy, out]. One process for every cell: each new process spends
    ~4 s importing TensorFlow (10 processes were 56 s of the suite on CI's machine, 2026-12-04)."""
    listed = []
    for n, (export, ids, out) in enumerate(jobs):
        np.save(folder / f"ids{n}.npy", np.asarray(ids, np.int32))
        listed.append([str(export), str(folder / f"ids{n}.npy"), str(out)])
    (folder / "jobs.json").write_text(json.dumps(listed))
    (folder / "fresh.py").write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    args = [sys.executable, folder / "fresh.py", folder / "jobs.json"]
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=folder, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def fresh_exports(runner, cell_runs, folder: Path, fmt: str, script: str, chars: int) -> dict:
    """{cell: (the export command's result, its folder, the fresh process's output)}: every cell
    exported with the CLI, then read back by `script` in one fresh process."""
    results, jobs = {}, []
    for cell, run in cell_runs.items():
        export, out = folder / cell, folder / f"{cell}.npz"
        results[cell] = (invoke(runner, "export", "-c", run, "--format", fmt, "--out", export), export, out)
        if results[cell][0].exit_code == 0:
            jobs.append((export, charlstm.load(run).vocabulary.encode(TEXT[:chars]), out))
    run_fresh(script, jobs, folder)
    return results


FRESH = """
import json, sys
import numpy as np
import tensorflow as tf
for path, ids_file, out in json.load(open(sys.argv[1])):
    ids = np.load(ids_file)
    m = tf.saved_model.load(path)
    probs = m.signatures["serving_default"](ids=tf.constant(np.stack([ids, ids]), tf.int32))["probs"].numpy()
    desc = json.load(open(path + "/vocabulary.json"))
    state, steps = tf.zeros([1, desc["state_size"]]), []
    for i in ids[:60]:
        r = m.signatures["step"](ids=tf.constant([i], tf.int32), state=state)
        state = r["state"]
        steps.append(r["probs"].numpy()[0])
    np.savez(out, probs=probs, steps=np.array(steps), chars=np.array(desc["chars"]))
assert "charlstm" not in sys.modules
"""


@pytest.fixture(scope="module")
def saved_models(cell_runs, tmp_path_factory) -> dict:
    return fresh_exports(CliRunner(), cell_runs, tmp_path_factory.mktemp("sm"), "saved_model", FRESH, 400)


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_saved_model_in_a_fresh_process(saved_models, cell_runs, cell):
    run = cell_runs[cell]
    r, sm, out = saved_models[cell]
    assert r.exit_code == 0, r.output
    assert json.loads((sm / "vocabulary.json").read_text())["chars"] == list(charlstm.load(run).vocabulary.chars)
    assert (sm / "assets" / "vocabulary.json").is_file()
    got, ref = np.load(out), numpy_probs(run, TEXT[:400])
    assert np.abs(got["probs"] - ref[None]).max() < 1e-5
    assert np.abs(got["steps"] - ref[:60]).max() < 1e-5


def _one_line_error(r, code: int, words: str) -> None:
    assert r.exit_code == code, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.output


def test_bad_inputs_leave_nothing_behind(runner, trained_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    ck = trained_run / "best.keras"
    _one_line_error(
        invoke(runner, "export", "-c", ck, "--format", "onnx", "--out", out / "m"), 2, "'onnx' is not one of"
    )
    _one_line_error(
        invoke(runner, "export", "-c", ck, "--format", "web", "--out", tmp_path / "no" / "p.html"), 2, "no such folder"
    )
    _one_line_error(
        invoke(runner, "export", "-c", ck, "--format", "saved_model", "--precision", "float16", "--out", out / "sm"),
        2,
        "float32",
    )
    foreign = tmp_path / "foreign.keras"
    foreign.write_text("not a zip")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
    for bad, words in ((foreign, "not a readable checkpoint"), (corrupt, "corrupt"), (tmp_path / "none", "no such")):
        for fmt in ("web", "js", "saved_model"):
            _one_line_error(invoke(runner, "export", "-c", bad, "--format", fmt, "--out", out / "x"), 1, words)
    assert list(out.iterdir()) == []  # nothing partial, no temporaries


def test_existing_output_needs_overwrite(runner, trained_run, tmp_path):
    for fmt, out in (("web", tmp_path / "p.html"), ("js", tmp_path / "js")):
        assert invoke(runner, "export", "-c", trained_run, "--format", fmt, "--out", out).exit_code == 0
        before = sorted(p.name for p in tmp_path.iterdir())
        stamp = out.stat().st_mtime_ns
        _one_line_error(invoke(runner, "export", "-c", trained_run, "--format", fmt, "--out", out), 2, "--overwrite")
        assert out.stat().st_mtime_ns == stamp
        r = invoke(runner, "export", "-c", trained_run, "--format", fmt, "--out", out, "--overwrite")
        assert r.exit_code == 0, r.output
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # replaced in place, nothing set aside left
    assert (tmp_path / "js" / "charlstm.mjs").read_bytes() == (JS / "charlstm.mjs").read_bytes()
    assert (tmp_path / "js" / "charlstm-kernel.wasm").read_bytes() == (JS / "kernel.wasm").read_bytes()


def test_the_page_is_titled_by_the_run_or_the_checkpoint_file(trained_run, tmp_path):
    model = charlstm.load(trained_run)
    assert "<title>charlstm: ckpt</title>" in model.export("web", tmp_path / "a.html").read_text()
    bare = tmp_path / "models" / "lyrics.keras"  # a file outside a run (the bundled base is one): its own name
    bare.parent.mkdir()
    shutil.copyfile(trained_run / "best.keras", bare)
    assert "<title>charlstm: lyrics</title>" in charlstm.load(bare).export("web", tmp_path / "b.html").read_text()


def test_api_export_and_its_checks(trained_run, tmp_path):
    model = charlstm.load(trained_run)
    assert model.export("js", tmp_path / "m", precision="float32") == tmp_path / "m"
    header, _ = binary.decode((tmp_path / "m" / "model.bin").read_bytes())
    assert header["dtype"] == "float32" and header["vocabulary"] == model.vocabulary.chars
    with pytest.raises(UsageError, match="unknown export format"):
        model.export("onnx", tmp_path / "x")
    with pytest.raises(UsageError, match="--overwrite"):
        model.export("js", tmp_path / "m")


def test_a_failed_write_keeps_the_old_output(trained_run, tmp_path, monkeypatch):
    from charlstm.errors import CharlstmError
    from charlstm.export import web

    model = charlstm.load(trained_run)
    model.export("js", tmp_path / "js")
    before = {p.name: p.read_bytes() for p in (tmp_path / "js").iterdir()}

    def half_written(net, precision, folder):
        (folder / web.MODULE).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(web, "write_module", half_written)
    with pytest.raises(CharlstmError, match="No space left on device"):
        model.export("js", tmp_path / "js", overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "js").iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["js"]  # no temporary folder left


FRESH_TFLITE = """
import json, sys
import numpy as np
import tensorflow as tf
for folder, ids_file, out in json.load(open(sys.argv[1])):
    desc = json.load(open(folder + "/vocabulary.json"))
    step = tf.lite.Interpreter(model_path=folder + "/step.tflite").get_signature_runner("step")
    state, probs = np.zeros([1, desc["state_size"]], np.float32), []
    for i in np.load(ids_file):
        r = step(ids=np.array([i], np.int32), state=state)
        state = r["state"]
        probs.append(r["probs"][0])
    np.savez(out, probs=np.array(probs))
assert "charlstm" not in sys.modules
"""


@pytest.fixture(scope="module")
def tflite_models(cell_runs, tmp_path_factory) -> dict:
    return fresh_exports(CliRunner(), cell_runs, tmp_path_factory.mktemp("tfl"), "tflite", FRESH_TFLITE, 120)


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_tflite_step_in_a_fresh_process(tflite_models, cell_runs, cell):
    r, tfl, out = tflite_models[cell]
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tfl.iterdir()) == ["step.tflite", "vocabulary.json"]
    assert np.abs(np.load(out)["probs"] - numpy_probs(cell_runs[cell], TEXT[:120])).max() < 1e-4
