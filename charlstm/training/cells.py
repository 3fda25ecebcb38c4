"""LSTM variants as Keras RNN cells: peephole LSTM and CIFG.

Both follow Keras's own `LSTMCell` contract (`state_size`, `build`,
`call(inputs, states, training)`, `get_config`) and are registered serializable
(`charlstm>PeepholeLSTMCell`, `charlstm>CIFGCell`), so a checkpoint that uses them
loads by name in safe mode. Weight layouts match Keras's LSTM (gate blocks side by
side), and `charlstm.sampler.equations` holds the same maths in NumPy for the sampler; tests
check the two agree.

Importing this module imports Keras (through `charlstm.training.tf_runtime`) and registers
the cells: `model.py` and `checkpoint.py` import it only when they build or load a
model, so `import charlstm` and the NumPy-only commands stay TensorFlow-free.

Neither is cuDNN-eligible: on a GPU they run as a generic while-loop, which is
why `lstm` (Keras's fused layer) stays the default.
"""

from __future__ import annotations

from charlstm.training.tf_runtime import keras as _load_keras

keras = _load_keras()
ops = keras.ops


class _GatedCell(keras.layers.Layer):
    """What both cells share: `gates` blocks of `units` in kernel, recurrent_kernel and bias."""

    gates = 4  # gate blocks side by side in the kernels, in `call`'s split order

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]  # h, c
        self.output_size = units

    def bias_blocks(self) -> list:
        """The bias's initial value, block by block (each (units,))."""
        raise NotImplementedError

    def build(self, input_shape):
        g, u = self.gates, self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], g * u), name="kernel", initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(u, g * u), name="recurrent_kernel", initializer="orthogonal")
        self.bias = self.add_weight(
            shape=(g * u,), name="bias", initializer=lambda shape, dtype=None: ops.concatenate(self.bias_blocks())
        )
        self.build_extra()
        self.built = True

    def build_extra(self) -> None:
        """Weights beyond the three shared ones (created after them: names and order stay fixed)."""

    def preactivations(self, inputs, h_tm1):
        """x W + h U + b, split into the gate blocks, each (batch, units)."""
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_tm1, self.recurrent_kernel) + self.bias
        return ops.split(z, self.gates, axis=-1)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="charlstm")
class PeepholeLSTMCell(_GatedCell):
    """LSTM with diagonal peephole connections (Gers & Schmidhuber 2000).

    i = σ(x W_i + h_{t-1} U_i + p_i ⊙ c_{t-1} + b_i)
    f = σ(x W_f + h_{t-1} U_f + p_f ⊙ c_{t-1} + b_f)
    c = f ⊙ c_{t-1} + i ⊙ tanh(x W_c + h_{t-1} U_c + b_c)
    o = σ(x W_o + h_{t-1} U_o + p_o ⊙ c_t + b_o)
    h = o ⊙ tanh(c)
    """

    gates = 4  # i, f, c, o

    def bias_blocks(self):
        # Forget-gate bias 1 (Jozefowicz et al. 2015), as Keras's unit_forget_bias.
        u = self.units
        return [ops.zeros((u,)), ops.ones((u,)), ops.zeros((2 * u,))]

    def build_extra(self):
        # Peepholes start at zero: the cell begins as a plain LSTM and learns to peek.
        for gate in ("i", "f", "o"):
            setattr(
                self,
                f"peephole_{gate}",
                self.add_weight(shape=(self.units,), name=f"peephole_{gate}", initializer="zeros"),
            )

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states  # (batch, units) each
        z_i, z_f, z_c, z_o = self.preactivations(inputs, h_tm1)
        i = ops.sigmoid(z_i + self.peephole_i * c_tm1)
        f = ops.sigmoid(z_f + self.peephole_f * c_tm1)
        c = f * c_tm1 + i * ops.tanh(z_c)
        o = ops.sigmoid(z_o + self.peephole_o * c)
        h = o * ops.tanh(c)
        return h, [h, c]


@keras.saving.register_keras_serializable(package="charlstm")
class CIFGCell(_GatedCell):
    """Coupled input–forget gate LSTM: f = 1 − i (no forget-gate weights).

    i = σ(x W_i + h_{t-1} U_i + b_i)
    c = (1 − i) ⊙ c_{t-1} + i ⊙ tanh(x W_c + h_{t-1} U_c + b_c)
    o = σ(x W_o + h_{t-1} U_o + b_o)
    h = o ⊙ tanh(c)
    """

    gates = 3  # i, c, o

    def bias_blocks(self):
        # Input-gate bias −1 gives f = 1 − σ(−1) ≈ 0.73 at the start: the coupled
        # analogue of the LSTM's forget-gate bias of 1 (remember by default).
        u = self.units
        return [-ops.ones((u,)), ops.zeros((2 * u,))]

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states  # (batch, units) each
        z_i, z_c, z_o = self.preactivations(inputs, h_tm1)
        i = ops.sigmoid(z_i)
        c = (1.0 - i) * c_tm1 + i * ops.tanh(z_c)
        o = ops.sigmoid(z_o)
        h = o * ops.tanh(c)
        return h, [h, c]
