"""Normalization layers that lower to GPU-delegate-friendly TFLite ops."""

from __future__ import annotations

from tfgancomp.backend import keras, register, tf


def spatial_mean(x):
    """Mean over H and W of an NHWC tensor (keepdims), reduced over W and then over H.

    Two short reductions instead of one over H·W values: float32 runtimes sum a reduction sequentially, and the
    rounding error of one 16 384-term sum (a 128×128 map), divided by a small channel deviation, moved a trained
    128² student's TFLite output 1.8e-4 away from Keras; with W then H (≤ 128 terms each) the two agree to 6e-6.
    Both lower to MEAN, which the GPU delegate and the int8 / int16 kernels accept.
    """
    return tf.reduce_mean(tf.reduce_mean(x, axis=2, keepdims=True), axis=1, keepdims=True)


@register
class InstanceNorm(keras.layers.Layer):
    """Instance normalization over H and W of an NHWC tensor, as ``torch.nn.InstanceNorm2d``.

    Written as ``c = x − mean(x); c · rsqrt(mean(c·c) + ε)`` over H and W (each mean a W then H reduction: see
    :func:`spatial_mean`), so that a batch-1 TFLite export lowers
    to MEAN / SUB / MUL / RSQRT / ADD: all accepted by the GPU delegate (``GroupNormalization`` is not: see
    design.md), and all with int8 *and* int16 kernels (``tf.nn.moments`` emits SQUARED_DIFFERENCE, which has no
    int16 kernel, so int16x8 exports of it fail at run time). Same values as ``tf.nn.moments`` in float.

    Args:
        epsilon: Added to the variance before the square root (PyTorch's default 1e-5).
        affine: Learn a per-channel scale (init 1) and offset (init 0). The reference generators use none.
        **kwargs: Standard Keras layer arguments (``name``, ``dtype``...).
    """

    def __init__(self, epsilon: float = 1e-5, affine: bool = False, **kwargs):
        super().__init__(**kwargs)
        if epsilon <= 0:
            raise ValueError(f"InstanceNorm epsilon must be > 0, got {epsilon!r}")
        self.epsilon = float(epsilon)
        self.affine = bool(affine)
        # Identity in float. The int8 converter computes MEAN in int8 (it passes its input's quantization on), so
        # quantization-aware training fake-quantizes the mean here to match (see tfgancomp.quantize), and sets
        # int8_mean: the mean is then one reduction over H·W, the single int8 MEAN whose result the fake-quant
        # models (split in two, the int8 model rounds the partial means too: 34 dB instead of 41–59 dB vs QAT).
        self.mean_activation = keras.activations.linear
        self.int8_mean = False

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"InstanceNorm expects NHWC input of rank 4, got shape {tuple(input_shape)}")
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("InstanceNorm needs a known channel count (last axis), got None")
        if self.affine:
            self.gamma = self.add_weight(name="gamma", shape=(channels,), initializer="ones")
            self.beta = self.add_weight(name="beta", shape=(channels,), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs):
        mean = tf.reduce_mean(inputs, axis=[1, 2], keepdims=True) if self.int8_mean else spatial_mean(inputs)
        centered = inputs - self.mean_activation(mean)
        variance = spatial_mean(centered * centered)
        out = centered * tf.math.rsqrt(variance + self.epsilon)
        if self.affine:
            out = out * self.gamma + self.beta
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "affine": self.affine}
