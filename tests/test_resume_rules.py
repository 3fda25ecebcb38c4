"""The rules of resume, in one place (charlstm/training/resume.py)."""

import dataclasses
from pathlib import Path

import pytest

from charlstm.checkpoint import CheckpointMeta
from charlstm.config import HYPER, MODEL_OPTIONS, RUN_CONTROLS, ModelConfig, TrainConfig
from charlstm.errors import UsageError
from charlstm.training import resume
from charlstm.training.runstate import RunState


def stored(**training):
    training.setdefault("carry_state", True)  # a stored run always holds the choice made at its start
    state = RunState(epoch=3, step=5, global_step=65, elapsed=40.0, budget=60.0, best=2.5)
    return CheckpointMeta(
        path=Path("last.keras"),
        vocabulary="ab",
        model=ModelConfig(vocab_size=2, units=16),
        training=TrainConfig(max_time=60.0, **training),
        epoch=3,
        history=[{"epoch": 1}],
        extra={"resume": state.to_dict()},
    )


def test_every_config_field_is_either_kept_or_a_run_control():
    """A new option cannot be silently dropped on resume: it is one of the three kinds."""
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(HYPER) | set(RUN_CONTROLS) == train_fields and not set(HYPER) & set(RUN_CONTROLS)
    assert set(MODEL_OPTIONS) == {f.name for f in dataclasses.fields(ModelConfig)} - {"vocab_size"}
    assert set(RUN_CONTROLS) == {"epochs", "max_time", "patience", "sample_every", "save_every", "mixed_precision"}


@pytest.mark.parametrize(
    "name, value", [("units", 32), ("learning_rate", 0.1), ("carry_state", False), ("schedule", "cosine"), ("seed", 9)]
)
def test_a_changed_hyperparameter_is_refused(name, value):
    with pytest.raises(UsageError, match=f"--{name.replace('_', '-')} {value} conflicts with the checkpoint's"):
        resume.resumed_config(stored(), {name: value})


def test_the_same_value_is_accepted_and_run_controls_change():
    config = resume.resumed_config(stored(), {"units": 16, "epochs": 9, "patience": 0})
    assert (config.epochs, config.patience, config.learning_rate) == (9, 0, TrainConfig.learning_rate)


def test_an_automatic_option_given_as_none_keeps_the_stored_choice():
    """`train(carry_state=None, resume=True)`: None asks for the automatic choice,
    which the stored run made when it started."""
    assert resume.resumed_config(stored(carry_state=False), {"carry_state": None}).carry_state is False
    assert resume.resumed_config(stored(), {"carry_state": None}).carry_state is True


def test_resume_without_max_time_continues_towards_the_stored_deadline():
    ckpt = stored()
    config = resume.resumed_config(ckpt, {})
    assert config.max_time is None
    state = resume.resumed_state(ckpt, config)
    assert (state.elapsed, state.budget, state.global_step, state.step) == (40.0, 60.0, 65, 5)
    assert state.history == [{"epoch": 1}] and state.epoch == 3


def test_resume_with_max_time_replans_the_decay_to_the_new_deadline():
    ckpt = stored()
    state = resume.resumed_state(ckpt, resume.resumed_config(ckpt, {"max_time": 100.0}))
    assert state.budget == 140.0


def test_missing_run_and_existing_run(tmp_path):
    with pytest.raises(UsageError, match="--resume: no .*last.keras; train without --resume first"):
        resume.stored_run(tmp_path)
    (tmp_path / "last.keras").write_bytes(b"x")
    with pytest.raises(UsageError, match="already holds a training run: add --resume"):
        resume.check_new_run(tmp_path, overwrite=False)
    resume.check_new_run(tmp_path, overwrite=True)


def test_old_checkpoints_read_with_the_behaviour_they_were_trained_with():
    from charlstm.config import from_dict

    old = from_dict(TrainConfig, {"seq_length": 50, "batch_size": 256, "epochs": 3})
    assert (old.carry_state, old.schedule, old.state_reset) == (False, "plateau", 0.0)
    assert from_dict(TrainConfig, {"carry_state": True}).state_reset == 0.0  # carried every row's state
    assert TrainConfig().state_reset == 0.01
