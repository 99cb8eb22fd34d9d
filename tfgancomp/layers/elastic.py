"""Elastic-width layers of once-for-all supernets: the active widths are call arguments, never layer state.

Each layer holds the kernel of its largest width and computes with the leading slice ``K[:, :, :c_in, :c_out]``
(first input channels from the input tensor, first output channels from the ``channels`` argument). Widths may be
int32 scalar tensors, so one ``tf.function`` trace serves every configuration. The weights have the layouts of
the plain Keras layers (``Conv2D``, ``DepthwiseConv2D``, ``Conv2DTranspose``), so a subnet is extracted by
slicing them.
"""

from __future__ import annotations

from tfgancomp.backend import keras, register, tf
from tfgancomp.layers.normalization import spatial_mean
from tfgancomp.validation import check_positive_int


def instance_norm(x, epsilon: float = 1e-5):
    """:class:`~tfgancomp.layers.InstanceNorm` (no affine) on a tensor of any channel count."""
    centered = x - spatial_mean(x)
    return centered * tf.math.rsqrt(spatial_mean(centered * centered) + epsilon)


class _Elastic(keras.layers.Layer):
    def __init__(self, max_in: int, max_out: int, kernel_size: int, strides: int = 1, use_bias: bool = True,
                 padding: str = "valid", **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__} padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding
        self.max_in = check_positive_int(f"{type(self).__name__} max_in", max_in)
        self.max_out = check_positive_int(f"{type(self).__name__} max_out", max_out)
        self.kernel_size = check_positive_int(f"{type(self).__name__} kernel_size", kernel_size)
        self.strides = check_positive_int(f"{type(self).__name__} strides", strides)
        self.use_bias = bool(use_bias)

    def get_config(self):
        return {**super().get_config(), "max_in": self.max_in, "max_out": self.max_out,
                "kernel_size": self.kernel_size, "strides": self.strides, "use_bias": self.use_bias,
                "padding": self.padding}  # fmt: skip


@register
class ElasticConv2D(_Elastic):
    """A ``Conv2D`` whose output width is a call argument.

    Args:
        max_in: Largest input width.
        max_out: Largest output width.
        kernel_size: Square kernel size.
        strides: Stride.
        use_bias: Whether the convolution has a bias.
        padding: ``"valid"`` (callers pad, e.g. by reflection) or ``"same"`` (Keras' zero padding).
        **kwargs: Standard Keras layer arguments.
    """

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k, k, self.max_in, self.max_out),
                                      initializer="glorot_uniform")  # fmt: skip
        self.bias = self.add_weight(name="bias", shape=(self.max_out,), initializer="zeros") if self.use_bias else None
        super().build(input_shape)

    def call(self, inputs, channels=None):
        c_out = self.max_out if channels is None else channels
        c_in = tf.shape(inputs)[-1]
        y = tf.nn.conv2d(inputs, self.kernel[:, :, :c_in, :c_out], self.strides, self.padding.upper())
        return y + self.bias[:c_out] if self.bias is not None else y


@register
class ElasticDepthwiseConv2D(_Elastic):
    """A ``DepthwiseConv2D`` (multiplier 1) over however many channels its input has.

    Args:
        max_in: Largest width (``max_out`` equals it).
        max_out: Must equal ``max_in``.
        kernel_size: Square kernel size.
        strides: Stride.
        use_bias: Whether the convolution has a bias.
        padding: ``"valid"`` or ``"same"``.
        **kwargs: Standard Keras layer arguments.
    """

    def build(self, input_shape):
        k = self.kernel_size
        self.kernel = self.add_weight(name="depthwise_kernel", shape=(k, k, self.max_in, 1),
                                      initializer="glorot_uniform")  # fmt: skip
        self.bias = self.add_weight(name="bias", shape=(self.max_in,), initializer="zeros") if self.use_bias else None
        super().build(input_shape)

    def call(self, inputs, channels=None):
        c = tf.shape(inputs)[-1]
        s = self.strides
        y = tf.nn.depthwise_conv2d(inputs, self.kernel[:, :, :c, :], [1, s, s, 1], self.padding.upper())
        return y + self.bias[:c] if self.bias is not None else y


@register
class ElasticConv2DTranspose(_Elastic):
    """A stride-2 3×3 ``Conv2DTranspose`` cropped to PyTorch's ``padding=1, output_padding=1`` (doubles H, W).

    Args:
        max_in: Largest input width.
        max_out: Largest output width.
        kernel_size: Square kernel size (3 in the generators).
        strides: Stride (2 in the generators).
        use_bias: Whether the convolution has a bias.
        **kwargs: Standard Keras layer arguments (``padding`` must stay ``"valid"``: the crop is fixed).
    """

    def build(self, input_shape):
        if self.padding != "valid":
            raise ValueError(f"ElasticConv2DTranspose {self.name} crops like PyTorch; padding must be 'valid'")
        k = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(k, k, self.max_out, self.max_in),
                                      initializer="glorot_uniform")  # fmt: skip
        self.bias = self.add_weight(name="bias", shape=(self.max_out,), initializer="zeros") if self.use_bias else None
        super().build(input_shape)

    def call(self, inputs, channels=None):
        c_out = self.max_out if channels is None else channels
        shape = tf.shape(inputs)
        s, k = self.strides, self.kernel_size
        out_shape = tf.stack([shape[0], (shape[1] - 1) * s + k, (shape[2] - 1) * s + k, c_out])
        y = tf.nn.conv2d_transpose(inputs, self.kernel[:, :, :c_out, : shape[3]], out_shape, s, "VALID")
        if self.bias is not None:
            y = y + self.bias[:c_out]
        return y[:, 1:, 1:, :]


@register
class ElasticBatchNorm(keras.layers.Layer):
    """Parameter-free ``BatchNormalization`` (``center=False, scale=False``) over however many channels its input has.

    The moving statistics have the largest width; a call uses (and, in training, updates) their leading slice. In
    training the batch statistics normalize and the moving ones follow ``moving·m + batch·(1 − m)``; the momentum
    may be given per call (``momentum=k/(k+1)`` on the ``k``-th of a run of batches makes the moving statistics
    the plain average of those batches — batch-norm recalibration of one configuration). The weights
    (``moving_mean``, ``moving_variance``) have the plain layer's layout, so a subnet takes their slices.

    Args:
        max_channels: Largest width.
        momentum: Default momentum of the moving statistics (0.9, Keras' counterpart of PyTorch's 0.1).
        epsilon: Added to the variance.
        **kwargs: Standard Keras layer arguments.
    """

    def __init__(self, max_channels: int, momentum: float = 0.9, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.max_channels = check_positive_int("ElasticBatchNorm max_channels", max_channels)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"ElasticBatchNorm momentum must be in [0, 1), got {momentum!r}")
        if epsilon <= 0:
            raise ValueError(f"ElasticBatchNorm epsilon must be > 0, got {epsilon!r}")
        self.momentum, self.epsilon = float(momentum), float(epsilon)

    def build(self, input_shape):
        stats = dict(shape=(self.max_channels,), trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
                     aggregation=tf.VariableAggregation.MEAN)  # fmt: skip
        self.moving_mean = self.add_weight(name="moving_mean", initializer="zeros", **stats)
        self.moving_variance = self.add_weight(name="moving_variance", initializer="ones", **stats)
        super().build(input_shape)

    def call(self, inputs, training=None, momentum=None):
        c = tf.shape(inputs)[-1]
        if not training:
            mean, variance = self.moving_mean[:c], self.moving_variance[:c]
        else:
            mean, variance = tf.nn.moments(inputs, axes=[0, 1, 2])
            m = tf.cast(self.momentum if momentum is None else momentum, inputs.dtype)
            for stat, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
                stat.assign(tf.concat([stat[:c] * m + tf.stop_gradient(batch) * (1.0 - m), stat[c:]], axis=0))
        return (inputs - mean) * tf.math.rsqrt(variance + self.epsilon)

    def get_config(self):
        return {**super().get_config(), "max_channels": self.max_channels, "momentum": self.momentum,
                "epsilon": self.epsilon}  # fmt: skip
