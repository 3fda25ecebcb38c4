"""`charlstm serve`: load the model (NumPy only), build the app, run it under uvicorn until a signal.

SIGTERM or Ctrl-C: uvicorn stops accepting connections; the batcher refuses new
work (503) and lets the streams in flight run on for `shutdown_grace` seconds, then
ends them with a last event and `data: [DONE]`; the process exits 0.
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import signal
from collections.abc import Callable

import uvicorn
import uvicorn.config

from charlstm.serve.app import Server
from charlstm.serve.core import Sampler, display_name
from charlstm.serve.settings import Settings

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(model: Sampler, settings: Settings, warn: Callable[[str], None], log_level="info") -> None:
    """Serve `model` (a `Sampler`: `charlstm.load`'s Model is one) until SIGTERM / SIGINT; returns normally
    (exit status 0) after a graceful stop."""
    if settings.model_name is None:  # the run's folder name (a bare .keras file: its stem)
        settings = dataclasses.replace(settings, model_name=display_name(model.path))
    if not is_loopback(settings.host) and settings.api_key is None:
        warn(f"listening on {settings.host} without --api-key: anyone who can reach this port can use the model")
    server = Server(model, settings)
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["handlers"]["access"]["stream"] = "ext://sys.stderr"  # logs on stderr, as every charlstm command
    config = uvicorn.Config(
        server.app(),
        log_config=log_config,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        lifespan="on",
        # the batcher ends the streams itself after the grace; uvicorn's own cut is the backstop
        timeout_graceful_shutdown=settings.shutdown_grace + 5,
    )

    def drain() -> None:
        if server.batcher is not None:
            server.batcher.close(settings.shutdown_grace)

    _Uvicorn(config, drain).run()


class _Uvicorn(uvicorn.Server):
    """uvicorn.Server that also tells the batcher to drain when a stop signal arrives, and exits 0.

    uvicorn re-raises the signal it caught once it has shut down (to die "by" it);
    the handlers installed around `run` take that re-raised signal and do nothing, so
    a graceful stop returns normally.
    """

    def __init__(self, config, on_exit: Callable[[], None]):
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig, frame) -> None:
        super().handle_exit(sig, frame)
        self.on_exit()

    def run(self, sockets=None) -> None:
        previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            super().run(sockets)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
