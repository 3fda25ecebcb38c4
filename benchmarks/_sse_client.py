"""Streaming completion clients for benchmarks/serve_load.py, in a process of their own.

    python benchmarks/_sse_client.py HOST PORT --requests N [--concurrency C] [--chars 500]
                                    [--first-seed 0] [--prompt "the "] [--timeout 120]

Sends N streamed `POST /v1/completions` (seeds first-seed, first-seed + 1, ...), at most
C at a time (default: all at once), each on its own connection, and prints one JSON
line: {"wall_s": ..., "results": [[status, seconds to the first text or null, chars], ...]}
(with --texts, each result also holds the text received, for benchmarks/serve_drift.py).
A status of -1 means the stream ended without `data: [DONE]`; 0 that it timed out.

Why a process of its own, on asyncio and raw HTTP/1.1: the first version ran 32
http.client threads inside the benchmark, where their line reading and JSON parsing
shared the GIL and the 2 cores with nothing to tell them apart from the server's own
cost. One event loop with a minimal chunked-body reader costs the server's machine
far less per event, and what it does cost is the same for every side compared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time


async def _head(reader: asyncio.StreamReader) -> tuple[int, dict]:
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


async def _events(reader: asyncio.StreamReader):
    """The SSE events of a chunked body, one `bytes` each (without the blank line)."""
    buf = b""
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            return
        buf += (await reader.readexactly(size + 2))[:-2]
        *events, buf = buf.split(b"\n\n")
        for event in events:
            yield event


async def stream(host: str, port: int, chars: int, seed: int, prompt: str, texts: bool = False) -> list:
    """One streamed completion: [HTTP status, seconds to the first text or None, characters received]."""
    body = json.dumps({"prompt": prompt, "max_tokens": chars, "seed": seed, "stream": True}).encode()
    head = (
        f"POST /v1/completions HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head + body)
        status, headers = await _head(reader)
        if status != 200:
            await reader.read()
            return [status, None, 0]
        if headers.get("transfer-encoding") != "chunked":
            raise RuntimeError(f"expected a chunked event stream, got headers {headers}")
        first, got, kept = None, 0, []
        async for event in _events(reader):
            if event.startswith(b"data: {"):
                text = "".join(c["text"] for c in json.loads(event[6:])["choices"])
                if text and first is None:
                    first = time.perf_counter() - start
                got += len(text)
                if texts:
                    kept.append(text)
            elif event == b"data: [DONE]":
                return [200, first, got] + (["".join(kept)] if texts else [])
        return [-1, first, got] + (["".join(kept)] if texts else [])
    finally:
        writer.close()


async def run(args) -> dict:
    gate = asyncio.Semaphore(args.concurrency or args.requests)

    async def one(seed: int) -> list:
        async with gate:
            try:
                return await asyncio.wait_for(
                    stream(args.host, args.port, args.chars, seed, args.prompt, args.texts), args.timeout
                )
            except (asyncio.TimeoutError, ConnectionError):
                return [0, None, 0]

    start = time.perf_counter()
    results = await asyncio.gather(*(one(args.first_seed + k) for k in range(args.requests)))
    return {"wall_s": time.perf_counter() - start, "results": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--concurrency", type=int, default=0, help="at most this many at a time (0: all at once)")
    ap.add_argument("--chars", type=int, default=500)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--prompt", default="the ")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--texts", action="store_true", help="each result also holds the text received")
    print(json.dumps(asyncio.run(run(ap.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
