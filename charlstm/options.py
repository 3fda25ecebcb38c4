"""Every user-facing option defined once, beside its dataclass field: flag, type, range, default, help.

    layers: int = option(2, "Stacked recurrent layers.", ints(1, 16))

`option(...)` is a `dataclasses.field` whose metadata holds an `Option`. Everything
else is derived from it: the API's checks (`Option.check`, `check_fields`), the
CLI's click options (`charlstm/clitypes.py`, which only the CLI imports) and, from
those, the README's option tables (`scripts/cli_docs.py`). A refused value reads
the same from every caller, `Invalid value for '--top-p' (top_p): 1.5 is not in the
range 0<x<=1.`, and the `UsageError` carries the field's name in `.param`.

The sampling options are one frozen value, `SampleOptions`, that the CLI, the API
and the HTTP server build with `SampleOptions.create(...)` and so check alike.
Plain Python: no click, NumPy or TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, field
from functools import cache

from charlstm.errors import UsageError

SEED_MAX = 2**32 - 1  # NumPy's legacy seeds are 32-bit; the CLI has always taken 0 to 2**32 - 1
_FIELD_DEFAULT = object()  # Option.default: the dataclass field's own default


@dataclass(frozen=True)
class Option:
    """One option's definition; `options_of(cls)` fills `name`, `flag` and `default` from the field."""

    kind: str  # int | float | seed | choice | bool | text
    help: str = ""  # the --help text and the README table's meaning column
    low: float | None = None  # the range's lower end (None: unbounded)
    high: float | None = None  # the range's upper end (None: unbounded)
    low_open: bool = False  # the lower end itself is outside the range
    high_open: bool = False  # the upper end itself is outside the range
    choices: tuple[str, ...] = ()  # kind "choice": the allowed values
    empty: str | None = None  # kind "text": why an empty string is refused (None: allowed)
    flag: str = ""  # "--layers"; default: the field's name with dashes
    negatable: bool = False  # kind "bool": --flag/--no-flag (else a plain --flag, off by default)
    metavar: str | None = None  # the value's name in --help and the README, when not the type's
    show_default: bool | str = True  # or the text shown instead of the default ("random")
    default: object = _FIELD_DEFAULT  # the user's default, when it is not the field's (seed: None, "random")
    name: str = ""  # the field's name: the API's keyword argument

    @property
    def nullable(self) -> bool:
        """None is a value of its own (leave unset: no top-k, no budget, a random seed, the automatic choice)."""
        return self.default is None

    def describe_range(self) -> str:
        """The range as click writes it (`1<=x<=16`, `0<x<=1`, `x>0`)."""
        lop, hop = ("<" if self.low_open else "<="), ("<" if self.high_open else "<=")
        if self.low is None:
            return f"x{hop}{self.high}"
        if self.high is None:
            return f"x{'>' if self.low_open else '>='}{self.low}"
        return f"{self.low}{lop}x{hop}{self.high}"

    def error(self, reason: str) -> UsageError:
        return UsageError(f"Invalid value for '{self.flag}' ({self.name}): {reason}", param=self.name)

    def check(self, value):
        """`value`, checked (floats as float); a UsageError naming the flag and the field otherwise."""
        if value is None and self.nullable:
            return None
        value, reason = _CHECKS[self.kind](self, value)
        if reason:
            raise self.error(reason)
        return value

    def parse(self, text: str):
        """A command-line string to a checked value (click hands every typed value here)."""
        if self.kind not in _NUMBERS:
            return self.check(text)
        number, not_one = _NUMBERS[self.kind]
        try:
            value = number(text)
        except ValueError:
            raise self.error(f"{text!r} is not {not_one}") from None
        return self.check(value)

    def outside(self, value) -> bool:
        """The number lies outside the range (NaN lies inside every comparison: check finiteness first)."""
        below = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        above = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        return below or above


def _check_int(opt: Option, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        return value, f"{value!r} is not a valid integer."
    value = int(value)
    return value, (f"{value} is not in the range {opt.describe_range()}." if opt.outside(value) else None)


def _check_float(opt: Option, value):
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return value, f"{value!r} is not a valid float."
    value = float(value)
    if not math.isfinite(value):  # NaN slips through every comparison; no option means anything by ±inf
        return value, f"{value!r} is not a finite number; give one in the range {opt.describe_range()}."
    return value, (f"{value} is not in the range {opt.describe_range()}." if opt.outside(value) else None)


def _check_seed(opt: Option, value):
    value, reason = _check_int(opt, value)
    if reason and type(value) is int:  # an integer (bools are not), out of range
        reason = f"{value} is out of range: seeds are 0 to {SEED_MAX}"
    return value, reason


def _check_choice(opt: Option, value):
    ok = isinstance(value, str) and value in opt.choices
    return value, (None if ok else f"{value!r} is not one of {', '.join(map(repr, opt.choices))}.")


def _check_bool(opt: Option, value):
    return value, (None if isinstance(value, bool) else f"{value!r} is not a valid boolean.")


def _check_text(opt: Option, value):
    if not isinstance(value, str):
        return value, f"{value!r} is not a string."
    return value, (opt.empty if value == "" else None)


_NUMBERS = {  # kind: (how a command-line string becomes one, what a string that does not is not)
    "int": (int, "a valid integer."),
    "float": (float, "a valid float."),
    "seed": (int, "an integer seed; to start the text with it, use --prime"),
}

_CHECKS = {
    "int": _check_int,
    "float": _check_float,
    "seed": _check_seed,
    "choice": _check_choice,
    "bool": _check_bool,
    "text": _check_text,
}


# --- writing definitions ----------------------------------------------------------------------


def ints(low: int, high: int | None = None) -> Option:
    return Option("int", low=low, high=high)


def floats(low: float, high: float | None = None, *, low_open: bool = False, high_open: bool = False) -> Option:
    return Option("float", low=low, high=high, low_open=low_open, high_open=high_open)


def choice(values: tuple[str, ...]) -> Option:
    return Option("choice", choices=tuple(values))


SEED = Option("seed", low=0, high=SEED_MAX)
FLAG = Option("bool")  # --flag, off unless given
SWITCH = Option("bool", negatable=True)  # --flag/--no-flag
TEXT = Option("text")


def option(field_default, help: str, kind: Option = TEXT, /, **details):
    """A dataclass field with its option definition: `details` are Option fields (flag=, metavar=, ...)."""
    return field(default=field_default, metadata={"option": dataclasses.replace(kind, help=help, **details)})


@cache
def options_of(cls) -> dict[str, Option]:
    """The defined options of a dataclass, by field name, in field order."""
    found = {}
    for f in dataclasses.fields(cls):
        opt = f.metadata.get("option")
        if opt is not None:
            found[f.name] = dataclasses.replace(
                opt,
                name=f.name,
                flag=opt.flag or "--" + f.name.replace("_", "-"),
                default=f.default if opt.default is _FIELD_DEFAULT else opt.default,
            )
    return found


def check_fields(obj) -> None:
    """Check every defined field of a dataclass instance (the configs' validate())."""
    for name, opt in options_of(type(obj)).items():
        opt.check(getattr(obj, name))


def check_values(values: dict, *classes) -> None:
    """Check keyword arguments named like the defined fields of `classes` (others are left alone)."""
    for cls in classes:
        for name, opt in options_of(cls).items():
            if name in values:
                opt.check(values[name])


def random_seed() -> int:
    """A seed for a run or a sample that was given none (recorded, so it can be repeated)."""
    return int.from_bytes(os.urandom(4), "little")


# --- the sampling options ---------------------------------------------------------------------

ON_UNKNOWN = ("error", "skip")


@dataclass(frozen=True)
class SampleOptions:
    """Everything that decides a sample besides the checkpoint; the same seed gives the same text.

    `SampleOptions.create(**fields)` checks every field (UsageError, `.param` naming
    it); the plain constructor trusts its caller. `resolved()` draws a seed left None.
    """

    prime: str | None = option(  # None: the checkpoint's stored excerpt of its training text
        None,
        "Text to continue ('-' reads it from stdin); default: an excerpt of the training text.",
        empty="the prime is empty: give some text, or leave it out to start from an excerpt of the training text",
    )
    length: int = option(500, "Characters to generate.", ints(1, 10**9))  # after the prime
    temperature: float = option(1.0, "0 = greedy; lower is more conservative.", floats(0, 100))
    top_k: int | None = option(None, "Sample among the K likeliest characters.", ints(1, 1_000_000))
    top_p: float | None = option(
        None, "Nucleus sampling: the likeliest characters holding mass P.", floats(0, 1, low_open=True)
    )
    seed: int | None = option(None, "Same seed, same output, byte for byte.", SEED, show_default="random")
    num_samples: int = option(1, "Samples generated together as a batch.", ints(1, 10_000))
    # sample i always draws from the random stream (seed, i), alone or in a batch
    sample_index: int = option(
        0, "Index of the first sample: sample i is the same alone or in a batch.", ints(0, 10**9)
    )
    stop: str | None = option(None, "End a sample when this string appears.")  # not emitted; "" or None: no stop
    on_unknown: str = option("error", "Prime characters outside the vocabulary.", choice(ON_UNKNOWN))  # or skip
    echo_prime: bool = option(True, "Print the prime before the generated text.", SWITCH)

    @classmethod
    def create(cls, **fields) -> SampleOptions:
        """Checked options from keyword arguments (the rest take their defaults)."""
        unknown = sorted(set(fields) - set(options_of(cls)))
        if unknown:
            raise UsageError(
                f"unknown sampling option(s): {', '.join(unknown)} (known: {', '.join(options_of(cls))})",
                param=unknown[0],
            )
        return cls(**{name: opt.check(fields.get(name, opt.default)) for name, opt in options_of(cls).items()})

    def replace(self, **fields) -> SampleOptions:
        """A checked copy with `fields` changed (no fields: this one checked)."""
        return SampleOptions.create(**{**dataclasses.asdict(self), **fields})

    def resolved(self) -> SampleOptions:
        """These options with a random seed drawn if none was given (done once, where sampling starts)."""
        return self if self.seed is not None else dataclasses.replace(self, seed=random_seed())


# --- whole items (`generate --items N`: an item model's one line, one thing) -------------------


@dataclass(frozen=True)
class ItemOptions:
    """`generate --items N`: N whole items instead of a text; the SampleOptions say how each is drawn."""

    items: int | None = option(
        None,
        "Print N whole items, one per line, each from the start state (the prime starts every item).",
        ints(1, 1_000_000),
        metavar="N",
        show_default="a text of --length chars",
    )
    novel: bool = option(False, "With --items: only items that are not in the training list.", FLAG)
    unique: bool = option(False, "With --items: no item twice.", FLAG)

    def __post_init__(self):
        check_fields(self)
        if self.items is None and (self.novel or self.unique):
            flag = "--novel" if self.novel else "--unique"
            raise UsageError(f"{flag} goes with --items N (whole items, one per line)", param="items")
