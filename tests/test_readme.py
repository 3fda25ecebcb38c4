"""The README stays true: its option tables match the CLI, and its Python examples run.

Python blocks run in order in one namespace, in a temporary folder holding `held_out.txt`
and `corpus.txt`; the `charlstm.train` example trains `ck`, which the others load. Every
block runs: the `<!-- doctest: skip -->` marker that kept the training example out until
`charlstm.train` existed is refused now.
"""

import re
import sys
from pathlib import Path

import pytest

from helpers import TINY_TEXT, ServerProcess

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"```python\n(?P<code>.*?)```", re.S)
SKIP_MARKER = "<!-- doctest: skip"
SERVE_URL = "http://127.0.0.1:8000"  # the `charlstm serve` example: run against a server of `ck`, on a free port


def _python_blocks() -> list[str]:
    """The code of every ```python block of the README, in order, but the `charlstm serve` client
    examples last: they need the model that the `charlstm.train` example makes."""
    blocks = [m["code"] for m in BLOCK.finditer(README.read_text(encoding="utf-8"))]
    return [b for b in blocks if SERVE_URL not in b] + [b for b in blocks if SERVE_URL in b]


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


def test_no_example_is_skipped_and_one_trains():
    assert SKIP_MARKER not in README.read_text(encoding="utf-8"), "every README example must run"
    blocks = _python_blocks()
    assert len(blocks) >= 5
    assert sum("charlstm.train(" in code for code in blocks) == 1  # run below, first: it makes `ck`
    assert "charlstm.train(" in blocks[0]


def test_readme_python_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "held_out.txt").write_text(TINY_TEXT[: len(TINY_TEXT) // 3], encoding="utf-8")
    (tmp_path / "corpus.txt").write_text(TINY_TEXT, encoding="utf-8")
    namespace: dict = {"__name__": "__readme__"}
    server = None
    try:
        for code in _python_blocks():
            if SERVE_URL in code:  # `charlstm serve -c ck` as the README starts it, once `ck` exists
                server = server or ServerProcess(tmp_path / "ck", "--model-name", "macbeth")
                code = code.replace(SERVE_URL, server.url)
            exec(compile(code, str(README), "exec"), namespace)  # noqa: S102
    finally:
        assert server is not None and server.stop() == 0
    assert len(namespace["out"].choices) == 3
    out = capsys.readouterr().out
    text = namespace["text"]
    assert text.startswith("the ") and len(text) == len("the ") + 200 and text in out
    assert len(namespace["continuation"]) == 100
    assert namespace["scores"]["chars"] == len(TINY_TEXT) // 3 - 1
    assert f"{namespace['scores']['bits_per_char']:.3f} bits/char" in out
    # the README's own training example made `ck`: the default 2×300 model
    run = namespace["run"]
    assert run.checkpoint.parent.name == "ck" and run.val_bits_per_char is not None
    assert f"{run.val_bits_per_char:.3f} bits/char after" in out
    assert namespace["info"]["model"]["units"] == 300


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


def test_architecture_doc_names_every_module():
    """docs/ARCHITECTURE.md stays a map of the code: every module of the package is in it."""
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    package = ROOT / "charlstm"
    modules = [p for p in package.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    missing = [str(p.relative_to(package)) for p in modules if f"{p.name}" not in doc]
    assert not missing, f"docs/ARCHITECTURE.md does not mention: {', '.join(missing)}"
