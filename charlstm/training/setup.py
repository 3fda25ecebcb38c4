"""A training run's set-up: from a plan (plan.py) to what the loop runs on.

TensorFlow from here on, in this order:

    _devices   Keras and TensorFlow on the chosen device, the tf.distribute strategy, the chief
    _batches   training and validation batches (their rows depend on the replica count)
    _model     the model: where the initial weights come from (`_load_or_build`), and its engine
    _monitor   progress, epoch lines, TensorBoard; the run's first log lines

Nothing here trains: `loop.TrainingRun` builds one `TrainingSetup` when `run()`
starts and loops over it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from charlstm import checkpoint as ckpt_io
from charlstm import config as config_lib
from charlstm.config import DeviceConfig
from charlstm.training import dataset
from charlstm.training.plan import RunPlan


@dataclass
class RunOptions:
    """How to run, as opposed to what to learn: nothing here is stored in checkpoints."""

    devices: DeviceConfig = field(default_factory=DeviceConfig)  # device, strategy, collective timeout
    log: Callable[[str], None] = print  # one line at a time, to stderr in the CLI
    progress: bool = True  # tqdm bar on stderr
    tensorboard: Path | None = None  # write per-epoch scalars here with Keras's TensorBoard callback


class TrainingSetup:
    """The devices, batches, model, engine and monitor of one run, built from its plan."""

    keras: object  # the keras module, on the chosen device (tf_runtime)
    tf: object  # the tensorflow module
    strategy: object  # the tf.distribute strategy
    multi_worker: bool  # a MultiWorkerMirroredStrategy: a collective failure means a lost peer
    chief: bool  # this worker writes checkpoints and speaks
    batches: dataset.Batches  # one epoch's training batches, `rows` global rows each
    val_batches: list  # the held-out batches in the run's layout, the same every epoch (a subset of the tail)
    val_subset: bool  # val_batches hold only the tail's head (TrainConfig.val_run_chars): score it whole at the end
    val_chars: int  # held-out chars in val_batches
    model: object  # the Keras model, compiled: its optimizer holds Adam's slots
    engine: object  # charlstm.training.step.Engine: the compiled steps under the strategy
    monitor: object  # charlstm.training.monitor.Monitor

    def __init__(self, plan: RunPlan, options: RunOptions):
        self.plan, self.options = plan, options
        self._devices()
        self._batches()
        self._model()
        self._monitor()

    def _devices(self) -> None:
        from charlstm.training import tf_runtime

        devices = self.options.devices
        self.keras = tf_runtime.keras(devices.device)
        self.strategy = tf_runtime.strategy(devices.strategy, devices.device, devices.collective_timeout)
        self.tf = tf_runtime.tensorflow(devices.device)
        self.multi_worker = isinstance(self.strategy, self.tf.distribute.MultiWorkerMirroredStrategy)
        self.chief = tf_runtime.is_chief(self.strategy)
        if self.chief:
            ckpt_io.check_writable(self.plan.run_dir)
            ckpt_io.remove_stale_temps(self.plan.run_dir)  # temporaries a killed run left (a run owns its directory)

    def _batches(self) -> None:
        cfg, plan = self.plan.config, self.plan
        if plan.items is not None:
            self._item_batches()
            return
        # Any batch size on any replica count: the engine pads a batch to a multiple of the replicas.
        self.batches = dataset.Batches(
            plan.train_ids, cfg.seq_length, self._rows(len(plan.train_ids)), cfg.seed, cfg.carry_state
        )
        # A multi-worker run validates on the whole tail: its workers could not agree to score it
        # once at the end (each sees only that some worker stopped, not why).
        whole = self.multi_worker or cfg.val_run_chars is None
        val_ids = plan.val_ids if whole else plan.val_ids[: cfg.val_run_chars]
        self.val_subset = len(val_ids) < len(plan.val_ids)
        self.val_chars = len(val_ids)
        self.val_batches = dataset.validation_batches(val_ids, cfg.seq_length, cfg.batch_size, cfg.carry_state)

    def whole_val_batches(self, carry_state: bool) -> list:
        """The whole held-out tail's batches (the end-of-run score), state carried or fresh windows."""
        cfg = self.plan.config
        return dataset.validation_batches(self.plan.val_ids, cfg.seq_length, cfg.batch_size, carry_state)

    def _item_batches(self) -> None:
        """--items: each item a row from the start state (training/itembatches.py)."""
        from charlstm.training.itembatches import ItemBatches

        cfg, plan = self.plan.config, self.plan
        rows = min(cfg.batch_size, len(plan.items))
        if rows < cfg.batch_size:
            self.options.log(f"note: only {len(plan.items)} training items; batch size shrunk from {cfg.batch_size}")
        self.batches = ItemBatches(plan.items, cfg.seq_length, rows, cfg.seed)
        self.val_batches = ItemBatches(plan.val_items, cfg.seq_length, cfg.batch_size, cfg.seed).validation()
        # the held-out items are scored whole every epoch (capped at val_max_chars by the plan)
        self.val_subset = False
        self.val_chars = int((plan.val_items.lengths + 1).sum())

    def _rows(self, n_train: int) -> int:
        """Global rows per step: the batch size, or fewer when the text is too short (the same
        for every replica count, so a run's batches and checkpoints do not depend on it)."""
        cfg = self.plan.config
        if cfg.carry_state:
            rows = dataset.stream_rows(n_train, cfg.seq_length, cfg.batch_size)
            what = f"{rows} streams of at least one window"
        else:
            n_windows = math.ceil((n_train - 1) / cfg.seq_length)
            rows = min(cfg.batch_size, n_windows)
            what = f"{n_windows} training windows"
        if rows < cfg.batch_size:
            self.options.log(f"note: only {what}; batch size shrunk from {cfg.batch_size} to {rows}")
        return rows

    def _model(self) -> None:
        from charlstm.training import model as model_lib
        from charlstm.training import tf_runtime
        from charlstm.training.step import Engine

        cfg, device, model_config = self.plan.config, self.options.devices.device, self.plan.model_config
        policy = tf_runtime.set_precision(cfg.mixed_precision, device)
        with self.strategy.scope():
            self.model = self._load_or_build(policy)
        if device == "gpu":
            model_lib.require_cudnn(self.model, model_config.cell)
        self.engine = Engine(
            self.model,
            self.strategy,
            dropout=model_config.dropout,
            input_dropout=model_config.input_dropout,
            state_reset=cfg.state_reset if cfg.carry_state else 0.0,  # shuffled windows start from zeros
            seed=cfg.seed,
            clip_norm=cfg.clip_norm,
            loss_scale=policy == "mixed_float16",
        )

    def _load_or_build(self, policy: str):
        """Where the initial weights come from: the checkpoint a resumed run continues, or
        a fresh model from the seed with a new optimizer, its weights replaced by a
        fine-tune's start (grown to the corpus's vocabulary)."""
        from charlstm.training import model as model_lib

        cfg = self.plan.config
        if self.plan.resume_from is not None:
            # A compiled load restores the optimizer's slots and step count.
            return model_lib.load_keras_model(self.plan.resume_from, compile=True)
        model = model_lib.build(self.plan.model_config, cfg.seed)
        if self.plan.init_from is not None:
            from charlstm.training.finetune import grown_weights

            # float32 whatever the start stores (a released base may hold float16: release_base.py)
            start = {k: a.astype("float32") for k, a in ckpt_io.load_weights(self.plan.init_from).items()}
            model_lib.assign_weights(model, grown_weights(start, self.plan.model_config.vocab_size))
        if cfg.weight_decay > 0:  # every variable decays, biases and embeddings too (what was measured)
            optimizer = self.keras.optimizers.AdamW(learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay)
        else:
            optimizer = self.keras.optimizers.Adam(learning_rate=cfg.learning_rate)
        if policy == "mixed_float16":
            optimizer = self.keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer)  # saved with the model, so resume restores Adam's moments
        optimizer.build(model.trainable_variables)
        return model

    def _monitor(self) -> None:
        from charlstm.training import model as model_lib
        from charlstm.training.monitor import Monitor

        plan, cfg, opts = self.plan, self.plan.config, self.options
        self.monitor = Monitor(
            log=opts.log,
            progress=opts.progress,
            enabled=self.chief,
            epochs=cfg.epochs,
            steps=self.batches.steps,
            chars_per_step=getattr(self.batches, "chars_per_step", self.batches.rows * cfg.seq_length),
            tensorboard=opts.tensorboard,
            model=self.model,
        )
        if plan.resume_from is not None:
            return
        if plan.start_info is not None:
            start = plan.start_info
            self.monitor.log(f"fine-tuning from {start['name']} (sha256 {start['sha256'][:12]}…)")
            if "text_loss" in start:
                self.monitor.log(
                    f"it scores {start['text_loss']:.3f} nats/char on the text's start: "
                    f"learning rate {cfg.learning_rate:.2g} (--learning-rate to choose another)"
                )
        if plan.sizing is not None:
            self.monitor.log(plan.sizing["reason"])
        m = plan.model_config
        self.monitor.log(
            f"model: {m.layers}×{m.units} {m.cell}, {model_lib.count_params(self.model):,} "
            f"parameters, vocabulary {len(plan.corpus.vocab)}; {len(plan.train_ids):,} training / "
            f"{len(plan.val_ids):,} validation chars"
        )
        layout = "state carried across windows" if cfg.carry_state else "shuffled windows from a zero state"
        if plan.items is not None:
            layout = (
                f"{len(plan.items):,} items / {len(plan.val_items):,} held out (a random part), "
                f"each from the start state"
            )
        if plan.auto_carry:
            bound = f"{'≥' if cfg.carry_state else '<'} {config_lib.CARRY_MIN_CHARS:,}"
            layout += f" (the default for a text {bound} chars)"
        self.monitor.log(f"training on {layout}")
