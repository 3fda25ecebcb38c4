"""`charlstm inspect` on the command line: a page and JSON come out; bad input gives
one line on stderr, exit 1 or 2, and leaves no file behind."""

from __future__ import annotations

import json
import re
import zipfile

import pytest

from helpers import TINY_TEXT, invoke


@pytest.fixture
def text_file(tmp_path):
    p = tmp_path / "text.txt"
    p.write_text(TINY_TEXT[:500], encoding="utf-8")
    return p


def _one_line_error(result, code, message):
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert lines == [message], result.output
    assert "Traceback" not in result.output


def test_page_and_json(runner, trained_run, text_file, tmp_path):
    out, js = tmp_path / "page.html", tmp_path / "found.json"
    r = invoke(
        runner,
        "inspect",
        "-c",
        trained_run,
        text_file,
        "--out",
        out,
        "--json",
        js,
        "--no-gradients",
        "--chars",
        300,
        "--detector",
        "the=the",
    )
    assert r.exit_code == 0, r.output
    assert "warning: inspecting the first 300 of 500 characters (--chars)" in r.output
    page = out.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # Self-contained: nothing to fetch (no src/href attributes at all, no URL in a url()).
    assert not re.search(r"""\s(src|href)\s*=|url\(|@import""", page)
    found = json.loads(js.read_text("utf-8"))
    assert found["chars"] == 300 and found["chars_available"] == 500
    assert "inside quotes" not in found["detectors"]  # no quotes in this text: constant, left out
    assert found["detectors"]["the"][0]["layer"] == 1
    assert found["gradients"] == []
    import numpy as np

    with np.load(found["arrays"]) as arrays:
        assert arrays["layer1_c"].shape == (300, 16) and arrays["layer1_f"].shape == (300, 16)
        assert arrays["probs"].shape[0] == 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["found.json", "found.npz", "page.html", "text.txt"]


def test_stdin_and_default_text(runner, trained_run, tmp_path):
    out = tmp_path / "a.html"
    r = invoke(runner, "inspect", "-c", trained_run, "-", "--out", out, "--no-gradients", input="the cat sat.\n")
    assert r.exit_code == 0, r.output
    assert "the cat sat." in out.read_text("utf-8")
    # No text: the held-out tail of the training corpus named in the checkpoint.
    r = invoke(runner, "inspect", "-c", trained_run, "--out", out, "--no-gradients", "--json", tmp_path / "a.json")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "a.json").read_text())["text_source"].startswith("held-out part of ")


def test_gradient_curves_of_two_checkpoints(runner, trained_run, text_file, tmp_path):
    js = tmp_path / "g.json"
    r = invoke(
        runner,
        "inspect",
        "-c",
        trained_run,
        "--compare",
        trained_run / "last.keras",
        text_file,
        "--out",
        tmp_path / "g.html",
        "--json",
        js,
    )
    assert r.exit_code == 0, r.output
    curves = json.loads(js.read_text())["gradients"]
    assert len(curves) == 2 and len(curves[0]["mean"]) == 101
    assert (tmp_path / "g.html").read_text("utf-8").count("<polyline") >= 2


def test_unknown_characters(runner, trained_run, tmp_path):
    p = tmp_path / "odd.txt"
    p.write_text("the cat € sat", encoding="utf-8")
    out = tmp_path / "x.html"
    r = invoke(runner, "inspect", "-c", trained_run, p, "--out", out, "--no-gradients")
    _one_line_error(
        r, 1, "Error: the text has 1 character(s) not in the model's vocabulary: €; use --on-unknown skip to drop them"
    )
    assert not out.exists()
    r = invoke(runner, "inspect", "-c", trained_run, p, "--out", out, "--no-gradients", "--on-unknown", "skip")
    assert r.exit_code == 0, r.output
    assert "warning: dropped 1 character(s) not in the vocabulary: €" in r.output


@pytest.mark.parametrize(
    "args, code, message",
    [
        (
            ["--layer", "2"],
            2,
            "Error: --layer 2 is out of range: this model has layers 1 to 1 (see 'charlstm inspect --help')",
        ),
        (
            ["--layer", "0"],
            2,
            "Error: --layer 0 is out of range: this model has layers 1 to 1 (see 'charlstm inspect --help')",
        ),
        (
            ["--units", "0-16"],
            2,
            "Error: --units 0-16 is out of range: this model's layers have units 0 to 15 "
            "(see 'charlstm inspect --help')",
        ),
        (
            ["--units", "a-b"],
            2,
            "Error: --units 'a-b': write unit numbers and ranges like 0-49,120 (see 'charlstm inspect --help')",
        ),
        (
            ["--detector", "nameonly"],
            2,
            "Error: --detector 'nameonly': write it as NAME=REGEX, e.g. "
            "--detector 'stage=\\[.*?\\]' (see 'charlstm inspect --help')",
        ),
        (
            ["--detector", "x=("],
            2,
            "Error: --detector x: invalid regular expression (missing ), unterminated "
            "subpattern at position 0) (see 'charlstm inspect --help')",
        ),
    ],
)
def test_bad_options(runner, trained_run, text_file, tmp_path, args, code, message):
    out = tmp_path / "x.html"
    r = invoke(runner, "inspect", "-c", trained_run, text_file, "--out", out, "--no-gradients", *args)
    _one_line_error(r, code, message)
    assert not out.exists()


def test_empty_text(runner, trained_run, tmp_path):
    p = tmp_path / "empty.txt"
    p.write_text("", encoding="utf-8")
    r = invoke(runner, "inspect", "-c", trained_run, p, "--out", tmp_path / "x.html", "--no-gradients")
    _one_line_error(r, 1, f"Error: {p}: the text is empty; give a file with some text to inspect")


def test_not_a_charlstm_checkpoint(runner, text_file, tmp_path):
    fake = tmp_path / "model.keras"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("config.json", "{}")
    r = invoke(runner, "inspect", "-c", fake, text_file, "--out", tmp_path / "x.html", "--no-gradients")
    _one_line_error(
        r, 1, f"Error: {fake}: a plain Keras model, not a charlstm checkpoint (train one with charlstm train)"
    )
    junk = tmp_path / "junk.keras"
    junk.write_text("not a zip")
    r = invoke(runner, "inspect", "-c", junk, text_file, "--out", tmp_path / "x.html")
    _one_line_error(
        r,
        1,
        f"Error: {junk}: not a readable checkpoint: not a charlstm checkpoint, or truncated or "
        f"corrupted (File is not a zip file)",
    )
    r = invoke(runner, "inspect", "-c", tmp_path / "nope", text_file, "--out", tmp_path / "x.html")
    _one_line_error(r, 1, f"Error: {tmp_path / 'nope'}: no such checkpoint file or directory")
    assert not (tmp_path / "x.html").exists()


def test_output_folder_missing(runner, trained_run, text_file, tmp_path):
    out = tmp_path / "no" / "such" / "page.html"
    r = invoke(runner, "inspect", "-c", trained_run, text_file, "--out", out, "--no-gradients")
    _one_line_error(
        r,
        2,
        f"Error: --out {out}: folder {out.parent} does not exist; create it first or choose "
        f"another path (see 'charlstm inspect --help')",
    )
    r = invoke(runner, "inspect", "-c", trained_run, text_file, "--out", tmp_path, "--no-gradients")
    _one_line_error(
        r,
        2,
        f"Error: --out {tmp_path}: is a directory; give a file name such as report.html "
        f"(see 'charlstm inspect --help')",
    )


def test_failed_write_leaves_no_partial_page(trained_run, text_file, tmp_path, monkeypatch):
    """The page goes to a temp file that is fsynced and renamed; a failure removes the temp file."""
    import os

    from charlstm.errors import CharlstmError
    from charlstm.inspect import run

    out = tmp_path / "p.html"
    out.write_text("old page")

    def boom(*a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(CharlstmError, match="No space left on device"):
        run.inspect(
            run.InspectOptions(checkpoints=[str(trained_run)], text_file=str(text_file), out=str(out), gradients=False)
        )
    assert out.read_text() == "old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.html", "text.txt"]


@pytest.mark.slow
def test_forward_views_never_load_tensorflow(trained_run, text_file, tmp_path):
    """Only the gradient view may import TensorFlow; --no-gradients runs on NumPy alone."""
    import subprocess
    import sys

    code = (
        "import sys; from charlstm.cli import main; sys.argv = ['charlstm', 'inspect', '-c', sys.argv[1], "
        "sys.argv[2], '--out', sys.argv[3], '--no-gradients']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(trained_run), str(text_file), str(tmp_path / "p.html")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.html").is_file()
