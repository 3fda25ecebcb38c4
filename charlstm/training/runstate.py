"""Where a training run is: what a checkpoint stores under `resume`.

Everything the loop needs to continue exactly where it stopped, besides the
weights and optimizer (in the Keras model) and the state carried across windows
(arrays, stored beside it): data order and dropout masks are functions of
(seed, epoch, step), so no RNG state is kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class RunState:
    epoch: int = 0  # epochs completed
    step: int = 0  # steps done within `epoch` (0 at an epoch boundary)
    global_step: int = 0  # optimizer steps over the run's life: schedule position, dropout masks
    elapsed: float = 0.0  # seconds of this run so far, over every resume (the time-based schedule)
    budget: float | None = None  # seconds the schedule spreads its decay over (None: the planned epochs)
    best: float | None = None  # best validation bits per char so far
    since_best: int = 0  # complete epochs since `best` improved (patience)
    plateau_scale: float = 1.0  # the accumulated --lr-decay factors (epochs without improvement)
    annealed: bool = False  # patience ran out once and the decay was compressed into the next epochs
    history: list[dict] = field(default_factory=list)  # one record per epoch (or partial epoch)

    def to_dict(self) -> dict:
        """The `resume` member of a checkpoint (history and epoch also sit at its top level)."""
        return {k: v for k, v in asdict(self).items() if k != "history"}

    @classmethod
    def from_dict(cls, data: dict, history: list[dict], epoch: int) -> RunState:
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in data.items() if k in names and k not in ("history", "epoch")}
        return cls(epoch=epoch, history=list(history), **known)

    @property
    def seconds_trained(self) -> float:
        return sum(h.get("seconds", 0.0) for h in self.history)

    @property
    def chars_trained(self) -> int:
        return sum(h.get("chars", 0) for h in self.history)
