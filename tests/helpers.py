"""Shared test data and helpers (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"

TINY_TEXT = ("the cat sat on the mat.\nthe dog sat on the log.\na cat and a dog met on a mat by a log.\n") * 40

TINY_TRAIN_ARGS = [
    "--units",
    "16",
    "--layers",
    "1",
    "--embedding-dim",
    "8",
    "--seq-length",
    "20",
    "--batch-size",
    "16",
    "--epochs",
    "2",
    "--seed",
    "7",
    "--sample-every",
    "0",
    "--no-jit",
]


def invoke(runner, *args, input=None):
    """Run the CLI in-process with CliRunner; every argument is str()-ed (Paths welcome)."""
    from charlstm.cli import main

    return runner.invoke(main, [str(a) for a in args], input=input)


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
