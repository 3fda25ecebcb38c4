"""click options made from the option definitions (charlstm/options.py); only the CLI imports this.

Each defined option becomes a click option whose type converts through its
`Option`, so a refused value gets the API's message word for word (click adds
"Error: " and the --help hint), and --help and the README show click's own
renderings of the ranges and choices. click's FloatRange lets NaN through (every
comparison with NaN is False: `generate --temperature nan` used to print only
newlines); `Option.check` refuses NaN and ±infinity for every float option.
"""

from __future__ import annotations

import click

from charlstm.errors import UsageError
from charlstm.options import Option, options_of


class _Checked:
    """Converts a command-line value with its Option: the API's check and message."""

    option: Option

    def convert(self, value, param, ctx):
        try:
            return self.option.parse(value) if isinstance(value, str) else self.option.check(value)
        except UsageError as e:
            raise click.UsageError(str(e), ctx) from None


class FiniteFloat(_Checked, click.FloatRange):
    """The type of every float option: a float in its range that is never NaN or ±inf.

    `tests/test_cli_types.py` finds float options by this type and checks each refuses
    nan, inf and -inf.
    """

    name = "float"

    def __init__(self, option: Option):
        super().__init__(option.low, option.high, min_open=option.low_open, max_open=option.high_open)
        self.option = option


class _IntRange(_Checked, click.IntRange):
    def __init__(self, option: Option):
        super().__init__(option.low, option.high)
        self.option = option


class _Choice(_Checked, click.Choice):
    def __init__(self, option: Option):
        super().__init__(option.choices)
        self.option = option


class _Seed(_Checked, click.ParamType):
    """An integer seed; text here is most likely meant as the prime."""

    name = "N"

    def __init__(self, option: Option):
        self.option = option


class _Text(_Checked, click.types.StringParamType):
    def __init__(self, option: Option):
        self.option = option


_TYPES = {"float": FiniteFloat, "int": _IntRange, "choice": _Choice, "seed": _Seed, "text": _Text}


def click_option(opt: Option):
    """The click.option decorator for one definition (its value arrives under the field's name)."""
    common = {"default": opt.default, "help": opt.help, "metavar": opt.metavar}
    if opt.kind == "bool" and not opt.negatable:
        return click.option(opt.flag, opt.name, is_flag=True, **common)
    if opt.kind == "bool":
        flags = f"{opt.flag}/--no-{opt.flag.removeprefix('--')}"
        return click.option(flags, opt.name, show_default=opt.show_default, **common)
    return click.option(opt.flag, opt.name, type=_TYPES[opt.kind](opt), show_default=opt.show_default, **common)


def options(cls):
    """Decorate a command with a click option for every defined field of `cls`, in field order."""

    def decorate(fn):
        for opt in reversed(options_of(cls).values()):
            fn = click_option(opt)(fn)
        return fn

    return decorate
