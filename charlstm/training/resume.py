"""The rules of resuming a run, in one place.

A resumed run keeps its model and hyper-parameters (the fields of ModelConfig and
the TrainConfig fields not marked `run_control`): asking for a different value
is an error, not silently ignored. Run controls (`--epochs`, `--max-time`,
`--patience`, `--sample-every`, `--save-every`) may change. The corpus must use
only the checkpoint's characters (checked when it is encoded).

The schedule's time budget: a resumed run with `--max-time T` plans its decay to
end T seconds from now; without it, a run that had a budget continues towards the
same deadline (an interrupted 30-minute run resumed finishes its 30 minutes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from charlstm import checkpoint as ckpt_io
from charlstm.config import HYPER, MODEL_OPTIONS, RUN_CONTROLS, TrainConfig
from charlstm.errors import UsageError
from charlstm.training.runstate import RunState


def stored_run(run_dir: Path) -> ckpt_io.CheckpointMeta:
    """The checkpoint a resume continues from: the run's `last`."""
    path = Path(run_dir) / ckpt_io.LAST
    if not path.is_file():
        raise UsageError(f"--resume: no {path}; train without --resume first")
    return ckpt_io.load(path)


def check_new_run(run_dir: Path, overwrite: bool) -> None:
    if (Path(run_dir) / ckpt_io.LAST).exists() and not overwrite:
        raise UsageError(
            f"{run_dir} already holds a training run: add --resume to continue it, "
            f"--overwrite to start over, or choose another --checkpoint-dir"
        )


def resumed_config(stored: ckpt_io.CheckpointMeta, options: dict) -> TrainConfig:
    """The stored TrainConfig with the run controls in `options` applied.

    `options` holds only what the user asked for explicitly (`--units 32` → {"units": 32});
    a model or hyper-parameter option that differs from the stored one is refused.
    """
    unknown = set(options) - set(HYPER) - set(MODEL_OPTIONS) - set(RUN_CONTROLS)
    if unknown:
        raise UsageError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    # None asks for the automatic choice (carry_state), which the stored run already made.
    options = {k: v for k, v in options.items() if not (v is None and k in HYPER)}
    for name in sorted(set(options) & (set(HYPER) | set(MODEL_OPTIONS))):
        have = getattr(stored.training, name) if name in HYPER else getattr(stored.model, name)
        if have != options[name]:
            raise UsageError(
                f"--{name.replace('_', '-')} {options[name]} conflicts with the checkpoint's "
                f"{have}: a resumed run keeps its hyper-parameters"
            )
    controls = {k: v for k, v in options.items() if k in RUN_CONTROLS}
    controls.setdefault("max_time", None)  # a budget belongs to one invocation; see resumed_state
    return dataclasses.replace(stored.training, **controls)


def resumed_state(stored: ckpt_io.CheckpointMeta, config: TrainConfig) -> RunState:
    state = RunState.from_dict(stored.extra.get("resume", {}), stored.history, stored.epoch)
    if config.max_time is not None:
        state.budget = state.elapsed + config.max_time  # re-plan the decay to the new deadline
    return state
