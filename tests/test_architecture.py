"""The architecture's import rules ([tool.importlinter] in pyproject.toml, run by `make lint`) hold,
and each kind of wrong import breaks them: a copy of the package with one bad line fails lint-imports."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess:
    """lint-imports on the package under `tree`, found there before any installed charlstm."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"]
    return subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of the package and its pyproject.toml (the bundled model left out: contracts read code)."""
    top = tmp_path_factory.mktemp("arch")
    shutil.copytree(ROOT / "charlstm", top / "charlstm", ignore=shutil.ignore_patterns("*.keras", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", top)
    return top


def test_the_package_keeps_every_contract():
    r = lint(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize(
    "module, line, broken",
    [
        # the NumPy sampler reaching for TensorFlow
        ("sampler/network.py", "import tensorflow", "charlstm.sampler is not allowed to import tensorflow"),
        # a lower wing importing a higher one (text below the sampler)
        ("text/corpus.py", "from charlstm.sampler import network", "charlstm.text is not allowed to import"),
        # two wings that must not know each other
        ("serve/app.py", "from charlstm import export", "charlstm.serve is not allowed to import charlstm.export"),
        # anything importing the CLI
        ("api.py", "from charlstm import cli", "charlstm.api is not allowed to import charlstm.cli"),
        # inspect's recording reaching the training wing (and so TensorFlow)
        ("inspect/detectors.py", "from charlstm.training import model", "charlstm.inspect is not allowed to import"),
    ],
)
def test_a_wrong_import_breaks_a_contract(tree, module, line, broken):
    path = tree / "charlstm" / module
    original = path.read_text()
    path.write_text(original + f"\n{line}  # noqa\n")
    try:
        r = lint(tree)
    finally:
        path.write_text(original)
    assert r.returncode == 1, r.stdout + r.stderr
    assert broken in r.stdout, r.stdout


def test_an_unavailable_tool_fails_in_ci_and_skips_elsewhere(monkeypatch):
    from helpers import unavailable

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no node: install it .CI is set"):
        unavailable("no node: install it")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="^no node: install it$"):
        unavailable("no node: install it")
