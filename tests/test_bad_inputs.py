"""Every bad input ends in one line on stderr, exit 1 or 2, no traceback, nothing overwritten."""

import pytest

from charlstm import checkpoint as ckpt_io

from helpers import TINY_TEXT, invoke, tiny_args

FAST = tiny_args(seq_length=10, epochs=1)  # the messages below count on --seq-length 10
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


def _one_line_error(r, code):
    assert r.exit_code == code, r.output
    assert r.stderr.startswith("Error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "bad.txt: is empty; give a file with text to learn from"),
        (b"   \n\t\n", "bad.txt: contains only whitespace; nothing to learn from"),
        (b"a", "the training part of the text has 1 characters; it needs at least 12 (--seq-length + 2)"),
        (b"abcdefghijklmnopqrst", "the validation part of the text has 2 characters; it needs at least 12"),
        (b"fine text\n\xe9 and more", "bad.txt: not valid UTF-8 at byte offset 10 (byte 0xe9); re-encode it to UTF-8"),
        ("utf sixteen".encode("utf-16"), "bad.txt: this is UTF-16 text, not UTF-8; re-encode it first"),
        (PNG, "bad.txt: NUL byte at byte offset 8: this looks like a binary file, not text"),
        (b"text\x00with nul", "bad.txt: NUL byte at byte offset 4"),
    ],
)
def test_unusable_corpus(runner, tmp_path, content, message):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    run = tmp_path / "run"
    r = invoke(runner, "train", p, "--checkpoint-dir", run, *FAST)
    _one_line_error(r, 1)
    assert message in r.stderr
    assert not (run / "last.keras").exists()


def test_unreadable_file(runner, tmp_path, monkeypatch):
    p = tmp_path / "secret.txt"
    p.write_text(TINY_TEXT)

    import builtins

    import charlstm.text.corpus

    def denied(path, *args, **kwargs):  # tests run as root, who may read anything: simulate it
        if str(path) == str(p):
            raise PermissionError(13, "Permission denied")
        return builtins.open(path, *args, **kwargs)

    monkeypatch.setattr(charlstm.text.corpus, "open", denied, raising=False)
    r = invoke(runner, "train", p, "--checkpoint-dir", tmp_path / "run", *FAST)
    _one_line_error(r, 1)
    assert f"{p}: permission denied; check the file's read permission" in r.stderr


def test_crlf_and_lone_cr_become_lf(runner, tmp_path):
    p = tmp_path / "dos.txt"
    p.write_bytes(TINY_TEXT.replace("\n", "\r\n").encode() + TINY_TEXT.replace("\n", "\r").encode())
    r = invoke(runner, "train", p, "--checkpoint-dir", tmp_path / "run", "--quiet", *FAST)
    assert r.exit_code == 0, r.output
    vocab = ckpt_io.load(tmp_path / "run" / "last.keras").vocabulary
    assert "\r" not in vocab and "\n" in vocab


def test_megabytes_on_one_line(runner, tmp_path):
    """A text with no newline at all trains, and its prime excerpt is a clean cut of the line.

    Once 50 MB; 1 MB proves the same: nothing reads by lines, and the excerpt search
    (which looks for a line start in the first 200,000 chars) runs off its window.
    """
    p = tmp_path / "oneline.txt"
    line = ("the quick brown fox jumps over the lazy dog " * 1000).encode()
    n = 1_000_000 // len(line) + 1
    p.write_bytes(line * n)
    assert len(line) * n > 200_000 and b"\n" not in p.read_bytes()
    r = invoke(
        runner,
        "train",
        p,
        "--checkpoint-dir",
        tmp_path / "run",
        *tiny_args(seq_length=10, epochs=1, batch_size=1024, max_time=2, quiet=True),
    )
    assert r.exit_code == 0, r.output
    meta = ckpt_io.load(tmp_path / "run" / "last.keras")
    assert meta.extra["corpus"]["chars"] == len(line) * n > 1_000_000
    assert meta.prime_excerpt and "\n" not in meta.prime_excerpt


BAD_VALUES = {  # flag values out of range or of the wrong type, per command
    "train": [
        ("--seq-length", "0"),
        ("--seq-length", "-5"),
        ("--units", "0"),
        ("--units", "1000000"),
        ("--units", "99999999"),
        ("--layers", "0"),
        ("--layers", "1000"),
        ("--batch-size", "-1"),
        ("--batch-size", "0"),
        ("--batch-size", "10000000"),
        ("--val-fraction", "-0.1"),
        ("--val-fraction", "0"),
        ("--val-fraction", "1"),
        ("--val-fraction", "1.5"),
        ("--dropout", "1"),
        ("--learning-rate", "0"),
        ("--epochs", "0"),
        ("--max-time", "-1"),
        ("--seed", "abc"),
    ],
    "generate": [
        ("--length", "0"),
        ("--length", "-3"),
        ("--length", "99999999999"),
        ("--temperature", "-0.5"),
        ("--temperature", "1e9"),
        ("--top-k", "0"),
        ("--top-k", "-1"),
        ("--top-p", "0"),
        ("--top-p", "1.5"),
        ("--num-samples", "0"),
    ],
}


@pytest.mark.parametrize("command, args", [(command, args) for command, cases in BAD_VALUES.items() for args in cases])
def test_option_values(runner, request, command, args):
    if command == "train":
        target = [request.getfixturevalue("tiny_corpus")]
    else:
        target = ["-c", request.getfixturevalue("trained_run")]
    r = invoke(runner, command, *target, *args)
    _one_line_error(r, 2)
    assert r.stderr.startswith(f"Error: Invalid value for '{args[0]}'")


def test_prime_problems(runner, trained_run):
    r = invoke(runner, "generate", "-c", trained_run, "--prime", "")
    _one_line_error(r, 2)
    r = invoke(runner, "generate", "-c", trained_run, "--prime", "€€")
    _one_line_error(r, 1)
    assert "the prime has 1 character(s) not in the model's vocabulary: €" in r.stderr
    r = invoke(runner, "generate", "-c", trained_run, "--prime", "€", "--on-unknown", "skip")
    assert r.exit_code == 1 and "Error: no character of the prime is in the model's vocabulary" in r.stderr


def test_checkpoint_path_problems(runner, tmp_path, trained_run):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    r = invoke(runner, "generate", "-c", text)
    _one_line_error(r, 1)
    assert f"{text}: not a readable checkpoint: not a charlstm checkpoint, or truncated or corrupted" in r.stderr
    (tmp_path / "empty").mkdir()
    r = invoke(runner, "info", "-c", tmp_path / "empty")
    _one_line_error(r, 1)
    assert "no best.keras or last.keras in this directory; is it a training run?" in r.stderr
    r = invoke(runner, "eval", text, "-c", tmp_path / "missing.keras")
    _one_line_error(r, 1)


def test_bad_inputs_never_overwrite_a_checkpoint(runner, trained_run, tmp_path):
    before = {p.name: p.read_bytes() for p in trained_run.glob("*.keras")}
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    for args in (
        ("train", bad, "--checkpoint-dir", trained_run, "--overwrite"),
        ("train", bad, "--checkpoint-dir", trained_run, "--resume"),
        ("train", tmp_path / "missing", "--checkpoint-dir", trained_run, "--overwrite"),
    ):
        r = invoke(runner, *args)
        assert r.exit_code in (1, 2) and r.stderr.count("\n") == 1
    assert {p.name: p.read_bytes() for p in trained_run.glob("*.keras")} == before
