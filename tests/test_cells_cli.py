"""Every cell trains, saves, loads, generates, evaluates and resumes from the CLI."""

import json

import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.config import CELLS

from helpers import TINY_TEXT, imported_by, invoke, tiny_args

ARGS = tiny_args(layers=2, epochs=1, seed=2, patience=0, quiet=True)  # two layers: every cell stacked


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_cell_end_to_end(runner, tiny_corpus, tmp_path, cell):
    run = tmp_path / cell
    r = invoke(runner, "train", tiny_corpus, "--cell", cell, "--checkpoint-dir", run, *ARGS)
    assert r.exit_code == 0, r.output
    meta = ckpt_io.load(run / "best.keras")
    assert meta.model.cell == cell
    gen = ("generate", "-c", run, "--prime", "the ", "--seed", "1", "--length", "40")
    a, b = invoke(runner, *gen), invoke(runner, *gen)
    assert a.exit_code == 0 and a.stdout == b.stdout
    assert set(a.stdout[4:-1]) <= set(TINY_TEXT) and len(a.stdout) == 45
    e = json.loads(invoke(runner, "eval", tiny_corpus, "-c", run, "--json").stdout)
    assert 0 < e["bits_per_char"] < 6
    r = invoke(runner, "train", tiny_corpus, "--checkpoint-dir", run, "--resume", "--epochs", "2", "--quiet")
    assert r.exit_code == 0, r.output
    assert ckpt_io.load(run / "last.keras").epoch == 2


@pytest.mark.slow
def test_generate_never_imports_tensorflow(trained_run):
    code = (
        "from charlstm.cli import main\n"
        "try:\n"
        f"    main(['generate', '-c', {str(trained_run)!r}, '--seed', '1', '--length', '20'], prog_name='charlstm')\n"
        "except SystemExit as e:\n"
        "    assert e.code in (0, None), e.code\n"
    )
    assert imported_by(code) == []
