"""The separable convolution block of the reference mobile generators."""

from __future__ import annotations

from tfgancomp.backend import keras, register, tf
from tfgancomp.layers.normalization import InstanceNorm
from tfgancomp.validation import check_choice, check_positive_int

SEPARABLE_NORMS = ("instance", "none")


@register
class SeparableConv(keras.layers.Layer):
    """Depthwise k×k conv → InstanceNorm → pointwise 1×1 conv, as ``SeparableConv2d`` of GAN Compression.

    Unlike ``keras.layers.SeparableConv2D`` it normalizes between the two convolutions, which is what the
    reference mobile ResNet and mobile SPADE generators do.

    Args:
        filters: Output channels of the pointwise convolution.
        kernel_size: Depthwise kernel size (square).
        strides: Depthwise stride.
        padding: Zero padding on each side (PyTorch semantics); 0 when the caller pads (e.g. by reflection).
        norm: ``"instance"`` (reference default) or ``"none"`` between the two convolutions.
        use_bias: Bias on both convolutions.
        **kwargs: Standard Keras layer arguments.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        strides: int = 1,
        padding: int = 0,
        norm: str = "instance",
        use_bias: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_positive_int("SeparableConv filters", filters)
        self.kernel_size = check_positive_int("SeparableConv kernel_size", kernel_size)
        self.strides = check_positive_int("SeparableConv strides", strides)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
            raise ValueError(f"SeparableConv padding must be an integer >= 0, got {padding!r}")
        self.padding = padding
        check_choice("SeparableConv norm", norm, SEPARABLE_NORMS)
        self.norm = norm
        self.use_bias = bool(use_bias)
        # Stride 1 with padding k//2 is exactly Keras "same"; anything else pads explicitly.
        self._same = self.strides == 1 and self.kernel_size % 2 == 1 and padding == self.kernel_size // 2
        self.depthwise = keras.layers.DepthwiseConv2D(
            self.kernel_size,
            strides=self.strides,
            padding="same" if self._same else "valid",
            use_bias=self.use_bias,
            name="depthwise",
        )
        self.inner_norm = InstanceNorm(name="norm") if norm == "instance" else None
        # Identity in float; quantization-aware training swaps in a fake-quant here (the pointwise conv's int8
        # input after the float normalization island; see tfgancomp.quantize).
        self.norm_activation = keras.activations.linear
        self.pointwise = keras.layers.Conv2D(self.filters, 1, use_bias=self.use_bias, name="pointwise")

    def call(self, inputs):
        x = inputs
        if self.padding and not self._same:
            p = self.padding
            x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])
        x = self.depthwise(x)
        if self.inner_norm is not None:
            x = self.norm_activation(self.inner_norm(x))
        return self.pointwise(x)

    def compute_output_shape(self, input_shape):
        def out(n):
            if n is None:
                return None
            return (n + 2 * self.padding - self.kernel_size) // self.strides + 1

        return (input_shape[0], out(input_shape[1]), out(input_shape[2]), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "norm": self.norm,
            "use_bias": self.use_bias,
        }
