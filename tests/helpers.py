"""Shared test data and helpers (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

TINY_TEXT = ("the cat sat on the mat.\nthe dog sat on the log.\na cat and a dog met on a mat by a log.\n") * 40

# ---- one tiny training run, as `charlstm train` flags or as ModelConfig / TrainConfig fields ----
TINY_RUN = {  # charlstm.train's keyword arguments: one layer of 16 units, a run of seconds on 2 cores
    "units": 16,
    "layers": 1,
    "embedding_dim": 8,
    "seq_length": 20,
    "batch_size": 16,
    "epochs": 2,
    "seed": 7,
    "sample_every": 0,
    "jit_compile": False,
}
_FLAGS = {"jit_compile": "jit"}  # fields whose flag is not the field's name


def tiny_run(**changes) -> dict:
    """TINY_RUN with `changes` (a value of None drops that field)."""
    return {k: v for k, v in {**TINY_RUN, **changes}.items() if v is not None}


def tiny_args(**changes) -> list[str]:
    """tiny_run(**changes) as `charlstm train` flags: units=4 gives --units 4, jit_compile=False
    --no-jit, carry_state=True --carry-state; keys only the CLI has (quiet=True, device="gpu") too."""
    args = []
    for field, value in tiny_run(**changes).items():
        flag = _FLAGS.get(field, field).replace("_", "-")
        args += [f"--{flag}"] if value is True else [f"--no-{flag}"] if value is False else [f"--{flag}", str(value)]
    return args


def tiny_configs(**changes):
    """tiny_run(**changes) as (ModelConfig, TrainConfig), vocab_size 0 (set from the corpus)."""
    from dataclasses import fields

    from charlstm.config import ModelConfig, TrainConfig

    run = tiny_run(**changes)
    model_fields = {f.name for f in fields(ModelConfig)}
    model = ModelConfig(vocab_size=0, **{k: v for k, v in run.items() if k in model_fields})
    return model, TrainConfig(**{k: v for k, v in run.items() if k not in model_fields})


TINY_TRAIN_ARGS = tiny_args()  # the tiny run of conftest's `trained_run`


# ---- what a fresh interpreter imports ----------------------------------------------------------
HEAVY = ("tensorflow", "keras")  # what `import charlstm` and `generate` must never load
_MARK = "imported-modules:"


def imported_by(code: str, packages=HEAVY) -> list[str]:
    """The modules of `packages` (each a module and its submodules) that `code` leaves in
    sys.modules, run in a fresh interpreter that must exit cleanly: [] when none was imported."""
    import json
    import subprocess
    import sys

    probe = (
        f"{code}\nimport json, sys\nprint({_MARK!r} + json.dumps(sorted(m for m in sys.modules "
        f"if any(m == p or m.startswith(p + '.') for p in {tuple(packages)!r}))), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(next(line for line in done.stderr.splitlines()[::-1] if line.startswith(_MARK))[len(_MARK) :])


def interrupt_after_epoch(run, epoch: int) -> None:
    """Make a TrainingRun stop as SIGINT would once epoch `epoch` (0-based) has ended and been saved."""
    original = run._end_epoch

    def end_epoch(e, *args):
        original(e, *args)
        if e == epoch:
            run.stop.handle(2, None)

    run._end_epoch = end_epoch


def invoke(runner, *args, input=None):
    """Run the CLI in-process with CliRunner; every argument is str()-ed (Paths welcome)."""
    from charlstm.cli import main

    return runner.invoke(main, [str(a) for a in args], input=input)


def prepare(text: str, seed: int, vocabulary: str | None = None):
    """`text` (already read and case-folded) encoded in memory as a `charlstm.training.plan.Corpus`:
    the reference the streamed `charlstm.text.idfile.encode_corpus` is checked against, and the
    quick way to a corpus in tests. `vocabulary` is a resumed checkpoint's: the text must
    not bring new characters."""
    from charlstm.errors import CorpusError
    from charlstm.text.corpus import Vocabulary, describe_chars, prime_excerpt
    from charlstm.training.plan import Corpus

    found = Vocabulary.from_text(text)
    if vocabulary is None:
        vocab = found
    else:
        vocab = Vocabulary(vocabulary)
        missing = "".join(sorted(set(found.chars) - set(vocabulary)))
        if missing:
            raise CorpusError(
                f"the corpus has {len(missing)} character(s) the checkpoint's vocabulary lacks: "
                f"{describe_chars(missing)}; resume only on text made of the same characters"
            )
    return Corpus(vocab.encode(text), vocab, prime_excerpt(text, seed))


class ServerProcess:
    """`charlstm serve` in a subprocess on a port the OS picks (--port 0), read back from uvicorn's log."""

    def __init__(self, checkpoint, *args, env=None):
        import os
        import re
        import subprocess
        import sys
        import threading

        cmd = [sys.executable, "-m", "charlstm", "serve", "-c", str(checkpoint), "--port", "0", *map(str, args)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
        self.log: list[str] = []
        for line in self.proc.stderr:
            self.log.append(line)
            found = re.search(r"Uvicorn running on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        else:
            raise AssertionError("the server did not start:\n" + "".join(self.log))
        # keep reading its log: a full pipe would block the server
        self.reader = threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True)
        self.reader.start()

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit status (its whole stderr is in .log)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=timeout)
        self.reader.join(timeout)
        return self.proc.returncode


def unavailable(reason: str):
    """A test whose tool (Chromium, Node.js, wat2wasm) or fetched corpus cannot be had: skipped with
    the reason on a developer's machine, failed with it in CI (`CI` set), where .ci/run installs
    every tool and the registries are reachable, so that a CI machine without one cannot pass by
    running none of the tests that need it."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: a test that needs it fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


def load_script(name: str):
    """scripts/NAME.py imported as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
