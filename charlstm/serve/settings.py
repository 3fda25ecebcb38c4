"""The server's settings, each `charlstm serve` option defined once beside its field (charlstm.options).

No web framework here: the CLI reads these definitions without the serve extra installed.
"""

from __future__ import annotations

from dataclasses import dataclass

from charlstm.options import FLAG, floats, ints, option


@dataclass
class Settings:
    """What `charlstm serve` is told; the app reads the limits, `run` the address."""

    host: str = option("127.0.0.1", "Address to listen on; any but loopback warns without --api-key.")
    port: int = option(8000, "Port to listen on (0: any free one, printed at start).", ints(0, 65535))
    model_name: str | None = option(
        None, "The model id clients name.", show_default="the run's folder name", empty="--model-name is empty"
    )
    max_batch: int = option(64, "Samples stepped together; more wait in the queue.", ints(1, 4096))
    max_queue: int = option(256, "Samples waiting for the batch; beyond them requests get 503.", ints(0, 100_000))
    max_tokens_limit: int = option(4096, "Largest max_tokens (characters) a request may ask for.", ints(1, 10**7))
    max_body: int = option(1 << 20, "Largest request body in bytes; larger ones get 413.", ints(1024, 1 << 30))
    shutdown_grace: float = option(
        10.0, "Seconds streams in flight may run on after SIGTERM / Ctrl-C.", floats(0, 3600)
    )
    # False: one matrix-matrix product for the batch; True: each row its own matrix-vector product (the CLI's bits)
    exact: bool = option(
        False,
        "Every sample's text equals `charlstm generate --seed` byte for byte whatever shares the batch (one"
        " matrix-vector product per row, slower). Without it one product steps the whole batch, and a seeded"
        " sample is the same for the same batch but may differ from the CLI's from a character where"
        " rounding tipped a draw on: of 200 seeded 500-character requests at 32 clients, 199 equalled the"
        " CLI's text and one parted from it at character 471 (bundled base model, benchmarks/serve_drift.py).",
        FLAG,
    )
    # 0: an event per step's piece; > 0: a client's pieces of that long joined into one event
    stream_interval: float = option(
        0.0,
        "Seconds between a stream's events: the characters of the interval go out as one event (the first"
        " at once); 0: every character as soon as it is sampled (a stream whose client fell behind gets"
        " what several steps made in one event).",
        floats(0, 10),
    )
    api_key: str | None = None  # "Authorization: Bearer KEY" required on /v1/* (its own click option: env var)
    cors_origins: tuple[str, ...] = ()  # origins whose pages may call the API (none: no CORS headers)
