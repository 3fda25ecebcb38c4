"""The README stays true: its option tables match the CLI, and its Python examples run.

Python blocks run in order in one namespace, in a temporary folder holding `ck` (a copy of
the tiny trained run), `held_out.txt` and `corpus.txt`. A block right after a line
`<!-- doctest: skip ... -->` is not run; only `charlstm.train` examples may be skipped
(until that API exists: remove the marker then, and the block trains into `ck` itself).
"""

import re
import shutil
import sys
from pathlib import Path

import pytest

from helpers import TINY_TEXT

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"(?P<before>[^\n]*)\n```python\n(?P<code>.*?)```", re.S)


def _python_blocks() -> list[tuple[bool, str]]:
    """(skipped, code) for every ```python block of the README."""
    text = README.read_text(encoding="utf-8")
    return [(m["before"].startswith("<!-- doctest: skip"), m["code"]) for m in BLOCK.finditer(text)]


def test_readme_option_tables_match_the_cli():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import cli_docs
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    text = README.read_text(encoding="utf-8")
    for name in ("train", "generate", "eval", "info", "corpus-fetch", "inspect", "export"):
        assert f"<!-- cli:{name} -->" in text, name
    assert cli_docs.render(text) == text, "README.md option tables are stale: run `make docs`"


def test_only_train_examples_are_skipped():
    blocks = _python_blocks()
    assert len(blocks) >= 4
    for skipped, code in blocks:
        if skipped:
            assert "charlstm.train(" in code, code


def test_readme_python_examples_run(trained_run, tmp_path, monkeypatch, capsys):
    runnable = [code for skipped, code in _python_blocks() if not skipped]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "held_out.txt").write_text(TINY_TEXT[: len(TINY_TEXT) // 3], encoding="utf-8")
    (tmp_path / "corpus.txt").write_text(TINY_TEXT, encoding="utf-8")
    if not any("charlstm.train(" in code for code in runnable):
        shutil.copytree(trained_run, tmp_path / "ck")
    namespace: dict = {"__name__": "__readme__"}
    for code in runnable:
        exec(compile(code, str(README), "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    text = namespace["text"]
    assert text.startswith("the ") and len(text) == len("the ") + 200 and text in out
    assert len(namespace["continuation"]) == 100
    assert namespace["scores"]["chars"] == len(TINY_TEXT) // 3 - 1
    assert f"{namespace['scores']['bits_per_char']:.3f} bits/char" in out
    trained = any("charlstm.train(" in code for code in runnable)
    if trained:  # the README's own training example made `ck`: the default 2×300 model
        run = namespace["run"]
        assert run.checkpoint.parent.name == "ck" and run.val_bits_per_char is not None
        assert f"{run.val_bits_per_char:.3f} bits/char after" in out
    assert namespace["info"]["model"]["units"] == (300 if trained else 16)


@pytest.mark.parametrize("check", [True, False])
def test_cli_docs_script_check_mode(tmp_path, monkeypatch, check):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import cli_docs
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    stale = tmp_path / "README.md"
    stale.write_text("intro\n<!-- cli:info -->\n| old |\n<!-- /cli:info -->\nend\n", encoding="utf-8")
    monkeypatch.setattr(cli_docs, "README", stale)
    if check:
        assert cli_docs.main(["--check"]) == 1
        assert "| old |" in stale.read_text()
    else:
        assert cli_docs.main([]) == 0
        new = stale.read_text()
        assert new.startswith("intro\n<!-- cli:info -->\n| option | default | meaning |")
        assert "| `--json` | off | Print the metadata as JSON. |" in new and new.endswith("<!-- /cli:info -->\nend\n")
        assert cli_docs.main(["--check"]) == 0
