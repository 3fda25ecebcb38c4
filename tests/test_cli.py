"""The CLI end to end with CliRunner: exit codes, exact messages, stdout purity."""

import json

import pytest

from charlstm import checkpoint as ckpt_io

from helpers import TINY_TEXT, TINY_TRAIN_ARGS, invoke, tiny_args


def test_help_lists_commands(runner):
    r = invoke(runner, "--help")
    assert r.exit_code == 0
    for cmd in ("train", "generate", "info", "eval", "corpus"):
        assert cmd in r.output


def test_train_writes_self_contained_checkpoints(trained_run):
    for name in ("best.keras", "last.keras"):
        meta = ckpt_io.load(trained_run / name)
        assert meta.vocabulary == "".join(sorted(set(TINY_TEXT)))
        assert meta.model.units == 16 and meta.model.layers == 1 and meta.model.cell == "lstm"
        assert meta.training.seq_length == 20 and meta.training.seed == 7
        assert meta.epoch == 2
        assert [h["epoch"] for h in meta.history] == [1, 2]
        assert all(h["val_bits_per_char"] > 0 for h in meta.history)
        assert meta.to_json()["format_version"] == ckpt_io.FORMAT_VERSION
        assert meta.prime_excerpt and set(meta.prime_excerpt) <= set(meta.vocabulary)


def test_checkpoint_opens_with_plain_keras_load_model(trained_run):
    import keras

    model = keras.saving.load_model(trained_run / "best.keras")
    assert model.output_shape == (None, None, len(set(TINY_TEXT)))


def test_generate_with_seed_is_byte_identical_and_in_vocabulary(runner, trained_run):
    args = ("generate", "-c", trained_run, "--prime", "the ", "--seed", "3", "--length", "200")
    a, b = invoke(runner, *args), invoke(runner, *args)
    assert a.exit_code == 0 and b.exit_code == 0
    assert a.stdout == b.stdout
    assert a.stdout.startswith("the ") and a.stdout.endswith("\n")
    body = a.stdout[len("the ") : -1]
    assert len(body) == 200
    assert set(body) <= set(TINY_TEXT)
    c = invoke(runner, *args[:-4], "--seed", "4", "--length", "200")
    assert c.exit_code == 0, c.output
    assert c.stdout != a.stdout


def test_generate_defaults_to_latest_run_and_stored_excerpt(runner, trained_run, monkeypatch):
    monkeypatch.setenv("CHARLSTM_CHECKPOINTS", str(trained_run.parent))
    r = invoke(runner, "generate", "--seed", "1", "--length", "30")
    assert r.exit_code == 0, r.output
    excerpt = ckpt_io.load(trained_run / "best.keras").prime_excerpt
    assert r.stdout.startswith(excerpt)
    assert len(r.stdout) == len(excerpt) + 30 + 1


def test_generate_greedy_is_deterministic_without_seed(runner, trained_run):
    args = ("generate", "-c", trained_run, "--prime", "the", "--temperature", "0", "--length", "50")
    a, b = invoke(runner, *args), invoke(runner, *args)
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert len(a.stdout) == len("the") + 50 + 1
    assert a.stdout == b.stdout


def test_generate_reads_prime_from_stdin(runner, trained_run):
    r = invoke(runner, "generate", "-c", trained_run, "--prime", "-", "--seed", "1", "--length", "5", input="the cat")
    assert r.exit_code == 0
    assert r.stdout.startswith("the cat") and len(r.stdout) == len("the cat") + 6


def test_generate_json_is_one_object_per_sample(runner, trained_run):
    flags = ("--prime", "a", "--seed", "1", "--length", "10", "--num-samples", "3", "--json")
    r = invoke(runner, "generate", "-c", trained_run, *flags)
    assert r.exit_code == 0
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["sample"] for row in rows] == [0, 1, 2]
    assert all(len(row["text"]) == 10 and row["prime"] == "a" and row["seed"] == 1 for row in rows)


def test_unknown_prime_characters_are_listed(runner, trained_run):
    r = invoke(runner, "generate", "-c", trained_run, "--prime", "the CAT!", "--seed", "1")
    assert r.exit_code == 1
    assert r.stderr == (
        "Error: the prime has 4 character(s) not in the model's vocabulary: ! A C T "
        "(the vocabulary has these letters in the other case: change the prime's case, or train "
        "with --lowercase so case never matters); use --on-unknown skip to drop them\n"
    )
    assert r.stdout == ""


def test_unknown_prime_characters_skipped_on_request(runner, trained_run):
    r = invoke(
        runner, "generate", "-c", trained_run, "--prime", "the!", "--seed", "1", "--length", "5", "--on-unknown", "skip"
    )
    assert r.exit_code == 0
    assert r.stdout.startswith("the") and "!" not in r.stdout
    assert "warning: dropped 1 prime character(s) not in the vocabulary: !" in r.stderr


def test_text_passed_as_seed_points_to_prime(runner, trained_run):
    r = invoke(runner, "generate", "-c", trained_run, "--seed", "Once upon")
    assert r.exit_code == 2
    assert r.stderr == (
        "Error: Invalid value for '--seed' (seed): 'Once upon' is not an integer seed; to start "
        "the text with it, use --prime (see 'charlstm generate --help')\n"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("--length", "0"), "Invalid value for '--length' (length): 0 is not in the range 1<=x<=1000000000."),
        (
            ("--temperature", "-1"),
            "Invalid value for '--temperature' (temperature): -1.0 is not in the range 0<=x<=100.",
        ),
        (("--top-p", "0"), "Invalid value for '--top-p' (top_p): 0.0 is not in the range 0<x<=1."),
        (("--top-k", "0"), "Invalid value for '--top-k' (top_k): 0 is not in the range 1<=x<=1000000."),
        (
            ("--prime", ""),
            "Invalid value for '--prime' (prime): the prime is empty: give some text, "
            "or leave it out to start from an excerpt of the training text",
        ),
    ],
)
def test_generate_bad_values_are_usage_errors(runner, trained_run, args, message):
    r = invoke(runner, "generate", "-c", trained_run, *args)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"Error: {message}")
    assert r.stderr.count("\n") == 1


def test_info_shows_and_json(runner, trained_run):
    r = invoke(runner, "info", "-c", trained_run)
    assert r.exit_code == 0
    assert "model:        1×16 lstm, embedding 8, dropout 0.2" in r.stdout
    assert "epochs:       2" in r.stdout
    r = invoke(runner, "info", "-c", trained_run / "last.keras", "--json")
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert j["epoch"] == 2 and j["model"]["units"] == 16 and j["format"] == "charlstm-checkpoint"


def test_eval_reports_bits_per_char(runner, trained_run, tiny_corpus):
    r = invoke(runner, "eval", tiny_corpus, "-c", trained_run, "--json")
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert j["chars"] == len(TINY_TEXT) - 1
    assert 0 < j["bits_per_char"] < 5
    assert j["perplexity"] == pytest.approx(2 ** j["bits_per_char"], rel=1e-9)


def test_eval_counts_unknown_characters(runner, trained_run, tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("the cat! sat?\n")
    r = invoke(runner, "eval", p, "-c", trained_run, "--json")
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert j["unknown_chars"] == 2 and j["unknown"] == "!?"
    assert j["chars"] == len("the cat sat\n") - 1


def test_train_json_summary_on_stdout_only(runner, tiny_corpus, tmp_path):
    r = invoke(
        runner, "train", tiny_corpus, "--checkpoint-dir", tmp_path / "run", "--json", *tiny_args(epochs=1, quiet=True)
    )
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert j["epochs"] == 1 and j["val_bits_per_char"] > 0 and j["train_chars_per_s"] > 0
    assert j["checkpoint"] == str(tmp_path / "run" / "best.keras")
    assert r.stderr == ""


def test_train_refuses_to_overwrite_an_existing_run(runner, trained_run, tiny_corpus):
    before = (trained_run / "last.keras").read_bytes()
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", trained_run, *TINY_TRAIN_ARGS)
    assert r.exit_code == 2
    assert "already holds a training run: add --resume to continue it, --overwrite" in r.stderr
    assert (trained_run / "last.keras").read_bytes() == before


@pytest.mark.parametrize(
    "carry, note",
    [
        (False, "note: only 27 training windows; batch size shrunk from 64 to 27"),
        # 270 training chars: 26 streams of >= 10 targets each
        (True, "note: only 26 streams of at least one window; batch size shrunk from 64 to 26"),
    ],
)
def test_small_corpus_shrinks_batch_and_says_so(runner, tmp_path, carry, note):
    p = tmp_path / "small.txt"
    p.write_text("abcdefghij" * 30)
    args = tiny_args(seq_length=10, batch_size=64, epochs=1, carry_state=carry)
    r = invoke(runner, "train", p, "--checkpoint-dir", tmp_path / "run", *args)
    assert r.exit_code == 0, r.output
    assert note in r.stderr


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty; give a file with text to learn from"),
        (b" \n \n", "contains only whitespace; nothing to learn from"),
        (b"abc", "the training part of the text has 3 characters; it needs at least 52"),
        (b"ok text\xc3\x28 more", "not valid UTF-8 at byte offset 7 (byte 0xc3)"),
    ],
)
def test_train_corpus_errors_exit_1_with_one_line(runner, tmp_path, content, message):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    r = invoke(runner, "train", p, "--checkpoint-dir", tmp_path / "run")
    assert r.exit_code == 1
    assert message in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.output
    assert not (tmp_path / "run" / "last.keras").exists()


def test_train_missing_file_and_directory_are_usage_errors(runner, tmp_path):
    r = invoke(runner, "train", tmp_path / "missing.txt")
    assert r.exit_code == 2
    assert "does not exist" in r.stderr and r.stderr.count("\n") == 1
    r = invoke(runner, "train", tmp_path)
    assert r.exit_code == 2
    assert "is a directory" in r.stderr


def test_missing_checkpoint_errors(runner, tmp_path):
    r = invoke(runner, "generate", "-c", tmp_path / "nothing")
    assert r.exit_code == 1
    assert r.stderr == f"Error: {tmp_path / 'nothing'}: no such checkpoint file or directory\n"
    (tmp_path / "empty").mkdir()
    r = invoke(runner, "generate", "-c", tmp_path / "empty")
    assert r.exit_code == 1
    assert "no best.keras or last.keras in this directory" in r.stderr
    r = invoke(runner, "generate")
    assert r.exit_code == 1
    assert "no checkpoints under" in r.stderr and "train one first" in r.stderr


def test_stdin_corpus(runner, tmp_path):
    r = invoke(
        runner, "train", "-", "--checkpoint-dir", tmp_path / "run", *tiny_args(epochs=1, quiet=True), input=TINY_TEXT
    )
    assert r.exit_code == 0, r.output
    assert ckpt_io.load(tmp_path / "run" / "last.keras").extra["corpus"]["names"] == ["<stdin>"]
    r = invoke(runner, "train", "-", "--checkpoint-dir", tmp_path / "run2", input="")
    assert r.exit_code == 1 and "<stdin>: is empty" in r.stderr


def test_sample_i_of_a_batch_equals_sample_i_alone(runner, trained_run):
    common = ("generate", "-c", trained_run, "--prime", "the ", "--seed", "5", "--length", "80", "--json")
    rb, ra = invoke(runner, *common, "--num-samples", "4"), invoke(runner, *common, "--sample-index", "2")
    assert rb.exit_code == 0 and ra.exit_code == 0, rb.output + ra.output
    batch = [json.loads(line) for line in rb.stdout.splitlines()]
    alone = json.loads(ra.stdout)
    assert alone == batch[2]
    assert len({row["text"] for row in batch}) == 4


def test_several_samples_are_separated_on_stdout(runner, trained_run):
    r = invoke(
        runner, "generate", "-c", trained_run, "--prime", "a", "--seed", "1", "--length", "20", "--num-samples", "2"
    )
    assert r.exit_code == 0
    lines = r.stdout.split("\n")
    assert lines[0] == "----- sample 0 (seed 1) -----"
    assert "----- sample 1 (seed 1) -----" in lines


@pytest.mark.slow
def test_broken_pipe_exits_zero_without_traceback(trained_run):
    import subprocess
    import sys

    cmd = (
        f"{sys.executable} -m charlstm generate -c {trained_run} --length 1000000 --seed 1 "
        f"| head -c 100 > /dev/null; echo ${{PIPESTATUS[0]}}"
    )
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert p.stdout.strip() == "0"
    assert p.stderr == ""


def test_large_vocabulary_uses_two_byte_ids_end_to_end(runner, tmp_path):
    rng = __import__("random").Random(0)
    alphabet = [chr(0x4E00 + i) for i in range(300)] + ["\n"]
    text = "".join(rng.choice(alphabet) for _ in range(6000))
    p = tmp_path / "cjk.txt"
    p.write_text(text, encoding="utf-8")
    r = invoke(runner, "train", p, "--checkpoint-dir", tmp_path / "run", *tiny_args(epochs=1, quiet=True))
    assert r.exit_code == 0, r.output
    assert len(ckpt_io.load(tmp_path / "run" / "last.keras").vocabulary) == 301
    g = invoke(runner, "generate", "-c", tmp_path / "run", "--prime", text[:5], "--seed", "1", "--length", "30")
    assert g.exit_code == 0 and set(g.stdout[:-1]) <= set(alphabet)
