"""TF_CONFIG for a cluster of workers, and free loopback ports to try one on one machine.

TensorFlow-free: the distributed tests and benchmarks build their workers' environments
with it before any worker imports TensorFlow.
"""

from __future__ import annotations

import json
import socket


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """`n` distinct ports free on `host` now (all held open together, then released)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def loopback(n: int) -> list[str]:
    """Addresses for `n` workers on this machine."""
    return [f"127.0.0.1:{p}" for p in free_ports(n)]


def tf_config(addresses: list[str], index: int) -> str:
    """TF_CONFIG (JSON) for worker `index` of a cluster of workers at `addresses`; worker 0 is the chief."""
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}})
