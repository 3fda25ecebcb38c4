"""The compiled training and evaluation steps, under a tf.distribute strategy.

One code path for every strategy: on one device the strategy is TensorFlow's
default (one replica, all-reduces are identities); mirrored and multi-worker
strategies run the same replica function on each device and sum across them.
Keras 3's `model.fit` does not work under MultiWorkerMirroredStrategy (TF 2.21 /
Keras 3.15: keras-team/keras#20585), so this is a custom step: GradientTape
through the model's own layers, the Keras optimizer, losses summed over real
targets and divided by the global count.

What the step computes does not depend on how the global batch is split:
- each replica takes a contiguous block of the global rows;
- dropout masks are drawn for the whole global batch from a stateless RNG keyed
  by (seed, layer, global step), and each replica keeps its block (so a resumed
  run needs no RNG state, and two workers equal one);
- gradients are summed across replicas first, then clipped by their global norm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charlstm import model as model_lib
from charlstm.tf_runtime import tensorflow as _tensorflow


@dataclass
class StepResult:
    loss_sum: float  # summed cross-entropy (nats) over the real targets of the global batch
    stop: bool  # some worker asked to stop (deadline or signal): all stop together


class Engine:
    def __init__(self, model, strategy, *, dropout: float, seed: int, clip_norm: float, loss_scale: bool = False):
        tf = _tensorflow()
        self.tf, self.strategy, self.model = tf, strategy, model
        self.embedding, self.rnn, self.dense = model_lib.parts(model)
        for layer in self.rnn:
            # Checkpoints from before carried state built these without it; the saved
            # graph uses output 0 either way, so switching it on changes nothing saved.
            layer.return_state = True
        self.optimizer = getattr(model, "optimizer", None)  # None: a forward-only engine (tests, eval)
        self.dropout, self.seed, self.clip_norm = dropout, seed, clip_norm
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

    def pad_rows(self, batch: tuple) -> tuple:
        """Pad a global batch with weight-0 rows to a multiple of the replica count."""
        rows = len(batch[0])
        extra = -rows % self.replicas
        if not extra:
            return batch
        return tuple(np.concatenate([a, np.zeros((extra, *a.shape[1:]), a.dtype)]) for a in batch)

    def zero_state(self, rows: int):
        """Zero initial states for `rows` global rows: per layer, a list of (rows, units)."""
        zeros = []
        for layer in self.rnn:
            sizes = layer.cell.state_size
            sizes = list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]
            zeros.append([np.zeros((rows, int(s)), np.float32) for s in sizes])
        return self.distribute_state(zeros)

    def distribute_state(self, state: list[list[np.ndarray]]):
        return [[self._split(s) for s in layer] for layer in state]

    def gather_state(self, state) -> list[list[np.ndarray]]:
        """The carried state of all global rows (a collective: every worker calls it)."""
        return [[np.asarray(self.strategy.gather(s, axis=0)) for s in layer] for layer in state]

    # --- the model ----------------------------------------------------------------------------

    def _forward(self, x, state, training: bool, step, row0, rows_global):
        """Logits (batch, seq, vocab) in float32 and the final states, from ids (batch, seq)."""
        tf = self.tf
        h = self.embedding(x)  # (batch, seq, emb)
        new_state = []
        for i, layer in enumerate(self.rnn):
            out = layer(h, initial_state=list(state[i]), training=training)
            h, final = out[0], list(out[1:])  # (batch, seq, units), [(batch, units)...]
            new_state.append(final)
            if training and self.dropout > 0:
                h = self._dropout(h, i, step, row0, rows_global)
        h = tf.cast(h, tf.float32)  # softmax and loss in float32 under mixed precision
        logits = tf.matmul(h, tf.cast(self.dense.kernel, tf.float32)) + tf.cast(self.dense.bias, tf.float32)
        return logits, new_state

    def _dropout(self, h, layer_index: int, step, row0, rows_global):
        """Inverted dropout with the global batch's mask, this replica's rows of it."""
        tf = self.tf
        shape = tf.shape(h)  # (batch, seq, units)
        seed = tf.stack([tf.cast(self.seed, tf.int64) * 64 + layer_index, tf.cast(step, tf.int64)])
        u = tf.random.stateless_uniform(tf.stack([rows_global, shape[1], shape[2]]), seed=seed)
        keep = tf.cast(u[row0 : row0 + shape[0]] >= self.dropout, h.dtype)
        return h * keep / tf.cast(1.0 - self.dropout, h.dtype)

    def _loss_sum(self, logits, y, w):
        xent = self.tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)  # (batch, seq)
        return self.tf.reduce_sum(xent * w)

    # --- steps --------------------------------------------------------------------------------

    def _train(self, x, y, w, state, row0, stop, step, rows_global, total_weight):
        tf = self.tf
        variables = self.model.trainable_variables

        def replica(x, y, w, state, row0, stop):
            with tf.GradientTape() as tape:
                logits, new_state = self._forward(x, state, True, step, row0, rows_global)
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

    def _eval(self, x, y, w, state, row0, rows_global):
        def replica(x, y, w, state, row0):
            logits, new_state = self._forward(x, state, False, 0, row0, rows_global)
            return self._loss_sum(logits, y, w), new_state

        loss_sum, new_state = self.strategy.run(replica, args=(x, y, w, state, row0))
        return self.strategy.reduce(self.tf.distribute.ReduceOp.SUM, loss_sum, axis=None), new_state

    def train_step(self, batch: tuple, state, *, step: int, stop: bool):
        """One optimizer step on a global batch (inputs, targets, weights); returns
        (StepResult, the final states to carry)."""
        tf = self.tf
        batch = self.pad_rows(batch)
        rows = len(batch[0])
        x, y, w = (self._split(a) for a in batch)
        total = float(batch[2].sum())
        flag = self.strategy.experimental_distribute_values_from_function(lambda ctx: tf.constant(1.0 if stop else 0.0))
        loss_sum, new_state, stop_all = self._train_fn(
            x,
            y,
            w,
            state,
            self._row0(rows),
            flag,
            tf.constant(step, tf.int64),
            tf.constant(rows, tf.int32),
            tf.constant(max(total, 1.0), tf.float32),
        )
        return StepResult(float(loss_sum), bool(float(stop_all) > 0)), new_state

    def evaluate(self, batches: list[tuple], carry_state: bool) -> float:
        """Mean nats per real target over `batches`, the state carried between them or not."""
        total_loss, total_weight, state = 0.0, 0.0, None
        for batch in batches:
            batch = self.pad_rows(batch)
            rows = len(batch[0])
            if state is None or not carry_state:
                state = self.zero_state(rows)
            x, y, w = (self._split(a) for a in batch)
            loss_sum, state = self._eval_fn(x, y, w, state, self._row0(rows), self.tf.constant(rows, self.tf.int32))
            total_loss += float(loss_sum)
            total_weight += float(batch[2].sum())
        return total_loss / max(total_weight, 1.0)
