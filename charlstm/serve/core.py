"""The library names the server builds on, imported here and nowhere else in the package.

The sampling options and the NumPy network are being reorganised (`SampleOptions`
validated in one place, the network in its own module): when they move, this file
is the one edit.
"""

from __future__ import annotations

from charlstm.api import Model, load
from charlstm.errors import CharlstmError, UsageError, VocabularyError
from charlstm.sampling import Network, _partial_suffix, _Uniforms, pick

__all__ = [
    "CharlstmError",
    "Model",
    "Network",
    "UsageError",
    "VocabularyError",
    "check_sampling",
    "load",
    "partial_suffix",
    "pick",
    "uniforms",
]

partial_suffix = _partial_suffix


def uniforms(seed: int, index: int) -> _Uniforms:
    """Sample `index`'s random stream (seed, index): the numbers `charlstm generate --seed` draws for it."""
    return _Uniforms(seed, 1, index)


def check_sampling(model: Model, length: int, seed: int | None, temperature, top_k, top_p, index: int) -> int:
    """The CLI's ranges and messages (UsageError "name=value: must be ..."); returns the seed (drawn if None)."""
    return model.options(length, seed, temperature, top_k, top_p, None, 1, index).seed
