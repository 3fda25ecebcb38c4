"""click parameter types for charlstm's options (click only, no TensorFlow).

click's FloatRange lets NaN through (every comparison with NaN is False), so
`generate --temperature nan` used to print only newlines. `FiniteFloat` is the
type for every float option: it refuses NaN and ±infinity always (no charlstm
option means anything by an infinite value: `--max-time inf` is leaving it out).
"""

from __future__ import annotations

import math

import click


class FiniteFloat(click.FloatRange):
    """A float in [min, max] (open ends with min_open/max_open) that is never NaN or ±inf.

    Use it for every float option: `tests/test_cli_types.py` finds options by this type
    and checks each refuses nan, inf and -inf.
    """

    name = "float"

    def convert(self, value, param, ctx):
        rv = float(click.FLOAT.convert(value, param, ctx))
        if math.isnan(rv) or math.isinf(rv):
            self.fail(f"{value!r} is not a finite number{self._range_hint()}.", param, ctx)
        return super().convert(rv, param, ctx)

    def _range_hint(self) -> str:
        if self.min is None and self.max is None:
            return ""
        return f"; give one in the range {self._describe_range()}"
