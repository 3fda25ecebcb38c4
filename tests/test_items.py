"""Item mode (`--items`, issue 43): one line, one thing, each from the start state.

The fast paths are pitted against naive ones: the laid-out items against str.split, the
bucketed training batches against the items themselves, batched item scoring against each
item scored alone by the sampler's stream scorer, and Keras's loss on the item batches (long
items cut into windows, the state carried within) against the NumPy scores.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from charlstm.errors import CorpusError, UsageError
from charlstm.text import items as items_lib
from charlstm.text.corpus import Vocabulary
from charlstm.training.itembatches import ItemBatches

from helpers import invoke, tiny_args

SYLLABLES = ["ka", "lo", "mi", "ra", "na", "el", "is", "ta", "bo", "u", "x"]


def name_list(n: int, seed: int = 0, longest: int = 6) -> list[str]:
    """`n` made-up names of 1 to `longest` syllables (duplicates likely: a list's weights)."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(SYLLABLES, size=int(rng.integers(1, longest + 1)))) for _ in range(n)]


def encoded(text: str):
    vocab = Vocabulary.from_text(text)
    return vocab, vocab.encode(text)


def list_like(text: str) -> bool:
    vocab, ids = encoded(text)
    return items_lib.looks_like_a_list(ids, vocab.chars)


# --- the list read ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["ab\n\ncd\nefg\n", "\n\nab\ncd", "x\n", "ab\ncd\n\n\n", "one line only"])
def test_items_are_the_non_blank_lines(text):
    vocab, ids = encoded(text + ("\n" if "\n" not in text else ""))
    items = items_lib.items_from_ids(ids, vocab.chars)
    assert items.texts(vocab.chars) == [line for line in text.split("\n") if line]
    laid = vocab.decode(items.ids)
    assert laid == "\n" + "".join(t + "\n" for t in items.texts(vocab.chars))
    for s, n in zip(items.starts, items.lengths):  # inputs: the start symbol, then the item
        assert laid[s] == "\n" and laid[s + n + 1] == "\n" and "\n" not in laid[s + 1 : s + n + 1]


def test_split_is_seeded_random_not_the_tail():
    names = sorted(name_list(500))  # an alphabetical list: its tail is its last letters
    vocab, ids = encoded("\n".join(names) + "\n")
    items = items_lib.items_from_ids(ids, vocab.chars)
    train, val = items_lib.split_items(items, 0.1, seed=3)
    assert len(val) == 50 and len(train) == 450
    assert sorted(train.texts(vocab.chars) + val.texts(vocab.chars)) == names
    assert val.texts(vocab.chars) != names[-50:]
    assert items_lib.split_items(items, 0.1, seed=3)[1].texts(vocab.chars) == val.texts(vocab.chars)
    assert items_lib.split_items(items, 0.1, seed=4)[1].texts(vocab.chars) != val.texts(vocab.chars)


def test_lists_too_small_or_too_long_are_refused():
    for text, words in (("\n\n\n", "no item \\(every line is blank\\)"), ("alone\n", "one item")):
        vocab, ids = encoded(text)
        with pytest.raises(CorpusError, match=f"the list has {words}; it needs at least 2"):
            items_lib.split_items(items_lib.items_from_ids(ids, vocab.chars), 0.1, 0)
    vocab, ids = encoded("a long line of text\nanother long line\n")
    with pytest.raises(CorpusError, match="every line is longer than the window"):
        items_lib.check_windows(items_lib.items_from_ids(ids, vocab.chars), 10)


def test_looks_like_a_list():
    names = "\n".join(name_list(1500)) + "\n"
    assert list_like(names)
    assert not list_like("the cat sat on the mat and then it sat on the log\n\n" * 800)  # blank lines
    assert not list_like("the cat sat\non the mat\n" * 800 + "x" * 101 + "\n")  # a line over 100
    assert not list_like("\n".join(name_list(50)))  # too few lines


@pytest.mark.parametrize("exact_max", [items_lib.EXACT_MAX_ITEMS, 0])
def test_record_exact_or_hashed(monkeypatch, exact_max):
    monkeypatch.setattr(items_lib, "EXACT_MAX_ITEMS", exact_max)
    names = name_list(300)
    record = items_lib.ItemRecord.from_json(json.loads(json.dumps(items_lib.ItemRecord.of(names).to_json())))
    assert (record.exact is None) == (exact_max == 0)
    assert record.count == 300 and record.longest == max(map(len, names))
    assert all(n in record for n in names)
    assert not any(f"{n}zz" in record for n in names) and "" not in record


# --- training batches -------------------------------------------------------------------------


@pytest.mark.parametrize("seq_length, bucket", [(4, 1), (50, 1), (50, 4)])
def test_batches_hold_every_item_once_from_its_start(monkeypatch, seq_length, bucket):
    from charlstm.training import itembatches

    monkeypatch.setattr(itembatches, "BUCKET", bucket)
    names = name_list(203, longest=5)
    vocab, ids = encoded("\n".join(names) + "\n")
    items = items_lib.items_from_ids(ids, vocab.chars)
    batches = ItemBatches(items, seq_length, rows=16, seed=1)
    for epoch in (0, 1):
        seen, row_text, steps = [], None, 0
        for x, y, w, carry in batches.epoch(epoch):
            steps += 1
            assert x.shape == y.shape == w.shape and x.shape[1] <= seq_length
            if not carry:  # a fresh group: every row starts with the start symbol
                assert (x[:, 0] == vocab.chars.index("\n")).all()
                if row_text is not None:
                    seen += row_text
                row_text = [""] * len(x)
            assert len(row_text) == len(x)  # a group keeps its rows while it carries
            for r in range(len(x)):
                real = y[r][w[r] > 0]
                row_text[r] += vocab.decode(real)
                assert (w[r] > 0).sum() == 0 or "\n" not in vocab.decode(real)[:-1]  # never two items
        seen += row_text
        assert steps == batches.steps
        assert sorted(t for t in seen if t) == sorted(n + "\n" for n in names)
        assert batches.targets(epoch, 0, batches.steps) == items.targets == sum(len(n) + 1 for n in names)
    first = [b[0].tolist() for b in batches.epoch(0)]
    assert [b[0].tolist() for b in batches.epoch(0)] == first  # a pure function of (seed, epoch)
    assert [b[0].tolist() for b in batches.epoch(0, skip=3)] == first[3:]
    assert [b[0].tolist() for b in batches.epoch(1)] != first


# --- scoring: batched against one item at a time ----------------------------------------------


@pytest.fixture(scope="module")
def tiny_network():
    from charlstm.config import ModelConfig
    from charlstm.sampler.network import Network

    chars = "\n" + "".join(sorted(set("".join(SYLLABLES))))
    rng = np.random.default_rng(0)
    config = ModelConfig(vocab_size=len(chars), units=12, layers=2, embedding_dim=5)
    shapes = {
        "embedding/embeddings": (len(chars), 5),
        "rnn_1/kernel": (5, 48),
        "rnn_1/recurrent_kernel": (12, 48),
        "rnn_1/bias": (48,),
        "rnn_2/kernel": (12, 48),
        "rnn_2/recurrent_kernel": (12, 48),
        "rnn_2/bias": (48,),
        "softmax/kernel": (12, len(chars)),
        "softmax/bias": (len(chars),),
    }
    weights = {k: rng.normal(0, 0.6, s).astype(np.float32) for k, s in shapes.items()}
    return Network(weights, config), Vocabulary(chars)


def test_batched_item_scores_equal_each_item_alone(tiny_network):
    from charlstm.sampler.evaluation import nll_per_char
    from charlstm.sampler.items import evaluate_items, item_nll

    net, vocab = tiny_network
    names = name_list(77, seed=2)
    items = items_lib.items_from_ids(vocab.encode("\n".join(names) + "\n"), vocab.chars)
    batched = item_nll(net, items, rows=8)
    alone = np.array([nll_per_char(net, vocab.encode("\n" + n + "\n")).sum() for n in names])
    np.testing.assert_allclose(batched, alone, rtol=1e-4)
    result = evaluate_items(net, vocab, "\n".join(names[:40]) + "\n\nQQ\n" + "\n".join(names[40:]), per_item=True)
    assert result["items"] == 77 and result["unknown_items"] == 1
    assert result["chars"] == sum(len(n) + 1 for n in names)
    assert result["nats_per_char"] == pytest.approx(alone.sum() / result["chars"], rel=1e-5)
    assert [p["text"] for p in result["per_item"]] == names


# --- generation -------------------------------------------------------------------------------


def test_sampled_items_novel_unique_reproducible(tiny_network):
    from charlstm.sampler.items import sample_items

    net, vocab = tiny_network
    nl = vocab.encode("\n")
    record = items_lib.ItemRecord.of(name_list(2000, seed=5, longest=2))
    draw = sample_items(net, vocab.chars, nl, 60, record=record, novel=True, unique=True, seed=4, max_length=30)
    texts = [i.text for i in draw.items]
    assert len(texts) == 60 == len(set(texts)) and not any(t in record for t in texts)
    assert all(t and "\n" not in t for t in texts) and draw.draws >= 60
    again = sample_items(net, vocab.chars, nl, 60, record=record, novel=True, unique=True, seed=4, max_length=30)
    assert [i.text for i in again.items] == texts
    primed = sample_items(net, vocab.chars, vocab.encode("\nka"), 10, prime_text="ka", seed=1, max_length=30)
    assert all(i.text.startswith("ka") for i in primed.items)
    # each item's logprob is its score from the start state, its end symbol included
    from charlstm.sampler.items import item_nll

    some = items_lib.items_from_ids(vocab.encode("\n".join(texts[:10]) + "\n"), vocab.chars)
    np.testing.assert_allclose([-i.logprob for i in draw.items[:10]], item_nll(net, some), rtol=1e-4)


def test_sampling_gives_up_with_a_count_not_a_hang(tiny_network):
    from charlstm.sampler.items import sample_items

    net, vocab = tiny_network
    nl = vocab.encode("\n")
    draw = sample_items(net, vocab.chars, nl, 5, unique=True, temperature=0, max_length=30, max_draws=50)
    assert len(draw.items) <= 1 and draw.draws == 50  # greedy: every draw is the same one (or never ends)
    assert f"found {len(draw.items)} of 5 distinct items in 50 draws" in draw.shortfall(False, True)
    with pytest.raises(UsageError, match="--novel needs an item model"):
        sample_items(net, vocab.chars, nl, 5, novel=True)


# --- the commands, end to end (tiny models) ---------------------------------------------------

FAST = tiny_args(seq_length=8, epochs=1)


@pytest.fixture(scope="module")
def item_run(tmp_path_factory):
    from click.testing import CliRunner

    d = tmp_path_factory.mktemp("items")
    names = name_list(600, seed=9, longest=5)  # up to 10 chars: some items span two windows of 8
    (d / "names.txt").write_text("\r\n".join(names[:300]) + "\r\n\r\n" + "\n".join(names[300:]) + "\n")
    r = invoke(CliRunner(), "train", d / "names.txt", "--items", "--checkpoint-dir", d / "run", "--json", *FAST)
    assert r.exit_code == 0, r.output
    return d, names, json.loads(r.stdout)


def test_train_items_records_the_list(item_run):
    from charlstm import api

    d, names, summary = item_run
    model = api.load(d / "run")
    assert model.is_item_model and model.checkpoint.prime_excerpt == ""
    assert model.item_record.count == 600 and all(n in model.item_record for n in names)
    assert summary["val_bits_per_char"] > 0
    # every request of an item model (generate, the API, the server) starts from the start symbol
    ids = model.request(api.SampleOptions.create(prime="ka", seed=1)).prime_ids
    assert model.vocabulary.decode(ids) == "\nka"


def test_validation_loss_is_the_item_score(item_run):
    """Keras on the item batches (long items cut, the state carried within) = NumPy per item."""
    from charlstm import api
    from charlstm.sampler.items import item_nll
    from charlstm.training import model as model_lib
    from charlstm.training import tf_runtime
    from charlstm.training.step import Engine

    d, names, _ = item_run
    model = api.load(d / "run" / "last.keras")
    vocab = model.vocabulary
    items = items_lib.items_from_ids(vocab.encode("\n".join(names[:90]) + "\n"), vocab.chars)
    assert items.lengths.max() + 1 > 8  # some items span two windows
    keras_model = model_lib.load_keras_model(d / "run" / "last.keras", compile=False)
    engine = Engine(keras_model, tf_runtime.strategy("auto", "auto", 300.0), dropout=0.0, seed=0, clip_norm=5.0)
    batches = ItemBatches(items, 8, rows=16, seed=0).validation()
    assert any(b[3] for b in batches)
    keras_nats = engine.evaluate(batches, carry_state=False)
    numpy_nats = item_nll(model.network, items).sum() / items.targets
    assert keras_nats == pytest.approx(numpy_nats, rel=1e-4)
    cut = engine.evaluate([(*b[:3], False) for b in batches], carry_state=False)
    assert cut != pytest.approx(numpy_nats, rel=1e-4)  # the carried state matters: the test can fail


def test_generate_and_eval_items(runner, item_run):
    d, names, _ = item_run
    r = invoke(runner, "generate", "-c", d / "run", "--items", "25", "--novel", "--unique", "--seed", "3")
    assert r.exit_code == 0, r.output
    out = r.stdout.splitlines()
    assert len(out) == 25 == len(set(out)) and not set(out) & set(names) and "" not in out
    again = invoke(runner, "generate", "-c", d / "run", "--items", "25", "--novel", "--unique", "--seed", "3")
    assert again.stdout == r.stdout
    r = invoke(runner, "generate", "-c", d / "run", "--items", "4", "--json", "--seed", "1", "--prime", "ka")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 4 and all(x["text"].startswith("ka") and x["logprob"] < 0 for x in rows)
    assert all(x["in_training"] == (x["text"] in names) for x in rows)
    (d / "test.txt").write_text("\n".join(names[:50]) + "\n")
    r = invoke(runner, "eval", d / "test.txt", "--items", "-c", d / "run", "--json", "--per-item")
    result = json.loads(r.stdout)
    assert result["items"] == 50 and result["chars"] == sum(len(n) + 1 for n in names[:50])
    assert result["nats_per_char"] == pytest.approx(sum(p["nats"] for p in result["per_item"]) / result["chars"])


def test_python_api_items(item_run):
    from charlstm import api

    d, names, _ = item_run
    model = api.load(d / "run")
    got = model.items(12, novel=True, unique=True, seed=2)
    assert len(got) == 12 and all(not i.in_training for i in got)
    assert [i.text for i in got] == [i.text for i in model.items(12, novel=True, unique=True, seed=2)]
    with pytest.raises(UsageError, match="--items"):
        model.items(0)


def _one_line_error(r, code):
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.parametrize(
    "content, code, message",
    [
        (b"", 1, "is empty"),
        (b"\n\n \n", 1, "contains only whitespace"),
        (b"onlyone\n", 1, "--items: the list has one item; it needs at least 2"),
        (
            b"a line far longer than the window\nand another line, longer again\n",
            1,
            "every line is longer than the window",
        ),
    ],
)
def test_bad_lists(runner, tmp_path, content, code, message):
    p = tmp_path / "list.txt"
    p.write_bytes(content)
    r = invoke(runner, "train", p, "--items", "--checkpoint-dir", tmp_path / "run", *FAST)
    _one_line_error(r, code)
    assert message in r.stderr
    assert not (tmp_path / "run" / "last.keras").exists()


def test_bad_item_requests(runner, item_run, trained_run):
    d, _, _ = item_run
    _one_line_error(invoke(runner, "generate", "-c", d / "run", "--items", "0"), 2)
    r = invoke(runner, "generate", "-c", d / "run", "--items", "3", "--prime", "kQ")
    _one_line_error(r, 1)
    assert "not in the model's vocabulary: Q" in r.stderr
    r = invoke(runner, "generate", "-c", trained_run, "--items", "3", "--novel")
    _one_line_error(r, 2)
    assert "--novel needs an item model" in r.stderr
    r = invoke(runner, "generate", "-c", d / "run", "--novel")
    _one_line_error(r, 2)
    assert "--novel goes with --items N" in r.stderr
    r = invoke(runner, "eval", d / "names.txt", "-c", d / "run", "--per-item")
    _one_line_error(r, 2)


def test_a_list_without_items_gets_a_hint(runner, tmp_path):
    p = tmp_path / "names.txt"
    p.write_text("\n".join(name_list(1200)) + "\n")
    r = invoke(runner, "train", p, "--checkpoint-dir", tmp_path / "run", *tiny_args(epochs=1, max_time=3))
    assert r.exit_code == 0, r.output
    assert r.stderr.count("--items trains each line as one item") == 1


def test_the_names_list_is_built_and_checked(tmp_path, monkeypatch):
    import hashlib
    import io
    import tarfile

    from charlstm.catalog import lists
    from charlstm.errors import FetchError

    female, male = b"MARY    2.629 2.629  1\nPAT  0.1 2.7  2\n", b"JAMES  3.318 3.318  1\nPAT 0.1 3.4 2\n\n"
    archive = tmp_path / "names-0.3.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in zip(lists.MEMBERS, (female, male)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(lists, "download", lambda pkg, workdir: archive)
    with pytest.raises(FetchError, match="names.txt: sha256 .* does not match the expected"):
        lists.build_names(tmp_path)
    want = b"james\nmary\npat\n"  # lower-cased, each once, sorted
    monkeypatch.setattr(lists, "LIST_SHA256", hashlib.sha256(want).hexdigest())
    assert lists.build_names(tmp_path) == want


@pytest.mark.slow
def test_server_completions_stopped_at_a_newline_are_items(item_run):
    """The server primes an item model after the newline, so `stop: ["\\n"]` ends one whole item."""
    import http.client
    from urllib.parse import urlsplit

    from charlstm import api

    from helpers import ServerProcess

    d, names, _ = item_run
    model = api.load(d / "run")
    server = ServerProcess(d / "run", "--exact")
    try:
        u = urlsplit(server.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        body = {"prompt": "ka", "max_tokens": 40, "stop": ["\n"], "seed": 5, "n": 3, "temperature": 1.0}
        conn.request("POST", "/v1/completions", body=json.dumps(body), headers={"Content-Type": "application/json"})
        reply = json.loads(conn.getresponse().read())
        conn.close()
    finally:
        assert server.stop() == 0, "".join(server.log)
    texts = [c["text"] for c in sorted(reply["choices"], key=lambda c: c["index"])]
    assert all("\n" not in t for t in texts) and all(c["finish_reason"] == "stop" for c in reply["choices"])
    alone = [
        model.generate(prime="ka", length=40, stop="\n", seed=5, sample_index=i, echo_prime=False) for i in range(3)
    ]
    assert texts == alone


def test_items_refuse_carry_state_and_resume_as_items(runner, item_run, tmp_path):
    d, names, _ = item_run
    r = invoke(runner, "train", d / "names.txt", "--items", "--carry-state", "--checkpoint-dir", tmp_path / "c", *FAST)
    _one_line_error(r, 2)
    assert "--carry-state does not apply" in r.stderr
    import shutil

    shutil.copytree(d / "run", tmp_path / "run")
    r = invoke(runner, "train", d / "names.txt", "--checkpoint-dir", tmp_path / "run", "--resume", "--epochs", "2")
    assert r.exit_code == 0, r.output
    from charlstm import checkpoint as ckpt_io

    meta = ckpt_io.load(tmp_path / "run" / "last.keras")
    assert meta.epoch == 2 and meta.training.items and meta.extra["items"]["count"] == 600


def test_init_from_an_item_model_trains_items(runner, item_run, tmp_path):
    d, names, _ = item_run
    (tmp_path / "more.txt").write_text("\n".join(name_list(200, seed=11, longest=3)) + "\n")
    args = ("train", tmp_path / "more.txt", "--items", "--init-from", d / "run", "--checkpoint-dir", tmp_path / "ft")
    r = invoke(runner, *args, "--epochs", "1", "--seed", "1", "--quiet")
    assert r.exit_code == 0, r.output
    from charlstm import api

    model = api.load(tmp_path / "ft")
    assert model.is_item_model and model.item_record.count == 200
    assert model.checkpoint.extra["init_from"]["name"].endswith(("run", "best.keras"))
