"""`charlstm serve` under load: continuous batching against its ceiling and against one request at a time.

    python benchmarks/serve_load.py [--checkpoint CKPT] [--clients 1,8,32,128] [--chars 500]
                                    [--burst 256] [--requests 10000] [--train-seconds 20] [--default-only]
                                    [--stream-interval SECONDS]
    python benchmarks/serve_load.py --clients 1,8 --chars 50 --burst 32 --requests 300 --train-seconds 3  # a check

Without --checkpoint it trains the default model (2×300 LSTM, every option at its default)
on Macbeth for --train-seconds first: a barely trained model, as said in its first line of
output (speed does not depend on how well the model is trained). Every side runs in this
one run, on loopback, against servers started here:

1. For each client count N: N concurrent streaming requests of --chars characters each
   (different seeds), against a server with --max-batch at least N: aggregate chars/s
   (all characters over the wall time from the first request to the last [DONE]) and the
   first-character latency p50 / p99 (request sent -> first event holding text).
2. The ceiling: what `charlstm generate --num-samples N` runs (`Model.write`, in this
   process), chars/s for the same N × chars; and its ratio to `--num-samples 1`, which
   bounds what any batching server can gain over one request at a time. Beside it, the
   same on one BLAS thread in a child process (`one_thread_ceiling`): what the engine,
   which steps on one core while the other serves HTTP (serve/engine.py), can reach at
   most, so `of_one_thread_ceiling` says how much of its own bound the server reaches and
   `one_thread_ceiling / generate_num_samples_chars_per_s` bounds `of_ceiling`.
3. The same server limited to one request at a time (--max-batch 1, the rest queued),
   for the same N clients.
4. --burst connections opened at once against a server with --max-batch 128 and a small
   queue: every request must end with its [DONE] or a clean 429/503; none may hang (each
   has a 120 s timeout).
5. Resident memory (VmRSS of the server process and its engine process) after the first 100 of --requests short
   requests and after all of them (8 clients at a time).

Clients run in one process of their own (`_sse_client.py`: asyncio, raw HTTP/1.1), sharing
the machine's cores with the server as any client on the same machine would: run it on idle
cores. The targets (issue 28): the default server (one matrix-matrix product for the batch)
at least 0.70× of (2) at 32 and at 128 clients, `--exact` at least 0.50× at 32; first
character p99 at most 100 ms at 32; RSS at the end within 10% of after 100. The ratio to
(3), `vs_one_at_a_time`, is printed beside `ceiling_vs_one_stream` ((2) over one stream:
what batching itself gives on this machine); it has no target. The last line says which
targets were met. About 3-5 minutes at the defaults on 2 idle cores.

(1) runs the default server ("mode": "default") and then `serve --exact` ("mode": "exact":
one matrix-vector product per row, each text the CLI's); --default-only leaves
`--exact` out. For the split of a step's
time against `generate`'s, see benchmarks/serve_step.py.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import CORPORA, ROOT, train_cmd  # noqa: E402

sys.path.insert(0, str(ROOT))
PROMPT = "the "


class Server:
    """`charlstm serve` in a child process on a free port."""

    extra: tuple = ()  # flags every server of the run gets (--stream-interval)

    def __init__(self, checkpoint: Path, *args):
        cmd = [sys.executable, "-m", "charlstm", "serve", "-c", str(checkpoint), "--port", "0"]
        cmd += [*map(str, args), *self.extra]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=ROOT)
        for line in self.proc.stderr:
            found = re.search(r"Uvicorn running on http://([\d.]+):(\d+)", line)
            if found:
                self.host, self.port = found.group(1), int(found.group(2))
                break
        else:
            raise SystemExit("the server did not start")
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()  # drain its log
        clients(self, 1, 5)  # warm-up: a fresh server's first request took ~250 ms more (loaded 2-core machine)

    def rss_mb(self) -> float:
        """VmRSS of the server and its children (the engine process, serve/engine.py)."""
        pids, total = [self.proc.pid], 0
        while pids:
            pid = pids.pop()
            status = Path(f"/proc/{pid}/status").read_text()
            total += int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))
            pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        return total / 1024

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(60)


def clients(server: Server, requests: int, chars: int, concurrency: int = 0, first_seed: int = 0) -> tuple[list, float]:
    """Streamed completions from a client process (`_sse_client.py`): ([[status, first_s, chars]], wall seconds)."""
    cmd = [sys.executable, str(HERE / "_sse_client.py"), server.host, str(server.port), "--requests", str(requests)]
    cmd += ["--chars", str(chars), "--concurrency", str(concurrency), "--first-seed", str(first_seed)]
    cmd += ["--prompt", PROMPT]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    return out["results"], out["wall_s"]


def load(server: Server, n: int, chars: int) -> dict:
    results, wall = clients(server, n, chars)
    assert all(s == 200 and got == chars for s, _, got in results), results
    firsts = sorted(f for _, f, _ in results)
    p99 = firsts[min(len(firsts) - 1, round(0.99 * (len(firsts) - 1)))]
    return {
        "chars_per_s": n * chars / wall,
        "first_p50_ms": 1e3 * statistics.median(firsts),
        "first_p99_ms": 1e3 * p99,
    }


def ceiling(checkpoint: Path, clients: int, chars: int) -> float:
    """chars/s of what `charlstm generate --num-samples N --length chars` runs."""
    import charlstm

    model = charlstm.load(checkpoint)
    start = time.perf_counter()
    model.write(io.StringIO(), prime=PROMPT, length=chars, seed=1, num_samples=clients)
    return clients * chars / (time.perf_counter() - start)


def one_thread_ceiling(checkpoint: Path, clients: int, chars: int) -> float:
    """`ceiling` in a child process on one BLAS thread, as the engine process steps (serve/engine.py)."""
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import serve_load"
    code += f"; print(serve_load.ceiling({str(checkpoint)!r}, {clients}, {chars}))"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.split()[-1])


def burst(checkpoint: Path, connections: int, chars: int) -> dict:
    server = Server(checkpoint, "--max-batch", 128, "--max-queue", 64)
    try:
        results, _ = clients(server, connections, chars)
    finally:
        server.stop()
    statuses = [s for s, _, _ in results]
    bad = [s for s in statuses if s not in (200, 429, 503)]
    return {"done": statuses.count(200), "refused": statuses.count(503) + statuses.count(429), "other": bad}


def memory(checkpoint: Path, requests: int) -> dict:
    server = Server(checkpoint, "--max-batch", 64)
    try:
        clients(server, 100, 20, concurrency=8)
        after_100 = server.rss_mb()
        clients(server, requests - 100, 20, concurrency=8, first_seed=100)
        after_all = server.rss_mb()
    finally:
        server.stop()
    return {"rss_after_100_mb": after_100, f"rss_after_{requests}_mb": after_all, "ratio": after_all / after_100}


def make_checkpoint(workdir: Path, seconds: float) -> Path:
    run = workdir / "run"
    subprocess.run(train_cmd(CORPORA / "macbeth.txt", seconds, run), check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return run / "best.keras"


def describe(checkpoint: Path, trained: float | None) -> dict:
    import charlstm

    m = charlstm.load(checkpoint).checkpoint.model
    how = f"trained {trained:g} s on macbeth.txt here (barely trained)" if trained is not None else "given"
    return {"model": f"{m.layers}x{m.units} {m.cell}", "checkpoint": how, "cores": os.cpu_count()}


def targets(rows: dict, burst_result: dict, mem: dict) -> dict:
    """The issue's targets, each True / False (None when that client count was not run)."""

    def row(n: int, mode: str) -> dict | None:
        return next((r for r in rows.get(n, []) if r["mode"] == mode), None)

    def met_if(r: dict | None, key: str, test) -> bool | None:
        return None if r is None else test(r[key])

    met = {
        "default_of_ceiling_at_32_ge_0.7": met_if(row(32, "default"), "of_ceiling", lambda v: v >= 0.7),
        "default_of_ceiling_at_128_ge_0.7": met_if(row(128, "default"), "of_ceiling", lambda v: v >= 0.7),
        "exact_of_ceiling_at_32_ge_0.5": met_if(row(32, "exact"), "of_ceiling", lambda v: v >= 0.5),
        "default_first_p99_at_32_le_100ms": met_if(row(32, "default"), "first_p99_ms", lambda v: v <= 100),
        "exact_first_p99_at_32_le_100ms": met_if(row(32, "exact"), "first_p99_ms", lambda v: v <= 100),
    }
    return {
        **met,
        "burst_all_clean": not burst_result["other"],
        "rss_within_10pct": mem["ratio"] <= 1.10,
    }


def compare(checkpoint: Path, n: int, chars: int, modes: tuple[str, ...]) -> list[dict]:
    """Client count n: the batching server (per mode), the one-at-a-time server and `generate --num-samples n`."""
    batched = {}
    for mode in modes:
        server = Server(checkpoint, "--max-batch", max(n, 1), *(("--exact",) if mode == "exact" else ()))
        try:
            batched[mode] = load(server, n, chars)
        finally:
            server.stop()
    single = Server(checkpoint, "--max-batch", 1, "--max-queue", max(n, 1))
    try:
        one_at_a_time = load(single, n, chars)
    finally:
        single.stop()
    top = ceiling(checkpoint, n, chars)
    one_stream = ceiling(checkpoint, 1, chars)
    one_thread = one_thread_ceiling(checkpoint, n, chars)
    return [
        {
            "clients": n,
            "mode": mode,
            **row,
            "generate_num_samples_chars_per_s": top,
            "of_ceiling": row["chars_per_s"] / top,
            # what batching can give at most: generate --num-samples n over --num-samples 1
            "ceiling_vs_one_stream": top / one_stream,
            "one_thread_ceiling": one_thread,  # the engine's bound: it steps on one core
            "of_one_thread_ceiling": row["chars_per_s"] / one_thread,
            "one_at_a_time_chars_per_s": one_at_a_time["chars_per_s"],
            "one_at_a_time_first_p99_ms": one_at_a_time["first_p99_ms"],
            "vs_one_at_a_time": row["chars_per_s"] / one_at_a_time["chars_per_s"],
        }
        for mode, row in batched.items()
    ]


def show(row: dict) -> None:
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=None, help="a checkpoint or run (default: train one here)")
    ap.add_argument("--train-seconds", type=float, default=20, help="training time when no --checkpoint")
    ap.add_argument("--clients", default="1,8,32,128", help="client counts, comma-separated")
    ap.add_argument("--chars", type=int, default=500, help="characters per request")
    ap.add_argument("--burst", type=int, default=256, help="connections opened at once")
    ap.add_argument("--requests", type=int, default=10_000, help="requests for the memory check")
    ap.add_argument("--default-only", action="store_true", help="run the default server only, not --exact too")
    ap.add_argument("--stream-interval", type=float, default=0.0, help="serve --stream-interval for every server")
    args = ap.parse_args()
    Server.extra = ("--stream-interval", str(args.stream_interval))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trained = None if args.checkpoint else args.train_seconds
        checkpoint = args.checkpoint or make_checkpoint(Path(tmp), args.train_seconds)
        show({**describe(checkpoint, trained), "stream_interval": args.stream_interval})
        rows = {}
        for n in map(int, args.clients.split(",")):
            rows[n] = compare(checkpoint, n, args.chars, ("default",) if args.default_only else ("default", "exact"))
            for row in rows[n]:
                show(row)
        burst_result = {"burst": args.burst, **burst(checkpoint, args.burst, args.chars)}
        show(burst_result)
        mem = memory(checkpoint, args.requests)
        show(mem)
        show({"targets": targets(rows, burst_result, mem), "seconds": time.perf_counter() - start})


if __name__ == "__main__":
    main()
