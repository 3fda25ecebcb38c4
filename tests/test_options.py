"""Every option is defined once (charlstm/options.py), and the CLI and the API refuse alike.

The walk below reads the definitions themselves: every option with a range, a choice
or a refused empty text gets values outside it, and each must be refused by the CLI
(exit 2, one line on stderr) and by the API (a UsageError whose `.param` names the
field) with the same message. `charlstm.train` refuses before it reads a corpus or
loads TensorFlow; no test here trains or loads a checkpoint.
"""

from __future__ import annotations

import math
import sys

import pytest

import charlstm
from charlstm.config import DeviceConfig, ModelConfig, TrainConfig
from charlstm.errors import UsageError
from charlstm.options import SEED_MAX, ItemOptions, Option, SampleOptions, options_of

from helpers import invoke

DEFINED = [("train", ModelConfig), ("train", TrainConfig), ("train", DeviceConfig), ("generate", SampleOptions)]


def _refused(opt: Option) -> list:
    """Values just outside the option's range or choices (typed as the API takes them)."""
    if opt.kind == "choice":
        return ["nonesuch"]
    if opt.kind == "text":
        return [""] if opt.empty else []
    if opt.kind not in ("int", "seed", "float"):
        return []
    number = float if opt.kind == "float" else int
    values = [number(opt.low) - (0 if opt.low_open else 1)] if opt.low is not None else []
    values += [number(opt.high) + (0 if opt.high_open else 1)] if opt.high is not None else []
    return values + ([math.nan, math.inf] if opt.kind == "float" else [])


CASES = [
    pytest.param(command, cls, name, value, id=f"{command}-{name}={value!r}")
    for command, cls in DEFINED
    for name, opt in options_of(cls).items()
    for value in _refused(opt)
]


def test_the_walk_covers_the_options_the_issue_names():
    covered = {(c.values[2], c.values[3]) for c in CASES}
    assert {("layers", 17), ("layers", 0), ("top_p", 0.0), ("top_p", 2.0), ("temperature", math.inf)} <= covered
    assert {
        ("seed", -1),
        ("seed", SEED_MAX + 1),
        ("cell", "nonesuch"),
        ("prime", ""),
        ("device", "nonesuch"),
    } <= covered
    assert len(CASES) > 60


@pytest.mark.parametrize("command, cls, name, value", CASES)
def test_cli_and_api_refuse_with_the_same_message(runner, tmp_path, command, cls, name, value):
    tf_before = "tensorflow" in sys.modules
    with pytest.raises(UsageError) as api:
        if command == "train":  # a corpus that does not exist: reading it first would be another error
            charlstm.train(tmp_path / "no-such-corpus.txt", checkpoint_dir=tmp_path / "run", **{name: value})
        else:
            SampleOptions.create(**{name: value})
    assert api.value.param == name
    assert ("tensorflow" in sys.modules) == tf_before  # refused before TensorFlow was loaded
    assert str(api.value).startswith(f"Invalid value for '{options_of(cls)[name].flag}' ({name}): ")

    r = invoke(runner, command, f"{options_of(cls)[name].flag}={value}")
    assert r.exit_code == 2, r.output
    assert r.stderr == f"Error: {api.value} (see 'charlstm {command} --help')\n"
    assert r.stdout == ""


def test_the_generate_command_takes_exactly_the_sample_options():
    from charlstm.cli import main

    params = {p.name: p for p in main.commands["generate"].params}
    defined = {**options_of(SampleOptions), **options_of(ItemOptions)}  # ItemOptions: --items N, --novel, --unique
    for name, opt in defined.items():
        assert params[name].default == opt.default and params[name].help == opt.help
    assert set(params) - set(defined) == {"checkpoint", "as_json"}


def test_sample_options_checks_every_field_and_resolves_the_seed_once():
    opts = SampleOptions.create(prime="the ", length=10, temperature=1, top_p=0.5)
    assert opts.temperature == 1.0 and isinstance(opts.temperature, float)
    assert opts == SampleOptions(prime="the ", length=10, top_p=0.5) and opts.seed is None
    drawn = opts.resolved()
    assert 0 <= drawn.seed <= SEED_MAX and drawn.resolved() is drawn  # drawn once, then kept
    assert opts.replace(seed=3).seed == 3 and opts.replace() == opts
    with pytest.raises(UsageError, match=r"unknown sampling option\(s\): first_index") as e:
        SampleOptions.create(first_index=1)
    assert e.value.param == "first_index"
    for name, value, reason in [
        ("length", 2.5, "2.5 is not a valid integer."),
        ("length", True, "True is not a valid integer."),
        ("temperature", "1", "'1' is not a valid float."),
        ("echo_prime", "no", "'no' is not a valid boolean."),
        ("stop", 3, "3 is not a string."),
        ("length", None, "None is not a valid integer."),
        ("seed", True, "True is not a valid integer."),
    ]:
        with pytest.raises(UsageError) as e:
            SampleOptions.create(**{name: value})
        assert str(e.value) == f"Invalid value for '{options_of(SampleOptions)[name].flag}' ({name}): {reason}"
        assert e.value.param == name
    with pytest.raises(UsageError, match=r"\(length\): 0 is not in the range"):
        SampleOptions(length=0).replace()  # a SampleOptions built unchecked is checked when used


def test_train_refuses_unknown_and_bad_options_before_reading(tmp_path):
    with pytest.raises(UsageError, match=r"unknown training option\(s\): unitz") as e:
        charlstm.train(tmp_path / "missing.txt", unitz=3)
    assert e.value.param == "unitz"
    with pytest.raises(UsageError, match=r"'--lowercase' \(lowercase\): 'yes' is not a valid boolean"):
        charlstm.train(tmp_path / "missing.txt", lowercase="yes")


def test_configs_validate_through_the_definitions():
    ModelConfig(vocab_size=3).validate()
    TrainConfig().validate()
    with pytest.raises(UsageError, match=r"'--layers' \(layers\): 17 is not in the range 1<=x<=16\."):
        ModelConfig(vocab_size=3, layers=17).validate()
    with pytest.raises(UsageError, match=r"'--clip-norm' \(clip_norm\): nan is not a finite number"):
        TrainConfig(clip_norm=math.nan).validate()
    with pytest.raises(UsageError, match="at least 2 distinct characters"):
        ModelConfig(vocab_size=1).validate()
