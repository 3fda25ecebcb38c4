"""The library names the server builds on, imported here and nowhere else in the package."""

from __future__ import annotations

from charlstm.api import Model, load
from charlstm.errors import CharlstmError, UsageError
from charlstm.options import SampleOptions
from charlstm.sampler.network import Network, Stepper, join_rows, take_rows
from charlstm.sampler.sampling import _partial_suffix, pick, sample_stream

__all__ = [
    "CharlstmError",
    "Model",
    "Network",
    "SampleOptions",
    "Stepper",
    "UsageError",
    "join_rows",
    "load",
    "partial_suffix",
    "pick",
    "sample_stream",
    "take_rows",
]

partial_suffix = _partial_suffix
