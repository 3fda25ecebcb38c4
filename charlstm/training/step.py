"""The compiled training and evaluation steps, under a tf.distribute strategy.

One code path for every strategy: on one device the strategy is TensorFlow's
default (one replica, all-reduces are identities); mirrored and multi-worker
strategies run the same replica function on each device and sum across them.
Keras 3's `model.fit` does not work under MultiWorkerMirroredStrategy (TF 2.21 /
Keras 3.15: keras-team/keras#20585), so this is a custom step: GradientTape
through the model's own layers, the Keras optimizer, losses summed over real
targets and divided by the global count.

What the step computes does not depend on how the global batch is split:
- each replica takes a contiguous block of the global rows; a batch whose rows do
  not divide by the replica count gets weight-0 rows at its end (and its carried
  state matching zero rows), which the engine adds and removes itself: callers
  see only real rows, and a checkpoint's carried state does not depend on the
  replica count;
- dropout masks are drawn for the real global rows from a stateless RNG keyed
  by (seed, layer, global step), and each replica keeps its block (so a resumed
  run needs no RNG state, and two workers equal one);
- gradients are summed across replicas first, then clipped by their global norm.

A failed step is classified by `step_failure`: a lost peer or a collective timeout
is worth resuming; any other error would fail again on resume.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charlstm.errors import TrainingError
from charlstm.training import model as model_lib
from charlstm.training.tf_runtime import tensorflow as _tensorflow

INPUT_MASK = 63  # the embeddings' dropout mask's key among the layers' (0 to layers - 1; at most 16)
RESET_MASK = 62  # the key of the mask of rows whose carried state a step resets (TrainConfig.state_reset)

# What TensorFlow raises when a collective cannot complete: Unavailable when a peer is
# unreachable (the health check aborts collectives with it), DeadlineExceeded when a
# collective outlives --collective-timeout, Cancelled/Aborted for the ops that abort took
# down with it. (FailedPrecondition also marks a restarted peer, but it is as likely a bug.)
COLLECTIVE_FAILURES = ("UnavailableError", "DeadlineExceededError", "CancelledError", "AbortedError")


@dataclass
class StepResult:
    loss_sum: float  # summed cross-entropy (nats) over the real targets of the global batch
    stop: bool  # some worker asked to stop (deadline or signal): all stop together


@dataclass
class State:
    """The recurrent state carried from one step to the next, as the replicas hold it."""

    values: list  # per layer, per state tensor: a per-replica (block, units) value over the padded rows
    rows: int  # real global rows; the padded rows after them are the engine's own


class Engine:
    def __init__(
        self,
        model,
        strategy,
        *,
        dropout: float,
        seed: int,
        clip_norm: float,
        loss_scale: bool = False,
        input_dropout: float = 0.0,
        state_reset: float = 0.0,
    ):
        tf = _tensorflow()
        self.tf, self.strategy, self.model = tf, strategy, model
        self.embedding, self.rnn, self.dense = model_lib.parts(model)
        for layer in self.rnn:
            # Checkpoints from before carried state built these without it; the saved
            # graph uses output 0 either way, so switching it on changes nothing saved.
            layer.return_state = True
        self.optimizer = getattr(model, "optimizer", None)  # None: a forward-only engine (tests, eval)
        self.dropout, self.seed, self.clip_norm = dropout, seed, clip_norm
        self.input_dropout = input_dropout
        self.state_reset = state_reset  # TrainConfig.state_reset when the run carries state, else 0
        self.loss_scale = loss_scale  # float16: Keras's LossScaleOptimizer scales and unscales
        self.replicas = strategy.num_replicas_in_sync
        self._train_fn = tf.function(self._train, reduce_retracing=True)
        self._eval_fn = tf.function(self._eval, reduce_retracing=True)

    # --- per-replica values -----------------------------------------------------------------

    def _split(self, array: np.ndarray):
        """Each replica's block of rows of a global (rows, ...) array."""
        block = len(array) // self.replicas

        def value(ctx):
            i = ctx.replica_id_in_sync_group
            return self.tf.constant(array[i * block : (i + 1) * block])

        return self.strategy.experimental_distribute_values_from_function(value)

    def _row0(self, rows: int):
        block = rows // self.replicas
        return self.strategy.experimental_distribute_values_from_function(
            lambda ctx: self.tf.constant(ctx.replica_id_in_sync_group * block, self.tf.int32)
        )

    def pad_rows(self, arrays: tuple) -> tuple:
        """Pad global (rows, ...) arrays with zero rows to a multiple of the replica count
        (zero weights for a batch, zero state for its padded rows)."""
        extra = -len(arrays[0]) % self.replicas
        if not extra:
            return tuple(arrays)
        return tuple(np.concatenate([a, np.zeros((extra, *a.shape[1:]), a.dtype)]) for a in arrays)

    def zero_state(self, rows: int) -> State:
        """Zero initial states for `rows` real global rows."""
        zeros = []
        for layer in self.rnn:
            sizes = layer.cell.state_size
            sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
            zeros.append([np.zeros((rows, int(s)), np.float32) for s in sizes])
        return self.distribute_state(zeros)

    def distribute_state(self, state: list[list[np.ndarray]]) -> State:
        """A carried state of real rows (per layer, (rows, units) arrays), padded and split."""
        rows = len(state[0][0])
        return State([[self._split(s) for s in self.pad_rows(layer)] for layer in state], rows)

    def gather_state(self, state: State) -> list[list[np.ndarray]]:
        """The carried state of the real global rows (a collective: every worker calls it), in
        float32 whatever the compute dtype (a bfloat16 array is no NumPy type: npz stores raw bytes)."""

        def host(s):  # (rows, units) float32
            return np.asarray(self.strategy.gather(s, axis=0))[: state.rows].astype(np.float32)

        return [[host(s) for s in layer] for layer in state.values]

    # --- the model ----------------------------------------------------------------------------

    def _forward(self, x, state, training: bool, step, row0, rows_real):
        """Logits (batch, seq, vocab) in float32 and the final states, from ids (batch, seq)."""
        tf = self.tf
        if training and self.state_reset > 0:
            state = self._reset_rows(state, step, row0, rows_real)
        h = self.embedding(x)  # (batch, seq, emb)
        if training and self.input_dropout > 0:
            h = self._dropout(h, INPUT_MASK, step, row0, rows_real, self.input_dropout)
        new_state = []
        for i, layer in enumerate(self.rnn):
            out = layer(h, initial_state=list(state[i]), training=training)
            h, final = out[0], list(out[1:])  # (batch, seq, units), [(batch, units)...]
            new_state.append(final)
            if training and self.dropout > 0:
                h = self._dropout(h, i, step, row0, rows_real, self.dropout)
        h = tf.cast(h, tf.float32)  # softmax and loss in float32 under mixed precision
        logits = tf.matmul(h, tf.cast(self.dense.kernel, tf.float32)) + tf.cast(self.dense.bias, tf.float32)
        return logits, new_state

    def _real_rows_uniform(self, key: int, step, row0, rows_real, like):
        """Uniform draws shaped like `like` (rows, ...), this replica's rows of them.

        Drawn for the real global rows (rows_real, ...), keyed by seed, `key` and step, so the
        numbers do not depend on the replica count; sliced at this replica's first row; its
        padded rows (weight 0) draw 0."""
        tf = self.tf
        shape = tf.shape(like)
        seed = tf.stack([tf.cast(self.seed, tf.int64) * 64 + key, tf.cast(step, tf.int64)])
        u = tf.random.stateless_uniform(tf.concat([tf.reshape(rows_real, [1]), shape[1:]], 0), seed=seed)
        mine = u[row0 : row0 + shape[0]]  # (≤ rows, ...): the slice stops at the real rows
        pad = [[0, shape[0] - tf.shape(mine)[0]]] + [[0, 0]] * (like.shape.rank - 1)
        # ensure_shape: keeps the static shape, which a 1-row batch would otherwise lose in the
        # broadcast after it, and the next layer's while loop needs it to match its state's.
        return tf.ensure_shape(tf.pad(mine, pad), like.shape)

    def _dropout(self, h, layer_index: int, step, row0, rows_real, rate: float):
        """Inverted dropout of h (batch, seq, units); a replica's padded rows take keep = 0."""
        keep = self.tf.cast(self._real_rows_uniform(layer_index, step, row0, rows_real, h) >= rate, h.dtype)
        return h * keep / self.tf.cast(1.0 - rate, h.dtype)

    def _reset_rows(self, state, step, row0, rows_real):
        """`state` with a `state_reset` fraction of the real global rows zeroed; a replica's
        padded rows (zeros already) are reset too."""
        tf = self.tf
        rows_like = state[0][0][:, 0]  # (rows,): this replica's rows, padded ones included
        u = self._real_rows_uniform(RESET_MASK, step, row0, rows_real, rows_like)
        keep = tf.cast(u >= self.state_reset, tf.float32)[:, None]  # (rows, 1)
        return [[s * tf.cast(keep, s.dtype) for s in layer] for layer in state]

    def _loss_sum(self, logits, y, w):
        xent = self.tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)  # (batch, seq)
        return self.tf.reduce_sum(xent * w)

    # --- steps --------------------------------------------------------------------------------

    def _train(self, x, y, w, state, row0, stop, step, rows_real, total_weight):
        tf = self.tf
        variables = self.model.trainable_variables

        def replica(x, y, w, state, row0, stop):
            with tf.GradientTape() as tape:
                logits, new_state = self._forward(x, state, True, step, row0, rows_real)
                loss_sum = self._loss_sum(logits, y, w)
                loss = loss_sum / total_weight
                if self.loss_scale:
                    loss = self.optimizer.scale_loss(loss)
            # The embedding's gradient comes as IndexedSlices: dense is small (vocab × dim) and sums simply.
            grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
            ctx = tf.distribute.get_replica_context()
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            scale = tf.cast(self.optimizer.dynamic_scale, tf.float32) if self.loss_scale else 1.0
            grads, _ = tf.clip_by_global_norm([g / scale for g in grads], self.clip_norm)
            # Keras's optimizer sums across replicas again: hand each its 1/n share.
            self.optimizer.apply_gradients(zip([g * (scale / self.replicas) for g in grads], variables))
            # identity: a raw per-replica input has no device, and multi-worker all-reduce needs one
            stop = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(stop))
            return loss_sum, new_state, stop

        loss_sum, new_state, stop = self.strategy.run(replica, args=(x, y, w, state, row0, stop))
        reduce = self.strategy.reduce
        return (
            reduce(tf.distribute.ReduceOp.SUM, loss_sum, axis=None),
            new_state,
            reduce(tf.distribute.ReduceOp.SUM, stop, axis=None),
        )

    def _eval(self, x, y, w, state, row0, rows_real):
        def replica(x, y, w, state, row0):
            logits, new_state = self._forward(x, state, False, 0, row0, rows_real)
            return self._loss_sum(logits, y, w), new_state

        loss_sum, new_state = self.strategy.run(replica, args=(x, y, w, state, row0))
        return self.strategy.reduce(self.tf.distribute.ReduceOp.SUM, loss_sum, axis=None), new_state

    def _inputs(self, batch: tuple, state: State | None):
        """The padded batch split over the replicas, its state (zeros when None) and row offsets."""
        rows = len(batch[0])
        state = self.zero_state(rows) if state is None else state
        if state.rows != rows:
            raise ValueError(f"a carried state of {state.rows} rows for a batch of {rows}")
        padded = self.pad_rows(batch)
        x, y, w = (self._split(a) for a in padded)
        return x, y, w, state.values, self._row0(len(padded[0])), self.tf.constant(rows, self.tf.int32)

    def train_step(self, batch: tuple, state: State | None, *, step: int, stop: bool):
        """One optimizer step on a global batch (inputs, targets, weights) of real rows, from
        `state` (None: zeros); returns (StepResult, the final State to carry)."""
        tf = self.tf
        x, y, w, values, row0, rows = self._inputs(batch, state)
        total = float(batch[2].sum())
        flag = self.strategy.experimental_distribute_values_from_function(lambda ctx: tf.constant(1.0 if stop else 0.0))
        loss_sum, new_state, stop_all = self._train_fn(
            x, y, w, values, row0, flag, tf.constant(step, tf.int64), rows, tf.constant(max(total, 1.0), tf.float32)
        )
        return StepResult(float(loss_sum), bool(float(stop_all) > 0)), State(new_state, len(batch[0]))

    def evaluate(self, batches: list[tuple], carry_state: bool) -> float:
        """Mean nats per real target over `batches`, the state carried between them or not."""
        total_loss, total_weight, state = 0.0, 0.0, None
        for batch in batches:
            carry = carry_state
            if len(batch) == 4:  # --items: (inputs, targets, weights, whether the window continues an item)
                batch, carry = batch[:3], batch[3]
            x, y, w, values, row0, rows = self._inputs(batch, state if carry else None)
            loss_sum, new_state = self._eval_fn(x, y, w, values, row0, rows)
            state = State(new_state, len(batch[0]))
            total_loss += float(loss_sum)
            total_weight += float(batch[2].sum())
        return total_loss / max(total_weight, 1.0)


# A line TensorFlow appends to every error of an aborted collective: the reason is above it.
_BOILERPLATE = "The error could be from a previous operation"


def _last_line(message: str) -> str:
    """The line of a TensorFlow error message that says what went wrong, with the node
    it happened at: the last line, unless that is only the `[[{{node ...}}]] [Op:...]` tag
    (or the boilerplate of an aborted collective)."""
    lines = [line.strip() for line in message.splitlines()]
    lines = [line for line in lines if line and not line.startswith(_BOILERPLATE)]
    if not lines:
        return "(no message)"
    last = lines[-1]
    if last.startswith("[[") and len(lines) > 1:
        node = re.search(r"\{\{node ([^}]+)\}\}", last)
        return lines[-2] + (f" (at {node.group(1)})" if node else "")
    return last


def step_failure(error: Exception, *, multi_worker: bool, run_dir: Path) -> TrainingError:
    """The one-line error for a TensorFlow error raised by a training step.

    Only a collective failure on a multi-worker run (a peer gone, a collective timed out)
    is worth a --resume; anything else would fail the same way again."""
    kind = type(error).__name__
    if multi_worker and kind in COLLECTIVE_FAILURES:
        return TrainingError(
            f"a worker stopped answering or failed ({kind} in a collective: {_last_line(str(error))}); the "
            f"chief's last checkpoint in {run_dir} is intact: restart every worker with --resume"
        )
    what = f"the training step failed ({kind}: {_last_line(str(error))})"
    if kind == "ResourceExhaustedError":
        return TrainingError(f"{what}: out of memory; use a smaller --batch-size, --seq-length or model")
    return TrainingError(f"{what}; resuming would fail the same way: please report it as a bug")
