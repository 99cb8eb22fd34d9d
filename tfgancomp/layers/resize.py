"""Nearest-neighbour resizing and pooling helpers with PyTorch's pixel alignment."""

from __future__ import annotations

from tfgancomp.backend import keras, register, tf


def resize_nearest(images, size):
    """Nearest-neighbour resize with ``F.interpolate(mode='nearest')`` alignment (source = floor(dst·in/out)).

    Lowers to TFLite RESIZE_NEAREST_NEIGHBOR (align_corners and half_pixel_centers false).
    """
    return tf.raw_ops.ResizeNearestNeighbor(images=images, size=size, align_corners=False, half_pixel_centers=False)


@register
class NearestDownsample(keras.layers.Layer):
    """Downsamples H and W by an integer ``factor`` with nearest-neighbour sampling.

    GauGAN's generator starts from the label map resized to 1/32 of its size; this is that resize.

    Args:
        factor: Integer downsampling factor (>= 1); input H and W must be divisible by it.
        **kwargs: Standard Keras layer arguments.
    """

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        if int(factor) < 1:
            raise ValueError(f"NearestDownsample factor must be a positive integer, got {factor!r}")
        self.factor = int(factor)

    def call(self, inputs):
        if inputs.shape[1] is not None and inputs.shape[2] is not None:
            size = [inputs.shape[1] // self.factor, inputs.shape[2] // self.factor]
        else:
            size = tf.shape(inputs)[1:3] // self.factor
        return resize_nearest(inputs, size)

    def compute_output_shape(self, input_shape):
        h, w = input_shape[1], input_shape[2]
        return (
            input_shape[0],
            None if h is None else h // self.factor,
            None if w is None else w // self.factor,
            input_shape[3],
        )

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@register
class AvgPoolExcludePad(keras.layers.Layer):
    """3×3 stride-2 average pooling with symmetric padding 1, excluding padded cells from the mean.

    Equivalent to ``nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)``, the downsampling between
    the scales of GauGAN's multiscale discriminator (TF's ``SAME`` pooling pads asymmetrically instead).
    """

    def call(self, inputs):
        paddings = [[0, 0], [1, 1], [1, 1], [0, 0]]
        summed = tf.nn.avg_pool2d(tf.pad(inputs, paddings), 3, 2, "VALID")
        ones = tf.ones_like(inputs[..., :1])
        counts = tf.nn.avg_pool2d(tf.pad(ones, paddings), 3, 2, "VALID")
        return summed / counts

    def compute_output_shape(self, input_shape):
        def out(n):
            return None if n is None else (n - 1) // 2 + 1

        return (input_shape[0], out(input_shape[1]), out(input_shape[2]), input_shape[3])
