"""LSTM variants as Keras RNN cells: peephole LSTM and CIFG.

Both follow Keras's own `LSTMCell` contract (`state_size`, `build`,
`call(inputs, states, training)`, `get_config`) and are registered serializable,
so a checkpoint that uses them loads by name in safe mode. Weight layouts match
Keras's LSTM (gate blocks side by side), and `charlstm.equations` holds the same
maths in NumPy for the sampler; tests check the two agree.

Neither is cuDNN-eligible: on a GPU they run as a generic while-loop, which is
why `lstm` (Keras's fused layer) stays the default.
"""

from __future__ import annotations

from charlstm.tf_runtime import keras as _keras

keras = _keras()
ops = keras.ops


@keras.saving.register_keras_serializable(package="charlstm")
class PeepholeLSTMCell(keras.layers.Layer):
    """LSTM with diagonal peephole connections (Gers & Schmidhuber 2000).

    i = σ(x W_i + h_{t-1} U_i + p_i ⊙ c_{t-1} + b_i)
    f = σ(x W_f + h_{t-1} U_f + p_f ⊙ c_{t-1} + b_f)
    c = f ⊙ c_{t-1} + i ⊙ tanh(x W_c + h_{t-1} U_c + b_c)
    o = σ(x W_o + h_{t-1} U_o + p_o ⊙ c_t + b_o)
    h = o ⊙ tanh(c)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        u = self.units
        self.kernel = self.add_weight(shape=(input_dim, 4 * u), name="kernel",
                                      initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(u, 4 * u), name="recurrent_kernel",
                                                initializer="orthogonal")
        # Forget-gate bias 1 (Jozefowicz et al. 2015), as Keras's unit_forget_bias.
        bias = lambda shape, dtype=None: ops.concatenate(  # noqa: E731
            [ops.zeros((u,)), ops.ones((u,)), ops.zeros((2 * u,))])
        self.bias = self.add_weight(shape=(4 * u,), name="bias", initializer=bias)
        # Peepholes start at zero: the cell begins as a plain LSTM and learns to peek.
        self.peephole_i = self.add_weight(shape=(u,), name="peephole_i", initializer="zeros")
        self.peephole_f = self.add_weight(shape=(u,), name="peephole_f", initializer="zeros")
        self.peephole_o = self.add_weight(shape=(u,), name="peephole_o", initializer="zeros")
        self.built = True

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states  # (batch, units) each
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_tm1, self.recurrent_kernel) + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = ops.sigmoid(z_i + self.peephole_i * c_tm1)
        f = ops.sigmoid(z_f + self.peephole_f * c_tm1)
        c = f * c_tm1 + i * ops.tanh(z_c)
        o = ops.sigmoid(z_o + self.peephole_o * c)
        h = o * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="charlstm")
class CIFGCell(keras.layers.Layer):
    """Coupled input–forget gate LSTM: f = 1 − i (no forget-gate weights).

    i = σ(x W_i + h_{t-1} U_i + b_i)
    c = (1 − i) ⊙ c_{t-1} + i ⊙ tanh(x W_c + h_{t-1} U_c + b_c)
    o = σ(x W_o + h_{t-1} U_o + b_o)
    h = o ⊙ tanh(c)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        input_dim = input_shape[-1]
        u = self.units
        self.kernel = self.add_weight(shape=(input_dim, 3 * u), name="kernel",
                                      initializer="glorot_uniform")
        self.recurrent_kernel = self.add_weight(shape=(u, 3 * u), name="recurrent_kernel",
                                                initializer="orthogonal")
        # Input-gate bias −1 gives f = 1 − σ(−1) ≈ 0.73 at the start: the coupled
        # analogue of the LSTM's forget-gate bias of 1 (remember by default).
        bias = lambda shape, dtype=None: ops.concatenate(  # noqa: E731
            [-ops.ones((u,)), ops.zeros((2 * u,))])
        self.bias = self.add_weight(shape=(3 * u,), name="bias", initializer=bias)
        self.built = True

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_tm1, self.recurrent_kernel) + self.bias
        z_i, z_c, z_o = ops.split(z, 3, axis=-1)
        i = ops.sigmoid(z_i)
        c = (1.0 - i) * c_tm1 + i * ops.tanh(z_c)
        o = ops.sigmoid(z_o)
        h = o * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "units": self.units}
