"""The library names the server builds on, imported here and nowhere else in the package.

All from the sampler side and the checkpoint (NumPy only): the server never imports
`charlstm.api`; the CLI hands it a `Sampler` (an `api.Model` is one).
"""

from __future__ import annotations

from charlstm.checkpoint import display_name
from charlstm.errors import CharlstmError, UsageError
from charlstm.options import SampleOptions
from charlstm.sampler.generation import Sampler
from charlstm.sampler.network import Network, Stepper, join_rows, load_network, take_rows
from charlstm.sampler.sampling import SampleRequest, StopHold, Uniforms, pick

__all__ = [
    "CharlstmError",
    "Network",
    "SampleOptions",
    "SampleRequest",
    "Sampler",
    "Stepper",
    "StopHold",
    "Uniforms",
    "UsageError",
    "display_name",
    "join_rows",
    "load_network",
    "pick",
    "take_rows",
]
