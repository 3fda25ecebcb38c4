"""What a training run shows while it runs: progress bar, epoch lines, samples,
TensorBoard scalars. Only the chief of a multi-worker run shows anything."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

LN2 = math.log(2.0)


def epoch_line(r: dict, improved: bool) -> str:
    part = "" if r["complete"] else f" (partial: {r['steps']} steps)"
    train = f"train {r['train_bits_per_char']:.3f}" if r.get("train_bits_per_char") is not None else "train -"
    windows = r.get("val_window_bits_per_char")
    extra = f" ({windows:.3f} in fresh windows)" if windows is not None and r.get("carry_state") else ""
    return (
        f"epoch {r['epoch']}{part}: {train} / val {r['val_bits_per_char']:.3f}{extra} bits/char, "
        f"{r['chars_per_s']:,.0f} chars/s, lr {r['learning_rate']:.2g}"
        f"{' (best)' if improved else ''}"
    )


class Monitor:
    """The run's voice: silent when `enabled` is false (non-chief workers, --quiet)."""

    def __init__(
        self,
        *,
        log: Callable[[str], None],
        progress: bool,
        enabled: bool,
        epochs: int,
        steps: int,
        chars_per_step: int,
        tensorboard: Path | None = None,
        model=None,
    ):
        self.log = log if enabled else (lambda msg: None)
        self.progress, self.epochs, self.steps = progress and enabled, epochs, steps
        self.chars_per_step = chars_per_step
        self.bar = None
        self.tensorboard = None
        if tensorboard is not None and enabled:
            from charlstm.training.tf_runtime import keras

            try:
                import tensorboard as _  # noqa: F401  (Keras's callback writes through it)
            except ImportError:
                from charlstm.errors import UsageError

                raise UsageError(
                    "--tensorboard needs the tensorboard package: pip install 'charlstm[tensorboard]'"
                ) from None

            self.tensorboard = keras().callbacks.TensorBoard(log_dir=str(tensorboard), write_graph=False)
            self.tensorboard.set_model(model)
            self.tensorboard.on_train_begin()

    def epoch_begin(self, epoch: int, done: int) -> None:
        from tqdm.auto import tqdm

        self.close_bar()
        self.bar = tqdm(
            total=self.steps,
            initial=done,
            desc=f"epoch {epoch + 1}/{self.epochs}",
            unit="step",
            file=sys.stderr,
            disable=not self.progress,
            leave=False,
            dynamic_ncols=True,
        )
        self.steps_shown = 0

    def step_end(self, nats: float, seconds: float) -> None:
        self.bar.update(1)
        self.steps_shown += 1
        rate = self.steps_shown * self.chars_per_step / max(seconds, 1e-9)
        self.bar.set_postfix_str(f"loss {nats:.3f}, {nats / LN2:.3f} bits/char, {rate:,.0f} chars/s", refresh=False)

    def epoch_end(self, record: dict, improved: bool) -> None:
        self.close_bar()
        self.log(epoch_line(record, improved))
        if self.tensorboard is not None:
            logs = {
                "bits_per_char": record["train_bits_per_char"] or float("nan"),
                "val_bits_per_char": record["val_bits_per_char"],
                "chars_per_s": record["chars_per_s"],
                "learning_rate": record["learning_rate"],
            }
            if record.get("val_window_bits_per_char") is not None:
                logs["val_window_bits_per_char"] = record["val_window_bits_per_char"]
            self.tensorboard.on_epoch_end(record["epoch"] - 1, logs)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def close(self) -> None:
        self.close_bar()
        if self.tensorboard is not None:
            self.tensorboard.on_train_end()
            self.tensorboard = None
