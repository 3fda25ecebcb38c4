"""The stepping loop in a process of its own (vLLM's engine-core split): the `Batcher` there, HTTP here.

Why a process: in one process the batcher's thread and the event loop share Python's
lock. A step's Python (picking, pieces) waits for the loop's events and the events for
the step, so under load the server ran at a fraction of what the same step gives alone
(machine D, 2×300 LSTM, 32 streaming clients, batched products: 7.5K chars/s in one
process against 21.8K for `generate --num-samples 32`; benchmarks/RESULTS.md, run 8).
Here the engine process only steps, and sends each step's pieces over a pipe as one
message; the server's event loop reads every message waiting on the pipe before it
writes, so a stream that fell behind gets the characters of several steps in one event
(as soon as the loop gets to it; nothing waits on purpose) and the loop's work per step
stays one message, not one wake-up per row.

    parent (event loop)                       engine process
    submit / cancel / close  ── requests ──>  reader thread -> Batcher.submit / cancel / close
    channels <- dispatch     <── results ───  Batcher.publish: a step as one message (`Messages`)

The parent owns admission (`--max-batch` + `--max-queue`, 503 beyond) and `/health`'s
counts, so neither waits on the other process. The engine process ignores SIGINT (a
Ctrl-C reaches the whole process group; the parent decides how to stop) and ends when
its requests pipe closes, so it never outlives the server. If it dies, every open
request ends with an error event instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from charlstm.serve.batcher import Batcher, Job, Piece, Step

log = logging.getLogger("charlstm.serve")
READY_TIMEOUT = 120  # seconds for the engine process to load the model
# One BLAS thread in the engine unless the user's environment says otherwise: the other
# core is the event loop's. OpenBLAS's second thread spins while it waits for work, so
# with two the engine took 1.3 cores and the loop starved (machine D, 32 streaming
# clients, batched products: 7.4-9.0K chars/s with two threads, 8.4-13.7K with one; a
# 32-row step alone loses ~10% with one thread).
ENGINE_BLAS_THREADS = 1
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class Messages:
    """Steps as the pipe carries them, pickled: the plain rows' keys, characters and counts side by side,
    then every other row's piece as a tuple (key, text, logprobs, finish_reason, generated, error).

    The keys go only when the plain rows changed (`None`: the last step's keys, which the
    server's `Engine` remembers): most steps have the rows of the step before. And
    `pickle.dumps` rather than `Connection.send`'s ForkingPickler, which builds a Pickler
    object a call; the server reads both with `recv`. A 32-row plain step pickled and
    written to /dev/null took 4.0 us before (keys every step, ForkingPickler) and 1.5 us
    now (machine F, best of 5 x 20,000), against ~45 us of Python a step in all
    (`benchmarks/serve_step.py`).
    """

    def __init__(self):
        self.jobs: list[Job] | None = None  # the last step's plain rows (the batcher's group list)

    def __call__(self, step: Step) -> bytes:
        pieces = [(j.key, p.text, p.logprobs, p.finish_reason, p.generated, p.error) for j, p in step.pieces]
        # the batcher hands on a group's own list, unchanged until the rows change (`Batcher._plain`)
        keys = None if step.jobs is self.jobs else [j.key for j in step.jobs]
        self.jobs = step.jobs
        return pickle.dumps((keys, step.text, step.generated, pieces), pickle.HIGHEST_PROTOCOL)


def _engine_main(path: str, chars: str, max_batch: int, exact: bool, requests, results) -> None:
    """The engine process: load the network, step until told to close or the server goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from charlstm.serve.core import load_network  # NumPy only, as everything the server runs

    _, net = load_network(path)
    jobs: dict[int, Job] = {}  # key -> the job stepping or waiting here
    message = Messages()

    def publish(step: Step) -> None:
        for job, p in step.pieces:
            if p.finish_reason or p.error:
                jobs.pop(job.key, None)
        results.send_bytes(message(step))

    # the parent admits (it knows every open request); here the queue only holds what it let in
    batcher = Batcher(net, chars, max_batch, 1 << 30, publish, exact=exact)

    def read() -> None:
        while True:
            try:
                kind, arg = requests.recv()
            except (EOFError, OSError):  # the server is gone: end everything now
                batcher.close(0.0)
                return
            if kind == "submit":
                new = [Job(request, logprobs, key=key) for key, request, logprobs in arg]
                jobs.update((j.key, j) for j in new)
                batcher.submit(new)
            elif kind == "cancel":
                gone = [jobs.pop(key) for key in arg if key in jobs]
                batcher.cancel(gone)
            elif kind == "close":
                batcher.close(arg)

    results.send("ready")
    threading.Thread(target=read, name="charlstm-engine-requests", daemon=True).start()
    batcher.start()
    batcher.join()
    results.send("closed")


@contextlib.contextmanager
def _blas_threads(n: int):
    """The environment a spawned process starts with: n BLAS threads, unless the user set a count."""
    if any(v in os.environ for v in BLAS_THREAD_VARIABLES):
        yield
        return
    os.environ["OPENBLAS_NUM_THREADS"] = str(n)
    try:
        yield
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]


class Engine:
    """The server's handle on the engine process; the same calls as an in-process `Batcher`.

    `publish(items)` receives [(job, Piece)] in the event loop's thread, every message
    waiting on the pipe at once (pieces of one choice from several steps follow each
    other; `app.Channel` joins them).
    """

    def __init__(
        self, path: Path, chars: str, max_batch: int, max_queue: int, publish: Callable[[list], None], exact=False
    ):
        self.path, self.chars, self.exact = path, chars, exact
        self.max_batch, self.max_queue = max_batch, max_queue
        self.publish = publish
        self.jobs: dict[int, Job] = {}  # key -> job, from submit until it ends or is cancelled
        self.keys: list[int] = []  # the plain rows' keys of the last step that sent them (`Messages`)
        self.next_key = 0
        self.closing = False
        self.alive = False  # True from start until the engine process is seen gone
        self.process = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the engine process and wait until it has loaded the model (blocking: call at start-up)."""
        ctx = multiprocessing.get_context("spawn")  # fork would copy the event loop and BLAS threads' state
        child_requests, self._requests = ctx.Pipe(duplex=False)  # (receiving end, sending end)
        self._results, child_results = ctx.Pipe(duplex=False)
        args = (str(self.path), self.chars, self.max_batch, self.exact, child_requests, child_results)
        self.process = ctx.Process(target=_engine_main, args=args, name="charlstm-engine", daemon=True)
        with _blas_threads(ENGINE_BLAS_THREADS):
            self.process.start()
        child_requests.close()  # the child's ends: only it holds them now, so its exit closes them
        child_results.close()
        if not self._results.poll(READY_TIMEOUT) or self._recv() != "ready":
            raise RuntimeError(f"the engine process did not start (exit code {self.process.exitcode})")
        self.loop, self.alive = loop, True
        try:
            loop.add_reader(self._results.fileno(), self._on_results)
        except NotImplementedError:  # an event loop without add_reader (Windows' proactor): a thread reads
            threading.Thread(target=self._read_thread, name="charlstm-engine-results", daemon=True).start()

    def _recv(self):
        try:
            return self._results.recv()
        except (EOFError, OSError):
            return None

    def _on_results(self) -> None:
        """Every message waiting, dispatched at once (the loop's thread)."""
        items = []
        while True:
            msg = self._recv()
            if msg is None or msg == "closed":
                self.loop.remove_reader(self._results.fileno())
                items += self._orphans()
                break
            items += self._pieces(msg)
            if not self._results.poll():
                break
        if items:
            self.publish(items)

    def _read_thread(self) -> None:
        while True:
            msg = self._recv()
            if msg is None or msg == "closed":
                self.loop.call_soon_threadsafe(lambda: self.publish(self._orphans()))
                return
            self.loop.call_soon_threadsafe(lambda m=msg: self.publish(self._pieces(m)))

    def _pieces(self, msg: tuple) -> list:
        keys, text, counts, pieces = msg
        if keys is None:
            keys = self.keys
        else:
            self.keys = keys
        jobs = self.jobs
        out = [(jobs[k], Piece(c, [], None, n)) for k, c, n in zip(keys, text, counts) if k in jobs]
        for key, text, logprobs, finish, generated, error in pieces:
            job = jobs.get(key)
            if job is None:  # cancelled here meanwhile
                continue
            if finish or error:
                del self.jobs[key]
            out.append((job, Piece(text, logprobs, finish, generated, error)))
        return out

    def _orphans(self) -> list:
        """The engine process is gone: every job still open ends with an error (none hangs)."""
        self.alive = False
        if not self.closing:
            log.error("the engine process stopped (exit code %s): restart charlstm serve", self._code())
        if self.jobs:
            log.error("the engine process stopped with %d samples running (exit code %s)", len(self.jobs), self._code())
        out = [(job, Piece("", error="the stepping process stopped")) for job in self.jobs.values()]
        self.jobs.clear()
        return out

    def _code(self):
        return None if self.process is None else self.process.exitcode

    # --- the Batcher's calls ----------------------------------------------------------------

    def submit(self, jobs: list[Job]) -> bool:
        """Queue the jobs together, or refuse them all (False) when the batch and the queue are full."""
        if self.closing or not self.alive or len(self.jobs) + len(jobs) > self.max_batch + self.max_queue:
            return False
        sent = []
        for job in jobs:
            key, self.next_key = self.next_key, self.next_key + 1
            self.jobs[key] = job
            job.key = key
            sent.append((key, job.request, job.logprobs))
        self._send("submit", sent)
        return True

    def cancel(self, jobs: list[Job]) -> None:
        """The client went away: these jobs leave the batch at the engine's next step."""
        keys = [job.key for job in jobs if self.jobs.pop(job.key, None) is not None]
        if keys:
            self._send("cancel", keys)

    def counts(self) -> tuple[int, int]:
        """(samples stepping, samples waiting), as the server admitted them."""
        n = len(self.jobs)
        return min(n, self.max_batch), max(0, n - self.max_batch)

    def close(self, grace: float | None = None) -> None:
        """Take no new jobs; the engine ends the running ones after `grace` seconds (None: lets them finish)."""
        self.closing = True
        self._send("close", grace)

    def join(self, timeout: float | None = None) -> None:
        if self.process is not None:
            self.process.join(timeout)
            if self.process.is_alive():
                self.process.kill()

    def _send(self, kind: str, arg) -> None:
        try:
            self._requests.send((kind, arg))
        except (OSError, ValueError):  # the engine process is gone; _on_results ends its jobs
            pass
