"""The library names the server builds on, imported here and nowhere else in the package."""

from __future__ import annotations

from charlstm.api import Model, load
from charlstm.errors import CharlstmError, UsageError
from charlstm.network import Network, join_rows, take_rows
from charlstm.options import SampleOptions
from charlstm.sampling import _partial_suffix, _Uniforms, pick

__all__ = [
    "CharlstmError",
    "Model",
    "Network",
    "SampleOptions",
    "UsageError",
    "join_rows",
    "load",
    "partial_suffix",
    "pick",
    "take_rows",
    "uniforms",
]

partial_suffix = _partial_suffix


def uniforms(seed: int, index: int) -> _Uniforms:
    """Sample `index`'s random stream (seed, index): the numbers `charlstm generate --seed` draws for it."""
    return _Uniforms(seed, 1, index)
