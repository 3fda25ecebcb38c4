"""The Python API (charlstm.load / Model): the same results as the CLI, which is built on it."""

import json
import warnings

import pytest

import charlstm
from charlstm.errors import CheckpointError, UsageError, VocabularyError

from helpers import HEAVY, TINY_TEXT, imported_by, invoke


@pytest.fixture(scope="module")
def model(trained_run):
    return charlstm.load(trained_run)


def test_import_charlstm_loads_neither_tensorflow_nor_numpy_nor_the_api():
    assert imported_by("import charlstm", (*HEAVY, "numpy", "charlstm.api")) == []
    assert imported_by("import charlstm\ncharlstm.load") == []


def test_load_resolves_like_the_cli(trained_run, monkeypatch):
    assert charlstm.load(trained_run).path == trained_run / "best.keras"
    assert charlstm.load(trained_run / "last.keras").path == trained_run / "last.keras"
    monkeypatch.setenv("CHARLSTM_CHECKPOINTS", str(trained_run.parent))
    assert charlstm.load().path == trained_run / "best.keras"
    with pytest.raises(CheckpointError, match="no such checkpoint file or directory"):
        charlstm.load(trained_run / "nope")
    with pytest.raises(AttributeError):
        charlstm.no_such_thing  # noqa: B018


def test_generate_equals_cli_output(model, runner, trained_run):
    text = model.generate(prime="the ", length=120, seed=3, temperature=0.8, top_k=5)
    flags = ("--prime", "the ", "--length", "120", "--seed", "3", "--temperature", "0.8", "--top-k", "5")
    r = invoke(runner, "generate", "-c", trained_run, *flags)
    assert r.exit_code == 0, r.output
    assert r.stdout == text + "\n"
    assert text.startswith("the ") and len(text) == 124 and set(text) <= set(TINY_TEXT)
    assert model.generate(prime="the ", length=120, seed=3, temperature=0.8, top_k=5, echo_prime=False) == text[4:]
    assert model.generate(prime="the ", length=120, seed=4, temperature=0.8, top_k=5) != text


def test_stream_yields_pieces_that_join_to_generate(model):
    pieces = list(model.stream(prime="a cat", length=50, seed=9))
    assert pieces[0] == "a cat" and len(pieces) > 2
    assert "".join(pieces) == model.generate(prime="a cat", length=50, seed=9)


def test_sample_index_matches_cli_batch(model, runner, trained_run):
    flags = ("--prime", "the ", "--seed", "5", "--length", "40", "--num-samples", "3", "--json")
    r = invoke(runner, "generate", "-c", trained_run, *flags)
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    for row in rows:
        assert (
            model.generate(prime="the ", length=40, seed=5, sample_index=row["sample"], echo_prime=False) == row["text"]
        )


def test_stop_and_default_prime(model):
    full = model.generate(prime="the ", length=100, seed=1, echo_prime=False)
    stop = full[60:63]
    cut = model.generate(prime="the ", length=100, seed=1, echo_prime=False, stop=stop)
    assert cut == full[: full.index(stop)] and len(cut) <= 60
    assert model.generate(length=5, seed=1).startswith(model.info["prime_excerpt"])


def test_errors_are_typed(model):
    with pytest.raises(VocabularyError, match="not in the model's vocabulary: !"):
        model.generate(prime="the!", length=5, seed=1)
    with pytest.warns(UserWarning, match="dropped 1 prime character"):
        assert model.generate(prime="the!", length=5, seed=1, on_unknown="skip").startswith("the")
    for kwargs in (
        {"temperature": float("nan")},
        {"temperature": -1},
        {"top_p": 0},
        {"length": 0},
        {"seed": -1},
        {"on_unknown": "ignore"},
        {"prime": ""},
        {"top_k": 0},
    ):
        with pytest.raises(UsageError):
            model.generate(**{"length": 5, "seed": 1, "prime": "the", **kwargs})


def test_sample_options_value_and_keywords_give_the_same_text(model):
    import io

    opts = charlstm.SampleOptions.create(prime="the ", length=60, seed=2, top_p=0.9)
    text = model.generate(opts)
    assert text == model.generate(prime="the ", length=60, seed=2, top_p=0.9)
    assert model.generate(opts, seed=3) == model.generate(prime="the ", length=60, seed=3, top_p=0.9) != text
    out = io.StringIO()
    model.write(out, opts)
    assert out.getvalue() == text + "\n"
    out = io.StringIO()
    model.write(out, prime="the ", length=5, num_samples=3, as_json=True)  # no seed: one drawn for the batch
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["sample"] for r in rows] == [0, 1, 2] and len({r["seed"] for r in rows}) == 1
    with pytest.raises(UsageError, match="num_samples=2: stream and generate make one sample") as e:
        model.generate(opts, num_samples=2)
    assert e.value.param == "num_samples"
    with pytest.raises(UsageError, match=r"\(top_p\): 1.5 is not in the range 0<x<=1\.") as e:
        model.generate(opts, top_p=1.5)
    assert e.value.param == "top_p"
    with pytest.raises(UsageError, match="pass a SampleOptions"):
        model.generate("the ")


def test_evaluate_file_and_text_agree_with_cli(model, runner, trained_run, tiny_corpus):
    from_file = model.evaluate(tiny_corpus)
    assert from_file == model.evaluate(text=TINY_TEXT)
    assert from_file == model.evaluate(text=TINY_TEXT.replace("\n", "\r\n"))  # read like training text
    r = invoke(runner, "eval", tiny_corpus, "-c", trained_run, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == from_file
    assert set(from_file) >= {"bits_per_char", "nats_per_char", "perplexity", "chars", "unknown_chars"}
    with pytest.raises(UsageError):
        model.evaluate()


def test_info_is_what_cli_info_json_prints(model, runner, trained_run):
    r = invoke(runner, "info", "-c", trained_run, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == json.loads(json.dumps(model.info))
    info = model.info
    assert info["vocabulary"] == "".join(sorted(set(TINY_TEXT)))
    assert info["model"]["units"] == 16 and info["training"]["seq_length"] == 20
    assert [h["epoch"] for h in info["history"]] == [1, 2]
    assert info["best_val_bits_per_char"] == min(h["val_bits_per_char"] for h in info["history"])


def test_lazy_load_reads_weights_only_when_needed(trained_run, tmp_path):
    import zipfile

    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(trained_run / "best.keras") as zin, zipfile.ZipFile(broken, "w") as zout:
        for item in zin.infolist():
            if item.filename != "charlstm_weights.npz":
                zout.writestr(item, zin.read(item.filename))
    lazy = charlstm.load(broken, lazy=True)
    assert lazy.info["epoch"] == 2
    with pytest.raises(CheckpointError, match="has no charlstm_weights.npz"):
        lazy.generate(length=3, seed=1)
    with pytest.raises(CheckpointError, match="has no charlstm_weights.npz"):
        charlstm.load(broken)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert repr(charlstm.load(trained_run)).startswith("<charlstm.Model ")
