"""Every float option of every command refuses NaN and ±inf with a one-line usage error.

Options are discovered by walking the click commands, so a new float option is
covered as soon as it exists (and must use FiniteFloat, or the first test fails).
"""

import click
import pytest

from charlstm.cli import main
from charlstm.clitypes import FiniteFloat
from charlstm.options import floats

from helpers import invoke


def _commands(group, path=()):
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def _float_options():
    return [
        (path, p.opts[-1])
        for path, cmd in _commands(main)
        for p in cmd.params
        if isinstance(p, click.Option) and isinstance(p.type, FiniteFloat)
    ]


def test_every_float_option_is_finite_float():
    for path, cmd in _commands(main):
        for p in cmd.params:
            if isinstance(p.type, click.types.FloatParamType):
                assert isinstance(p.type, FiniteFloat), f"{' '.join(path)} {p.name}: use FiniteFloat"
    names = {f"{' '.join(path)} {opt}" for path, opt in _float_options()}
    # the ones the issue lists, so the walk itself cannot silently find nothing
    assert {"generate --temperature", "generate --top-p", "train --dropout", "train --max-time"} <= names


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN", "+Infinity"])
@pytest.mark.parametrize("path, option", _float_options())
def test_float_options_refuse_non_finite(runner, path, option, value):
    r = invoke(runner, *path, f"{option}={value}")
    assert r.exit_code == 2, r.output
    shown = repr(float(value))  # the number the text means: nan, inf or -inf, as the API says it too
    assert r.stderr.startswith(f"Error: Invalid value for '{option}' (") and r.stderr.count("\n") == 1
    assert f"): {shown} is not a finite number" in r.stderr and r.stdout == ""


def test_generate_temperature_nan_is_refused_before_anything_is_printed(runner, trained_run):
    r = invoke(runner, "generate", "-c", trained_run, "--temperature", "nan", "--seed", "1")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == (
        "Error: Invalid value for '--temperature' (temperature): nan is not a finite number; give one in "
        "the range 0<=x<=100. (see 'charlstm generate --help')\n"
    )


@pytest.mark.parametrize("value, ok", [("0.5", True), ("1e-3", True), ("0", False), ("2", False), ("nan", False)])
def test_finite_float_keeps_the_range(value, ok):
    t = FiniteFloat(floats(0, 1, low_open=True))
    if ok:
        assert t.convert(value, None, None) == float(value)
    else:
        with pytest.raises(
            click.UsageError, match="is not (in the range|a finite number; give one in the range) 0<x<=1"
        ):
            t.convert(value, None, None)
